"""Session reminders: the practice's offsets (hours before a session) and which reminder is due now.

A reminder is due once its moment (start minus offset) has passed and the session has not started.
When several moments have passed (the sweep was held up), only the latest is sent: the client gets the
reminder that is true now, not a string of late ones. A moment that passed before the session was
booked is skipped: the booking confirmation told the client then.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class LogLine:
    """One line of a session's delivery log, as the practice reads it."""

    at: datetime
    text: str
    failed: bool = False


def reminder_log(
    hours_before: int, written_at: datetime, sent_at: datetime | None, stopped_at: datetime | None, error: str
) -> list[LogLine]:
    """A reminder's lines: queued, then sent, stopped (a bounced address, the session changed) or failing."""
    name = f"Reminder ({hours_before} h before)"
    lines = [LogLine(written_at, f"{name} queued")]
    if sent_at is not None:
        lines.append(LogLine(sent_at, f"{name} sent"))
    elif stopped_at is not None:
        lines.append(LogLine(stopped_at, f"{name}: {error}", failed=True))
    elif error:
        lines.append(LogLine(written_at, f"{name} not sent yet: {error}", failed=True))
    return lines


CLIENT_EVENTS = {"appointment_confirmed": "Confirmed by the client", "appointment_checked_in": "Checked in"}


def delivery_log(reminders: list[list[LogLine]], events: list[tuple[str, datetime]]) -> list[LogLine]:
    """Reminders' lines and the client's confirmations and check-ins, oldest first."""
    lines = [line for reminder in reminders for line in reminder]
    lines += [LogLine(at, CLIENT_EVENTS[action]) for action, at in events if action in CLIENT_EVENTS]
    return sorted(lines, key=lambda line: line.at)
