"""The calendar's arithmetic (R9): which days a view shows, and where an appointment sits on them.

Everything is in the clinician's time zone: a day is local midnight to local midnight (23 or 25 hours
on a daylight-saving change), and an appointment is placed by its local wall-clock start. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.validation import year_problem

# The part of the day a time grid shows unless an appointment falls outside it.
DAY_START_HOUR = 8
DAY_END_HOUR = 19
# How far from today the calendar and booking accept dates ("far past/future" is a typo, not a plan).
MAX_YEARS_AWAY = 5
BOOKING_MAX_DAYS_PAST = 365
BOOKING_MAX_DAYS_AHEAD = 2 * 365
MAX_SESSION_MINUTES = 8 * 60
# A shorter session is drawn this long on a time grid: at 4rem an hour that is 48 px, a finger-sized
# target with room for the name and status. Lanes and the grid's hours count this drawn length.
MIN_SHOWN_MINUTES = 45


class View(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class VisibleRange:
    """The local days a view shows and the UTC instants that bound them (end exclusive)."""

    view: View
    anchor: date
    days: tuple[date, ...]
    starts_at: datetime
    ends_at: datetime

    @property
    def previous(self) -> date:
        return shift(self.view, self.anchor, -1)

    @property
    def next(self) -> date:
        return shift(self.view, self.anchor, 1)

    @property
    def title(self) -> str:
        first, last = self.days[0], self.days[-1]
        if self.view == View.DAY:
            return self.anchor.strftime("%A %-d %B %Y")
        if self.view == View.MONTH:
            return self.anchor.strftime("%B %Y")
        if first.month == last.month:
            return f"{first.day}–{last.day} {last.strftime('%B %Y')}"
        if first.year == last.year:
            return f"{first.strftime('%-d %b')} – {last.strftime('%-d %b %Y')}"
        return f"{first.strftime('%-d %b %Y')} – {last.strftime('%-d %b %Y')}"


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def visible_range(view: View, anchor: date, zone: ZoneInfo) -> VisibleRange:
    """Days shown by ``view`` around ``anchor``: the day; its Monday-first week; or the full weeks of
    its month (a month grid starts on the Monday on or before the 1st and ends on a Sunday)."""
    if view == View.DAY:
        first, count = anchor, 1
    elif view == View.WEEK:
        first, count = anchor - timedelta(days=anchor.weekday()), 7
    else:
        month_start = anchor.replace(day=1)
        first = month_start - timedelta(days=month_start.weekday())
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        last = next_month - timedelta(days=1)
        last += timedelta(days=6 - last.weekday())
        count = (last - first).days + 1
    days = tuple(first + timedelta(days=offset) for offset in range(count))
    return VisibleRange(
        view=view,
        anchor=anchor,
        days=days,
        starts_at=local_midnight(days[0], zone),
        ends_at=local_midnight(days[-1] + timedelta(days=1), zone),
    )


def shift(view: View, anchor: date, steps: int) -> date:
    """The anchor of the previous (-1) or next (+1) page of ``view``."""
    if view == View.DAY:
        return anchor + timedelta(days=steps)
    if view == View.WEEK:
        return anchor + timedelta(weeks=steps)
    month_index = anchor.year * 12 + anchor.month - 1 + steps
    return date(month_index // 12, month_index % 12 + 1, 1)


def parse_day(text: str | None, *, today: date) -> tuple[date, str | None]:
    """A ``YYYY-MM-DD`` date near ``today``; otherwise today and a message saying why."""
    if not text:
        return today, None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return today, "We couldn't read that date; showing today instead. Use a date like 2026-12-01."
    if abs(day.year - today.year) > MAX_YEARS_AWAY:
        return today, f"Choose a date within {MAX_YEARS_AWAY} years of today; showing today instead."
    return day, None


def parse_view(text: str | None, default: View) -> View:
    try:
        return View((text or "").strip().lower())
    except ValueError:
        return default


def parse_local_start(day_text: str, time_text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """A local date and ``HH:MM`` time in ``zone`` as a UTC instant, or None and a message.

    A time skipped by a daylight-saving change (e.g. 02:30 on the spring-forward night) does not
    exist and is refused; a repeated time (the fall-back hour) means its first occurrence.
    """
    try:
        day = date.fromisoformat((day_text or "").strip())
    except ValueError:
        return None, "Enter the date like 2026-12-01."
    problem = year_problem(day.year)
    if problem:
        return None, problem
    try:
        clock_time = time.fromisoformat((time_text or "").strip())
    except ValueError:
        return None, "Enter the time like 09:30."
    naive = datetime.combine(day, clock_time.replace(second=0, microsecond=0, tzinfo=None))
    local = naive.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        return None, "That time doesn't exist on this day (the clocks change). Choose another time."
    return instant, None


def booking_window_problem(starts_at: datetime, now: datetime) -> str | None:
    """Why a session can't be booked at ``starts_at`` (too far in the past or the future), or None."""
    if starts_at < now - timedelta(days=BOOKING_MAX_DAYS_PAST):
        return "That's more than a year ago. Check the date."
    if starts_at > now + timedelta(days=BOOKING_MAX_DAYS_AHEAD):
        return "That's more than two years ahead. Check the date."
    return None


@dataclass
class Placement:
    """Where one appointment sits in a day column: minutes from local midnight, length, side-by-side lane."""

    item: object
    day: date
    start_minute: int
    end_minute: int
    lane: int = 0
    lanes: int = 1

    @property
    def shown_end_minute(self) -> int:
        """Where its block ends on the grid: at least MIN_SHOWN_MINUTES long, within the day."""
        return min(24 * 60, max(self.end_minute, self.start_minute + MIN_SHOWN_MINUTES))


@dataclass
class DayColumn:
    day: date
    placements: list[Placement] = field(default_factory=list)


def place(
    items: list[object],
    days: tuple[date, ...],
    zone: ZoneInfo,
    *,
    starts=lambda item: item["starts_at"],
    ends=lambda item: item["ends_at"],
) -> list[DayColumn]:
    """Put each item on the local day it starts, at its local wall-clock start time.

    Its end is its start plus its real length, cut at local midnight. Items whose blocks overlap on the
    grid (a short one is drawn MIN_SHOWN_MINUTES long) get side-by-side lanes so none hides another.
    """
    columns = {day: DayColumn(day) for day in days}
    for item in items:
        local_start = starts(item).astimezone(zone)
        column = columns.get(local_start.date())
        if column is None:
            continue
        start_minute = local_start.hour * 60 + local_start.minute
        length = max(1, int((ends(item) - starts(item)).total_seconds() // 60))
        column.placements.append(
            Placement(item, column.day, start_minute, min(24 * 60, start_minute + length))
        )
    for column in columns.values():
        column.placements.sort(key=lambda p: (p.start_minute, p.end_minute))
        assign_lanes(column.placements)
    return list(columns.values())


def assign_lanes(placements: list[Placement]) -> None:
    """Give placements whose blocks overlap (sorted by start) different lanes; each cluster shares a lane
    count."""
    cluster: list[Placement] = []
    cluster_end = -1
    for placement in placements:
        if cluster and placement.start_minute >= cluster_end:
            _close_cluster(cluster)
            cluster = []
        used = {p.lane for p in cluster if p.shown_end_minute > placement.start_minute}
        placement.lane = next(lane for lane in range(len(cluster) + 1) if lane not in used)
        cluster.append(placement)
        cluster_end = max(cluster_end, placement.shown_end_minute)
    if cluster:
        _close_cluster(cluster)


def _close_cluster(cluster: list[Placement]) -> None:
    lanes = max(p.lane for p in cluster) + 1
    for placement in cluster:
        placement.lanes = lanes


def grid_hours(columns: list[DayColumn]) -> tuple[int, int]:
    """The hours a time grid shows: the working day, stretched to fit every appointment."""
    first, last = DAY_START_HOUR, DAY_END_HOUR
    for column in columns:
        for placement in column.placements:
            first = min(first, placement.start_minute // 60)
            last = max(last, -(-placement.shown_end_minute // 60))
    return first, last


def box(placement: Placement, first_hour: int, last_hour: int) -> dict[str, float]:
    """A placement's position in a day column of hours [first_hour, last_hour), in percent."""
    span = (last_hour - first_hour) * 60
    top = (placement.start_minute - first_hour * 60) / span * 100
    height = (placement.shown_end_minute - placement.start_minute) / span * 100
    return {
        "top": round(top, 3),
        "height": round(height, 3),
        "left": round(placement.lane / placement.lanes * 100, 3),
        "width": round(100 / placement.lanes, 3),
    }
