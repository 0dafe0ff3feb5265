"""Appointment rules: the status state machine (R3) and overlap detection."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.statuses import AppointmentStatus as S

# Statuses that say something about a session that has started: only once the start time has passed.
NEEDS_START_PASSED = frozenset({S.OCCURRED, S.NO_SHOW, S.LATE_CANCELLED})

# Every status can be corrected to every other one (a clinician fixes a wrong tap); the only rule is
# about time. Kept as an explicit table so a future restriction is a one-line change.
TRANSITIONS: dict[S, frozenset[S]] = {status: frozenset(S) - {status} for status in S}


ARCHIVED_CLIENT_OCCURRED = (
    "This client is archived, and archived clients are never charged. "
    "Restore them to active clients first if this session should be charged."
)


def transition_problem(
    current: str, new: str, *, starts_at: datetime, now: datetime, client_archived: bool = False
) -> str | None:
    """Why ``current`` -> ``new`` is not allowed now, or None when it is.

    An archived client's sessions can't be marked Occurred: Occurred is what schedules a charge, and
    an archived client is never charged (restoring the client is the explicit way back).
    """
    try:
        old_status, new_status = S(current), S(new)
    except ValueError:
        return "That isn't a status an appointment can have."
    if new_status == old_status:
        return f"The appointment is already {new_status.label}."
    if new_status not in TRANSITIONS[old_status]:
        return f"An appointment can't go from {old_status.label} to {new_status.label}."
    if new_status in NEEDS_START_PASSED and now < starts_at:
        return f"{new_status.label} can only be set once the session has started."
    if new_status == S.OCCURRED and client_archived:
        return ARCHIVED_CLIENT_OCCURRED
    return None


def client_late_cancel_problem(current: str, *, starts_at: datetime, now: datetime) -> str | None:
    """Why the client can't late-cancel now (R4): only a Scheduled session that has not started."""
    if current != S.SCHEDULED or now >= starts_at:
        return "This session can't be cancelled any more."
    return None


def overlaps(start: datetime, end: datetime, other_start: datetime, other_end: datetime) -> bool:
    """True when two time ranges share any time; ranges that only touch at an edge do not overlap."""
    return start < other_end and other_start < end


# Statuses whose time slot is taken on the calendar (a cancelled session frees its slot).
OCCUPIES_SLOT = frozenset({S.SCHEDULED, S.OCCURRED, S.NO_SHOW, S.LATE_CANCELLED})


# Statuses that mean the session is off: the client's calendar shows the event as cancelled.
CALLED_OFF = frozenset({S.CANCELLED, S.LATE_CANCELLED})


class Notice(StrEnum):
    """What the client is told about a session (the email kind is ``sessions_<value>``)."""

    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"
    REMINDER = "reminder"


def status_notice(old: str, new: str) -> Notice | None:
    """What a status change tells the client: called off, back on, or nothing (Occurred, No-show and
    corrections between the two cancelled statuses are the clinician's records, not news for the client)."""
    if new in CALLED_OFF and old not in CALLED_OFF:
        return Notice.CANCELLED
    if old in CALLED_OFF and new == S.SCHEDULED:
        return Notice.BOOKED
    return None


# What kind of session an appointment is; an intro is the short first meeting (R7).
KINDS = {"regular": "Session", "intro": "Intro session"}


def initials(name: str) -> str:
    """'Alex Rivera' -> 'A.R.' for the calendar's privacy mode."""
    parts = [part for part in (name or "").replace("-", " ").split() if part[:1].isalpha()]
    return "".join(f"{part[0].upper()}." for part in parts[:3]) or "Client"


def clash_message(clashes: list[tuple[str, datetime, datetime]], zone: ZoneInfo) -> str:
    """Name the appointments a new time would overlap: 'This overlaps Alex Rivera, Mon 30 Nov 09:00–09:50.'"""
    described = [
        f"{name}, {start.astimezone(zone):%a %-d %b %H:%M}–{end.astimezone(zone):%H:%M}"
        for name, start, end in clashes[:3]
    ]
    more = f" and {len(clashes) - 3} more" if len(clashes) > 3 else ""
    return (
        f"This overlaps {'; '.join(described)}{more}. Choose another time, or tick “Allow overlap” to "
        "double-book on purpose."
    )
