"""When a saved card expires and when its holder is warned: a card is good through the last day of its
expiry month, and the client is warned from the first day of that month (28 to 31 days ahead), once per
expiry."""

from __future__ import annotations

from datetime import UTC, datetime


def expires_at(exp_month: int, exp_year: int) -> datetime:
    """The first moment the card no longer works: the start of the month after its expiry month (UTC)."""
    if exp_month >= 12:
        return datetime(exp_year + 1, 1, 1, tzinfo=UTC)
    return datetime(exp_year, exp_month + 1, 1, tzinfo=UTC)


def warning_due(exp_month: int, exp_year: int, now: datetime) -> bool:
    """Whether ``now`` falls in the card's expiry month (it still works, but not for long)."""
    return datetime(exp_year, exp_month, 1, tzinfo=UTC) <= now < expires_at(exp_month, exp_year)


def expiry_text(exp_month: int, exp_year: int) -> str:
    """ "04/2032", as printed on the card."""
    return f"{exp_month:02d}/{exp_year}"
