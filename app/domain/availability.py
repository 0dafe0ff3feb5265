"""Free slots for booking: working hours minus appointments, buffers, notice and horizon (R5, R9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.recurrence import to_utc
from app.domain.validation import is_digits


@dataclass(frozen=True)
class WorkingRange:
    weekday: int  # 0 = Monday
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class Busy:
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class SlotRules:
    session_minutes: int
    buffer_minutes: int = 0
    min_notice_hours: int = 0
    horizon_days: int = 60
    step_minutes: int = 15


def merged_ranges(ranges: list[WorkingRange], weekday: int) -> list[tuple[int, int]]:
    """A weekday's working ranges with overlapping or touching ranges joined."""
    spans = sorted(
        (r.start_minute, r.end_minute)
        for r in ranges
        if r.weekday == weekday and r.end_minute > r.start_minute
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clashes(start: datetime, end: datetime, busy: list[Busy], buffer: timedelta) -> bool:
    return any(start < b.ends_at + buffer and b.starts_at - buffer < end for b in busy)


def within_working_hours(start: datetime, end: datetime, ranges: list[WorkingRange], zone_name: str) -> bool:
    zone = ZoneInfo(zone_name)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() != local_end.date() and local_end.time() != time(0):
        return False
    start_minute = local_start.hour * 60 + local_start.minute
    end_minute = start_minute + int((end - start).total_seconds() // 60)
    return any(s <= start_minute and end_minute <= e for s, e in merged_ranges(ranges, local_start.weekday()))


def free_slots(
    ranges: list[WorkingRange],
    busy: list[Busy],
    rules: SlotRules,
    zone_name: str,
    now: datetime,
    *,
    days: int | None = None,
) -> list[datetime]:
    """Start instants (UTC, ascending) of every bookable slot from now to the horizon."""
    zone = ZoneInfo(zone_name)
    earliest = now + timedelta(hours=rules.min_notice_hours)
    latest = now + timedelta(days=rules.horizon_days)
    length, buffer, step = (
        timedelta(minutes=m) for m in (rules.session_minutes, rules.buffer_minutes, rules.step_minutes)
    )
    first_day: date = now.astimezone(zone).date()
    span = min(days if days is not None else rules.horizon_days, rules.horizon_days) + 1
    slots: list[datetime] = []
    for offset in range(span):
        day = first_day + timedelta(days=offset)
        for start_minute, end_minute in merged_ranges(ranges, day.weekday()):
            minute = start_minute
            while minute + rules.session_minutes <= end_minute:
                start = to_utc(day, time(minute // 60, minute % 60), zone)
                end = start + length
                if earliest <= start and start <= latest and not _clashes(start, end, busy, buffer):
                    slots.append(start)
                minute += rules.step_minutes
    return sorted(set(slots))


def is_free(
    start: datetime,
    ranges: list[WorkingRange],
    busy: list[Busy],
    rules: SlotRules,
    zone_name: str,
    now: datetime,
) -> bool:
    """Whether one proposed start is still a bookable slot (for a submitted, possibly tampered, value)."""
    if start.tzinfo is None:
        return False
    start = start.astimezone(UTC)
    return start in free_slots(ranges, busy, rules, zone_name, now)


def parse_day_ranges(text: str, weekday: int) -> tuple[list[WorkingRange], str | None]:
    """Working ranges typed for one weekday, like ``09:00-12:00, 13:00-17:30``; blank means a day off.

    Returns the ranges (overlaps are allowed: slots use the merged ranges) or a message for the field.
    """
    ranges: list[WorkingRange] = []
    for part in [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]:
        pieces = [x.strip() for x in part.replace("–", "-").split("-")]
        if len(pieces) != 2:
            return [], f"Write “{part}” as a start and end, like 09:00-12:00."
        minutes = [_clock_minutes(x) for x in pieces]
        if None in minutes:
            return [], f"Write the times in “{part}” as HH:MM, like 09:00-12:00."
        start, end = minutes
        if end == 0:
            end = 24 * 60
        if end <= start:
            return [], f"In “{part}” the end must be after the start."
        ranges.append(WorkingRange(weekday, start, end))
    if len(ranges) > 8:
        return [], "At most 8 ranges a day."
    return ranges, None


def _clock_minutes(text: str) -> int | None:
    hours, _, minutes = text.partition(":")
    if not (is_digits(hours) and (is_digits(minutes) or minutes == "")) or len(hours) > 2 or len(minutes) > 2:
        return None
    hour, minute = int(hours), int(minutes or 0)
    if hour > 23 or minute > 59:
        return None
    return hour * 60 + minute


def format_day_ranges(ranges: list[WorkingRange], weekday: int) -> str:
    """The inverse of ``parse_day_ranges``, for prefilling the settings form."""
    spans = sorted((r.start_minute, r.end_minute) for r in ranges if r.weekday == weekday)
    return ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans)


@dataclass(frozen=True)
class CancelRule:
    """Whether a client may still cancel a session online, and until when (the practice's window)."""

    allowed: bool
    deadline: datetime
    window_hours: int


def cancel_rule(starts_at: datetime, window_hours: int, now: datetime) -> CancelRule:
    deadline = starts_at - timedelta(hours=window_hours)
    return CancelRule(now < deadline, deadline, window_hours)
