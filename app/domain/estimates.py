"""Good Faith Estimates for self-pay clients (No Surprises Act; R16): deadlines in business days,
what an estimate covers, and when billed amounts approach the $400 over which a bill can be disputed.

Business days are Monday to Friday except US federal holidays (as observed, from the ``holidays``
package).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

DISPUTE_MARGIN_MINOR = 40000  # a bill at least $400 over the estimate can be disputed
HORIZON_DAYS = 365  # recurring care may be estimated for up to 12 months


@cache
def federal_holidays():
    """The US federal holidays calendar, built on first use (importing ``holidays`` is slow)."""
    import holidays

    return holidays.US()


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in federal_holidays()


def add_business_days(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def business_days_between(start: date, end: date) -> int:
    """Business days after ``start`` up to and including ``end``."""
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        days += is_business_day(day)
    return days


def due_by(scheduled_on: date, first_session_on: date, *, requested: bool = False) -> date | None:
    """The last day an estimate may be given: 3 business days after a request, or after scheduling
    when the service is 10 or more business days away; 1 business day when it is 3 or more away.
    None when it is closer than that (then it is given at once, with no separate deadline)."""
    ahead = business_days_between(scheduled_on, first_session_on)
    if requested or ahead >= 10:
        return add_business_days(scheduled_on, 3)
    if ahead >= 3:
        return add_business_days(scheduled_on, 1)
    return None


@dataclass(frozen=True)
class PlannedSession:
    appointment_id: int
    day: date
    fee_minor: int


def plan_fingerprint(sessions: list[PlannedSession]) -> str:
    """What an estimate was made from: its sessions and their fees. A change of fee or plan (a session
    added or cancelled) changes it and calls for a new estimate; a moved session does not."""
    ordered = sorted(sessions, key=lambda s: s.appointment_id)
    return ",".join(f"{s.appointment_id}:{s.fee_minor}" for s in ordered)


def within_horizon(sessions: list[PlannedSession], start: date) -> list[PlannedSession]:
    end = start + timedelta(days=HORIZON_DAYS)
    return sorted((s for s in sessions if start <= s.day < end), key=lambda s: (s.day, s.appointment_id))


def warning(estimated_minor: int, billed_minor: int, next_fee_minor: int = 0) -> str:
    """'' while billing is well inside the estimate; 'approaching' once the next session would bring
    billed amounts to the estimate plus $400; 'over' once they are there (the client may dispute)."""
    limit = estimated_minor + DISPUTE_MARGIN_MINOR
    if billed_minor >= limit:
        return "over"
    if billed_minor + next_fee_minor >= limit:
        return "approaching"
    return ""
