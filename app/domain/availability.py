"""Free slots for booking: working hours minus appointments, buffers, notice and horizon (R5, R9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.recurrence import to_utc


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
