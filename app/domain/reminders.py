"""Session reminders: the practice's offsets (hours before a session) and which reminder is due now.

A reminder is due once its moment (start minus offset) has passed and the session has not started.
When several moments have passed (the sweep was held up), only the latest is sent: the client gets the
reminder that is true now, not a string of late ones. A moment that passed before the session was
booked is skipped: the booking confirmation told the client then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.domain.validation import is_digits

DEFAULT_HOURS = (48, 2)
MAX_HOURS = 24 * 14
MAX_REMINDERS = 3


def parse_hours(text: str) -> tuple[list[int], str | None]:
    """'48, 2' -> ([48, 2], None); blank -> no reminders; otherwise ([], why not)."""
    parts = [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]
    if len(parts) > MAX_REMINDERS:
        return [], f"At most {MAX_REMINDERS} reminders."
    hours: set[int] = set()
    for part in parts:
        if not is_digits(part) or len(part) > 4:
            return [], "Enter whole hours separated by commas, like 48, 2."
        value = int(part)
        if not 1 <= value <= MAX_HOURS:
            return [], f"Each reminder must be between 1 and {MAX_HOURS} hours before."
        hours.add(value)
    return sorted(hours, reverse=True), None


def format_hours(hours: list[int]) -> str:
    return ", ".join(str(h) for h in sorted(hours, reverse=True))


def due_reminder(starts_at: datetime, booked_at: datetime, hours: list[int], now: datetime) -> int | None:
    """The offset (hours) whose reminder should go now, or None."""
    if now >= starts_at:
        return None
    passed = [h for h in hours if starts_at - timedelta(hours=h) <= now]
    if not passed:
        return None
    latest = min(passed)
    return latest if starts_at - timedelta(hours=latest) >= booked_at else None
