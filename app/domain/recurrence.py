"""Weekly series (R5, R9): occurrences keep their local wall-clock time across daylight-saving changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MIN_OCCURRENCES = 1
MAX_OCCURRENCES = 52
INTERVALS = (1, 2)


def to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time.

    A time skipped by a spring-forward change (02:30 on the change day) lands where a wall clock
    would read it (03:30); a repeated time (fall back) means its first occurrence (PEP 495 fold=0).
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_parts(instant: datetime, zone: ZoneInfo) -> tuple[date, time]:
    local = instant.astimezone(zone)
    return local.date(), local.time().replace(tzinfo=None)


@dataclass(frozen=True)
class SeriesRule:
    first_day: date
    start_time: time
    zone: str
    interval_weeks: int = 1
    occurrences: int = 6

    def problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.interval_weeks not in INTERVALS:
            found["interval_weeks"] = "Repeat every 1 or 2 weeks."
        if not MIN_OCCURRENCES <= self.occurrences <= MAX_OCCURRENCES:
            found["occurrences"] = f"Book between {MIN_OCCURRENCES} and {MAX_OCCURRENCES} sessions."
        return found


def expand(rule: SeriesRule) -> list[datetime]:
    """Start instants (UTC) of every occurrence, each at the same local time as the first."""
    zone = ZoneInfo(rule.zone)
    return [
        to_utc(rule.first_day + timedelta(weeks=index * rule.interval_weeks), rule.start_time, zone)
        for index in range(rule.occurrences)
    ]


def next_week(starts_at: datetime, zone_name: str, weeks: int = 1) -> datetime:
    """The same weekday and local time ``weeks`` later ("Book next")."""
    zone = ZoneInfo(zone_name)
    day, at = local_parts(starts_at, zone)
    return to_utc(day + timedelta(weeks=weeks), at, zone)


OUTSIDE_HOURS = "Outside your working hours"


@dataclass(frozen=True)
class DateCheck:
    """What a series preview found for one date. A clash (another session, another date of the
    series) or an impossible time blocks booking and needs a choice: skip, move or allow overlap.
    Outside working hours is a note: the therapist may well mean it, and it books as it is."""

    skipped: bool = False
    clashes: int = 0
    problem: str = ""
    outside_hours: bool = False

    @property
    def needs_choice(self) -> bool:
        return not self.skipped and bool(self.problem or self.clashes)

    @property
    def note(self) -> str:
        return OUTSIDE_HOURS if not self.skipped and self.outside_hours else ""


@dataclass(frozen=True)
class PreviewSummary:
    """The preview's one line: how many to book, how many need a choice, and quiet notes."""

    to_book: int
    skipped: int
    need_choice: int
    notes: int

    @property
    def choice_text(self) -> str:
        """ "2 dates need a choice." in bold, or "No clashes." """
        if not self.need_choice:
            return "No clashes."
        one = self.need_choice == 1
        return f"{self.need_choice} date{'' if one else 's'} need{'s' if one else ''} a choice."

    @property
    def note_text(self) -> str:
        return f"{self.notes} outside your working hours." if self.notes else ""


def preview_summary(checks: Sequence[DateCheck]) -> PreviewSummary:
    return PreviewSummary(
        to_book=sum(not c.skipped for c in checks),
        skipped=sum(c.skipped for c in checks),
        need_choice=sum(c.needs_choice for c in checks),
        notes=sum(bool(c.note) for c in checks),
    )
