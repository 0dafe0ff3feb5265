"""The clinician's evening summary: from 18:00 in the practice's zone, tomorrow's sessions with whether
each client confirmed, and the charges that will be taken in the next 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SUMMARY_HOUR = 18


def summary_day(now: datetime, zone: ZoneInfo) -> date | None:
    """The local date whose evening it is (from 18:00 until midnight), or None earlier in the day."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= SUMMARY_HOUR else None


def tomorrow_of(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end of the day after ``day``, in the practice's zone."""
    starts = datetime.combine(day + timedelta(days=1), time(), zone)
    return starts, datetime.combine(day + timedelta(days=2), time(), zone)


@dataclass(frozen=True)
class SummaryLine:
    """One line of the summary, with the page where the clinician can act on it."""

    text: str
    url: str
    attention: bool = False  # not confirmed yet


def session_line(starts_at: datetime, zone: ZoneInfo, name: str, confirmed: bool) -> tuple[str, bool]:
    """'09:00 Alex Kim: confirmed' or '… not confirmed yet' (and whether it needs attention)."""
    word = "confirmed" if confirmed else "not confirmed yet"
    return f"{starts_at.astimezone(zone):%H:%M} {name}: {word}", not confirmed
