"""The appointments report (R8), the pure parts: filters, date ranges, rates, CSV cells, chart geometry.

Dates are the clinician's local calendar days; ``utc_bounds`` turns a range of days into the UTC
instants the database compares against (so a range follows the clinician's wall clock across DST).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from app.domain.statuses import AppointmentStatus, BillingType, ChargeKind
from app.domain.validation import is_digits, year_problem

PRESETS = {
    "this_week": "This week",
    "last_week": "Last week",
    "this_month": "This month",
    "last_month": "Last month",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "this_month"
SORTS = {
    "date": "Date, oldest first",
    "-date": "Date, newest first",
    "client": "Client A–Z",
    "-client": "Client Z–A",
}
DEFAULT_SORT = "date"
BILLING_TYPES = {BillingType.SELF_PAY.value: "Self-pay", BillingType.INSURANCE.value: "Insurance"}
PAGE_SIZE = 25
MAX_RANGE_DAYS = 731  # two years: a tax year plus the one before, with room to spare
STATUS_ORDER = [
    AppointmentStatus.OCCURRED,
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.LATE_CANCELLED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.CANCELLED,
]


@dataclass(frozen=True)
class ReportFilters:
    """What the clinician asked to see. ``start``/``end`` are inclusive local dates."""

    preset: str
    start: date
    end: date
    statuses: tuple[str, ...] = ()
    client_id: int | None = None
    billing_type: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1
    clinician_id: int | None = None  # one clinician of the practice (the owner's filter); None: all
    charge_kind: str = ""  # only appointments with a charge of this kind (R4); "": all

    def query(self, **changes: object) -> str:
        """The canonical query string of these filters (for links, bookmarks and the pushed URL)."""
        filters = replace(self, **changes) if changes else self
        pairs: list[tuple[str, str]] = [("preset", filters.preset)]
        if filters.preset == "custom":
            pairs += [("start", filters.start.isoformat()), ("end", filters.end.isoformat())]
        pairs += [("status", status) for status in filters.statuses]
        if filters.client_id is not None:
            pairs.append(("client", str(filters.client_id)))
        if filters.billing_type:
            pairs.append(("billing", filters.billing_type))
        if filters.clinician_id is not None:
            pairs.append(("clinician", str(filters.clinician_id)))
        if filters.charge_kind:
            pairs.append(("kind", filters.charge_kind))
        if filters.sort != DEFAULT_SORT:
            pairs.append(("sort", filters.sort))
        if filters.page != 1:
            pairs.append(("page", str(filters.page)))
        return urlencode(pairs)


@dataclass
class ParsedFilters:
    filters: ReportFilters
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The inclusive local dates of a preset; weeks start on Monday."""
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    if preset == "this_week":
        return monday, monday + timedelta(days=6)
    if preset == "last_week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if preset == "last_month":
        last_day = first_of_month - timedelta(days=1)
        return last_day.replace(day=1), last_day
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    return first_of_month, next_month - timedelta(days=1)


def utc_bounds(start: date, end: date, time_zone: str) -> tuple[datetime, datetime]:
    """[local midnight of ``start``, local midnight after ``end``) as UTC instants."""
    zone = ZoneInfo(time_zone or "UTC")
    return (
        datetime.combine(start, time(), zone).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC),
    )


def _one(raw: Mapping[str, Sequence[str]], name: str) -> str:
    values = raw.get(name) or []
    return (values[-1] if values else "").strip()


def _date(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return None if year_problem(day.year) else day


def parse_filters(raw: Mapping[str, Sequence[str]], today: date) -> ParsedFilters:
    """Clean query parameters (name → list of values) into filters, with a message per bad field."""
    errors: dict[str, str] = {}
    preset = _one(raw, "preset") or DEFAULT_PRESET
    if preset not in PRESETS:
        errors["preset"] = "Choose a date range from the list."
        preset = DEFAULT_PRESET
    start, end = preset_range(preset, today)
    if preset == "custom":
        start_text, end_text = _one(raw, "start"), _one(raw, "end")
        parsed_start, parsed_end = _date(start_text), _date(end_text)
        if parsed_start is None:
            errors["start"] = (
                "Enter the first day as a date, like 2026-11-01." if start_text else "Enter the first day."
            )
        if parsed_end is None:
            errors["end"] = (
                "Enter the last day as a date, like 2026-11-30." if end_text else "Enter the last day."
            )
        if parsed_start and parsed_end:
            if parsed_end < parsed_start:
                errors["end"] = "The last day is before the first day."
            elif (parsed_end - parsed_start).days >= MAX_RANGE_DAYS:
                errors["end"] = "Choose a range of at most two years."
        start, end = parsed_start or start, parsed_end or end

    statuses: list[str] = []
    for value in raw.get("status") or []:
        value = value.strip()
        if not value:
            continue
        if value not in {status.value for status in AppointmentStatus}:
            errors["status"] = "Choose statuses from the list."
        elif value not in statuses:
            statuses.append(value)
    ordered = tuple(status.value for status in STATUS_ORDER if status.value in statuses)

    client_id: int | None = None
    client_text = _one(raw, "client")
    if client_text:
        if is_digits(client_text) and len(client_text) < 10:
            client_id = int(client_text)
        else:
            errors["client"] = "Choose a client from the list."

    clinician_id: int | None = None
    clinician_text = _one(raw, "clinician")
    if clinician_text:
        if clinician_text.isdigit() and len(clinician_text) < 10:
            clinician_id = int(clinician_text)
        else:
            errors["clinician"] = "Choose a clinician from the list."

    billing_type = _one(raw, "billing")
    if billing_type and billing_type not in BILLING_TYPES:
        errors["billing"] = "Choose self-pay or insurance."
        billing_type = ""

    charge_kind = _one(raw, "kind")
    if charge_kind and charge_kind not in {kind.value for kind in ChargeKind}:
        errors["kind"] = "Choose a charge kind from the list."
        charge_kind = ""

    sort = _one(raw, "sort") or DEFAULT_SORT
    if sort not in SORTS:
        sort = DEFAULT_SORT
    page_text = _one(raw, "page")
    page = int(page_text) if is_digits(page_text) and 0 < len(page_text) < 7 and int(page_text) > 0 else 1

    filters = ReportFilters(
        preset, start, end, ordered, client_id, billing_type, sort, page, clinician_id, charge_kind
    )
    return ParsedFilters(filters, errors)


def rate(part: int, whole: int) -> str:
    """'12.5%' (one decimal, rounded half up, integers only); '–' when there is nothing to divide by."""
    if whole <= 0:
        return "–"
    tenths = (part * 1000 + whole // 2) // whole
    whole_part, tenth = divmod(tenths, 10)
    return f"{whole_part}%" if tenth == 0 else f"{whole_part}.{tenth}%"


def describe_delay(seconds: float | None) -> str:
    """Time from the end of a session to its status change: '2 h 5 min after', '3 d before'."""
    if seconds is None:
        return ""
    direction = "after" if seconds >= 0 else "before"
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        text = f"{minutes} min"
    return f"{text} {direction}"


def decimal_amount(amount_minor: int | None) -> str:
    """'150.00' from 15000: an amount a spreadsheet reads as a number, without a currency symbol."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{whole}.{cents:02d}"


def week_starts(start: date, end: date) -> list[date]:
    """The Mondays of every week that touches [start, end]."""
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


class Segment(NamedTuple):
    """One status's part of a week's bar (a named tuple: immutable and cheap to build, ~250 a year)."""

    status: str
    label: str
    count: int
    x: float
    width: float
    show_count: bool
    middle: float  # where the count is centred
    title: str  # the tooltip: "Week of 23 Nov: 4 Occurred"


class ChartRow(NamedTuple):
    week: date
    label: str  # "23 Nov" beside the bar
    long_label: str  # "23 Nov 2026" in the table
    y: int
    total: int
    segments: tuple[Segment, ...]
    counts: tuple[int, ...]  # one per ``Chart.statuses``, zeros included, for the table


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar per week: reads top to bottom on a phone, however many weeks.

    Every number the template prints is here, so drawing a year (53 rows) is only printing. Each row
    is positioned as a whole (``y``); bars and texts sit at ``bar_y`` and ``text_y`` within it.
    """

    width: int
    height: int
    label_width: int
    bar_width: int
    row_height: int
    bar_height: int
    bar_y: int
    text_y: int
    rows: tuple[ChartRow, ...]
    statuses: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return all(row.total == 0 for row in self.rows)


def chart_geometry(
    weeks: Sequence[date],
    counts: Mapping[tuple[date, str], int],
    statuses: Sequence[str] | None = None,
    *,
    width: int = 360,
    label_width: int = 64,
    total_width: int = 36,
    row_height: int = 28,
    bar_height: int = 20,
) -> Chart:
    """Bar positions in SVG user units; the longest week fills the bar area, segments in STATUS_ORDER."""
    order = [s.value for s in STATUS_ORDER if statuses is None or not statuses or s.value in statuses]
    labels = {status: AppointmentStatus(status).label for status in order}
    bar_width = width - label_width - total_width
    by_week = [tuple(counts.get((week, status), 0) for status in order) for week in weeks]
    longest = max((sum(row) for row in by_week), default=0) or 1
    rows = []
    for index, (week, week_counts) in enumerate(zip(weeks, by_week, strict=True)):
        long_label = week.strftime("%d %b %Y")
        label = long_label[:-5]  # "23 Nov 2026" -> "23 Nov"
        x = float(label_width)
        segments = []
        for status, count in zip(order, week_counts, strict=True):
            if not count:
                continue
            segment_width = bar_width * count / longest
            segments.append(
                Segment(
                    status,
                    labels[status],
                    count,
                    round(x, 2),
                    round(segment_width, 2),
                    segment_width >= 8 * len(str(count)) + 6,
                    round(x + segment_width / 2, 2),
                    f"Week of {label}: {count} {labels[status]}",
                )
            )
            x += segment_width
        rows.append(
            ChartRow(
                week,
                label,
                long_label,
                index * row_height,
                sum(week_counts),
                tuple(segments),
                week_counts,
            )
        )
    bar_y = (row_height - bar_height) // 2
    return Chart(
        width=width,
        height=max(len(weeks), 1) * row_height,
        label_width=label_width,
        bar_width=bar_width,
        row_height=row_height,
        bar_height=bar_height,
        bar_y=bar_y,
        text_y=bar_y + bar_height // 2 + 4,
        rows=tuple(rows),
        statuses=tuple(order),
    )
