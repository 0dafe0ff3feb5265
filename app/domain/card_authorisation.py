"""The authorisation a client gives when saving a card for later charges (kept with its version)."""

from __future__ import annotations

VERSION = "2026-12-02"


def authorisation_text(practice_names: list[str]) -> str:
    """The words the client agrees to by saving a card; ``VERSION`` changes whenever they do."""
    names = sorted({name for name in practice_names if name}) or ["Your therapy practice"]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return (
        f"{who} may charge this card for sessions marked attended, 48 hours later, "
        "and for fees under its policy."
    )
