"""The appointments report (R8): totals, a weekly chart, a page of rows and the CSV export.

Every query is scoped to one clinician (``a.clinician = …``), so an id from another practice in a
filter simply matches nothing. Totals and the chart are one SQL aggregate, and a page of rows is one
query, so the number of queries does not grow with the number of appointments. The CSV streams in
keyset pages of ``CSV_CHUNK`` rows, so a year of a busy practice never sits in memory at once.

For timing it: ``tests/report_data.py`` seeds a busy year (``seed_practice_year``); time
``report_page`` and a full ``csv_lines`` iteration over it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from app.domain.members import Ability, may
from app.domain.report import (
    PAGE_SIZE,
    Chart,
    ParsedFilters,
    ReportFilters,
    chart_geometry,
    decimal_amount,
    describe_delay,
    parse_filters,
    rate,
    utc_bounds,
    week_starts,
)
from app.domain.spreadsheets import safe_cell
from app.domain.statuses import CHARGE_KIND_LABELS, ChargeKind
from app.domain.statuses import AppointmentStatus as S
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import Appointment, Client, Clinician
from app.services import audit
from app.services.context import Actor, CurrentUser

CSV_CHUNK = 500
CSV_HEADER = [
    "Date",
    "Start",
    "End",
    "Client",
    "Billing type",
    "Status",
    "Status set by",
    "Status set at",
    "Time to status",
    "Fee",
    "Currency",
    "Charge",
    "Charge kind",
    "Charge amount",
    "Refunded",
    "Charged on",
]

STATUS_LABELS = {status.value: status.label for status in S}
CHARGE_LABELS = {state.value: state.label for state in C}

# How the charge states roll up into the totals a clinician (and their accountant) reads.
CHARGE_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "succeeded": ("Succeeded", (C.SUCCEEDED, C.PARTIALLY_REFUNDED, C.REFUNDED)),
    "pending": ("Pending", (C.SCHEDULED, C.PROCESSING)),
    "failed": ("Failed or needs the client", (C.FAILED, C.REQUIRES_ACTION)),
    "refunded": ("Refunded", (C.REFUNDED, C.PARTIALLY_REFUNDED)),
    "waived": ("Waived", (C.WAIVED,)),
}
# Each sort as (inside the page query, over its result ``p``): the same order, ties broken by id.
SORT_SQL = {
    "date": ("a.starts_at ASC, a.id ASC", "p.starts_at ASC, p.appointment_id ASC"),
    "-date": ("a.starts_at DESC, a.id DESC", "p.starts_at DESC, p.appointment_id DESC"),
    "client": (
        "LOWER(c.name) ASC, a.starts_at ASC, a.id ASC",
        "LOWER(p.client_name) ASC, p.starts_at ASC, p.appointment_id ASC",
    ),
    "-client": (
        "LOWER(c.name) DESC, a.starts_at DESC, a.id DESC",
        "LOWER(p.client_name) DESC, p.starts_at DESC, p.appointment_id DESC",
    ),
}


@dataclass(frozen=True)
class Practice:
    """Whose sessions a report reads: the reader's seat, or for the owner every seat of the practice
    (``clinicians``: id → name, for the clinician filter and the per-clinician totals)."""

    clinician_id: int
    time_zone: str
    currency: str
    clinicians: tuple[tuple[int, str], ...] = ()

    @property
    def clinician_ids(self) -> tuple[int, ...]:
        return tuple(cid for cid, _ in self.clinicians) or (self.clinician_id,)

    @property
    def whole_practice(self) -> bool:
        return len(self.clinicians) > 1


@dataclass(frozen=True)
class ChargeLine:
    key: str
    label: str
    count: int
    amount_minor: int
    next_due_at: datetime | None = None


@dataclass(frozen=True)
class Totals:
    by_status: dict[str, int]
    sessions: int
    needing_status: int
    occurred_fees_minor: int
    with_outcome: int
    no_show_rate: str
    late_cancel_rate: str
    charges: dict[str, ChargeLine]
    net_collected_minor: int
    collected_by_kind: dict[str, int] = field(default_factory=dict)  # kind -> collected after refunds


class Row(NamedTuple):
    """One appointment as the report shows it (and as the CSV writes it).

    A named tuple: immutable, and cheap to build for each of a year's ~2,500 rows in the CSV.
    """

    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    client_id: int
    client_name: str
    billing_type: str
    status: str
    set_by: str
    set_at: datetime | None
    fee_minor: int
    currency: str
    charge_status: str | None
    charge_amount_minor: int | None
    refunded_minor: int | None
    charged_at: datetime | None
    clinician_id: int = 0
    dispute_status: str | None = None  # the cardholder disputed the payment with their bank
    charge_kind: str | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def charge_label(self) -> str:
        label = CHARGE_LABELS[self.charge_status] if self.charge_status else ""
        return f"{label} (disputed)" if self.dispute_status else label

    @property
    def charge_kind_label(self) -> str:
        """What the charge is for (R4): a session, a late-cancel fee or a no-show fee."""
        return CHARGE_KIND_LABELS.get(self.charge_kind or "", "") if self.charge_status else ""

    @property
    def time_to_status(self) -> str:
        if self.set_at is None:
            return ""
        return describe_delay((self.set_at - self.ends_at).total_seconds())


@dataclass(frozen=True)
class Report:
    practice: Practice
    filters: ReportFilters
    totals: Totals
    chart: Chart
    rows: list[Row]
    page: int
    pages: int
    by_clinician: list[ClinicianTotals] = field(default_factory=list)  # the owner's practice report


def _dt(value: Any) -> datetime | None:
    """Aggregates come back from SQLite as text; columns as datetimes. Both become aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("UTC"))


async def practice_of(clinician_id: int, member: CurrentUser | None = None) -> Practice:
    """The report's scope: the clinician's own sessions; for a member who may read the practice's
    report (the owner), every seat of the practice, members who left included (their history stays)."""
    row = (
        await Clinician.select(Clinician.time_zone, Clinician.currency, Clinician.practice)
        .where(Clinician.id == clinician_id)
        .first()
    )
    if row is None:
        raise LookupError(clinician_id)
    clinicians: tuple[tuple[int, str], ...] = ()
    if member is not None and member.is_member and may(member.member_role, Ability.READ_PRACTICE_REPORT):
        seats = (
            await Clinician.select(Clinician.id, Clinician.user.name)
            .where(Clinician.practice == row["practice"])
            .order_by(Clinician.user.name)
        )
        clinicians = tuple((seat["id"], seat["user.name"]) for seat in seats)
    return Practice(clinician_id, row["time_zone"] or "UTC", row["currency"] or "USD", clinicians)


async def client_choices(practice: Practice) -> list[tuple[int, str]]:
    """The clients of the report's clinicians for the filter (archived ones too: they have history)."""
    rows = (
        await Client.select(Client.id, Client.name)
        .where(Client.clinician.is_in(list(practice.clinician_ids)))
        .order_by(Client.name)
    )
    return [(row["id"], row["name"]) for row in rows]


# Sessions stay with the clinician who held them: a client reassigned since keeps them in the report.
FROM = "FROM appointment a JOIN client c ON c.id = a.client"


def _where(filters: ReportFilters, practice: Practice) -> tuple[str, list[Any]]:
    """The WHERE clause shared by every report query (placeholders are Piccolo's ``{}``)."""
    start, end = utc_bounds(filters.start, filters.end, practice.time_zone)
    if filters.clinician_id is not None:
        seats: tuple[int, ...] = (filters.clinician_id,)
    else:
        seats = practice.clinician_ids
    parts = [
        "a.clinician IN (" + ", ".join("{}" for _ in seats) + ")",
        "a.starts_at >= {}",
        "a.starts_at < {}",
    ]
    args: list[Any] = [*seats, start, end]
    if filters.statuses:
        parts.append("a.status IN (" + ", ".join("{}" for _ in filters.statuses) + ")")
        args.extend(filters.statuses)
    if filters.client_id is not None:
        parts.append("a.client = {}")
        args.append(filters.client_id)
    if filters.billing_type:
        parts.append("c.billing_type = {}")
        args.append(filters.billing_type)
    if filters.charge_kind:
        parts.append("EXISTS (SELECT 1 FROM charge k WHERE k.appointment = a.id AND k.kind = {})")
        args.append(filters.charge_kind)
    return "WHERE " + " AND ".join(parts), args


async def _raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await Appointment.raw(sql, *args)


def _bucket(column: str, boundaries: Sequence[datetime], first: int = 0) -> tuple[str, list[Any]]:
    """SQL for ``first`` + how many of the ascending ``boundaries`` are at or before ``column``.

    A balanced tree of CASEs: about log2(n) comparisons a row, where a flat ``CASE WHEN … < b1 THEN 0
    WHEN … < b2 THEN 1 …`` makes up to n (a year is 52 boundaries). Plain SQL for SQLite and PostgreSQL.
    """
    if not boundaries:
        return str(first), []
    middle = len(boundaries) // 2
    below, below_args = _bucket(column, boundaries[:middle], first)
    above, above_args = _bucket(column, boundaries[middle + 1 :], first + middle + 1)
    sql = f"CASE WHEN {column} < {{}} THEN {below} ELSE {above} END"
    return sql, [boundaries[middle], *below_args, *above_args]


async def totals_and_chart(
    filters: ReportFilters, practice: Practice, *, now: datetime
) -> tuple[Totals, Chart]:
    """Counts per status, fees, charge totals and the weekly chart, from one pass over the selection.

    One aggregate query grouped by local week, status and charge state (a year: a few hundred groups)
    reads each appointment and looks up its charge once, where separate queries for the status totals,
    the charge totals and the chart read the range three times. Weeks are bucketed in SQL by the UTC
    instants of local Mondays, so they follow the clinician's wall clock across DST.
    """
    weeks = week_starts(filters.start, filters.end)
    where, args = _where(filters, practice)
    boundaries = [utc_bounds(week, week, practice.time_zone)[0] for week in weeks[1:]]
    bucket, bucket_args = _bucket("a.starts_at", boundaries)
    rows = await _raw(
        f"SELECT {bucket} AS week, a.status AS status, ch.status AS charge_status, ch.kind AS kind, "
        "COUNT(*) AS n, "
        "SUM(a.fee_minor) AS fees, SUM(CASE WHEN a.ends_at <= {} THEN 1 ELSE 0 END) AS past, "
        "SUM(ch.amount_minor) AS amount, SUM(ch.refunded_minor) AS refunded, MIN(ch.due_at) AS next_due "
        f"{FROM} LEFT JOIN charge ch ON ch.appointment = a.id {where} GROUP BY 1, 2, 3, 4",
        *bucket_args,
        now,
        *args,
    )
    by_status = {status.value: 0 for status in S}
    week_counts: dict[tuple[date, str], int] = {}
    occurred_fees = needing_status = 0
    # charge state -> [count, amount, refunded]; the earliest due time of a scheduled charge
    by_charge: dict[str, list[int]] = {}
    next_due: datetime | None = None
    by_kind = {kind.value: 0 for kind in ChargeKind}
    for row in rows:
        status, n = row["status"], int(row["n"])
        by_status[status] += n
        key = (weeks[int(row["week"])], status)
        week_counts[key] = week_counts.get(key, 0) + n
        if status == S.OCCURRED:
            occurred_fees += int(row["fees"] or 0)
        elif status == S.SCHEDULED:
            needing_status += int(row["past"] or 0)
        charge_status = row["charge_status"]
        if charge_status is None:
            continue
        sums = by_charge.setdefault(charge_status, [0, 0, 0])
        sums[0] += n
        sums[1] += int(row["amount"] or 0)
        sums[2] += int(row["refunded"] or 0)
        if charge_status in CHARGE_GROUPS["succeeded"][1] and row["kind"] in by_kind:
            by_kind[row["kind"]] += int(row["amount"] or 0) - int(row["refunded"] or 0)
        if charge_status == C.SCHEDULED and (due := _dt(row["next_due"])) is not None:
            next_due = due if next_due is None else min(next_due, due)

    def line(key: str) -> ChargeLine:
        label, states = CHARGE_GROUPS[key]
        present = [by_charge[state] for state in states if state in by_charge]
        column = 2 if key == "refunded" else 1
        return ChargeLine(
            key,
            label,
            sum(sums[0] for sums in present),
            sum(sums[column] for sums in present),
            next_due if key == "pending" else None,
        )

    charges = {key: line(key) for key in CHARGE_GROUPS}
    with_outcome = sum(count for status, count in by_status.items() if status != S.SCHEDULED)
    summary = Totals(
        by_status=by_status,
        sessions=sum(by_status.values()),
        needing_status=needing_status,
        occurred_fees_minor=occurred_fees,
        with_outcome=with_outcome,
        no_show_rate=rate(by_status[S.NO_SHOW], with_outcome),
        late_cancel_rate=rate(by_status[S.LATE_CANCELLED], with_outcome),
        charges=charges,
        net_collected_minor=charges["succeeded"].amount_minor - charges["refunded"].amount_minor,
        collected_by_kind=by_kind,
    )
    return summary, chart_geometry(weeks, week_counts, filters.statuses)


PAGE_COLUMNS = (
    "a.id AS appointment_id, a.clinician AS clinician_id, a.starts_at, a.ends_at, a.status, a.fee_minor, "
    "a.currency, "
    "c.id AS client_id, c.name AS client_name, c.billing_type"
)


def _rows_sql(where: str, order: tuple[str, str], limit: str) -> str:
    """The selected rows in ``order``, ``limit`` applied before the details are joined.

    The page (or CSV chunk) is chosen from appointment and client alone, which the (clinician,
    starts_at) index serves; only its rows then look up their charge and latest status change.
    Joining those first would do it for every row of the range (a year: ~2,500) to keep 25, and
    PostgreSQL's generic plans for prepared statements underestimate that range badly.
    """
    inner, outer = order
    return (
        "SELECT p.*, ch.status AS charge_status, ch.amount_minor AS charge_amount_minor, "  # noqa: S608
        "ch.refunded_minor, ch.succeeded_at AS charged_at, ch.kind AS charge_kind, sc.changed_at AS set_at, "
        "u.name AS set_by_name, u.role AS set_by_role, "
        "(SELECT MAX(d.status) FROM dispute d WHERE d.charge = ch.id) AS dispute_status "
        f"FROM (SELECT {PAGE_COLUMNS} {FROM} {where} ORDER BY {inner} {limit}) p "
        "LEFT JOIN charge ch ON ch.appointment = p.appointment_id "
        "LEFT JOIN status_change sc ON sc.id = "
        "(SELECT MAX(s2.id) FROM status_change s2 WHERE s2.appointment = p.appointment_id) "
        "LEFT JOIN app_user u ON u.id = sc.changed_by "
        f"ORDER BY {outer}"
    )


def _row(raw: dict[str, Any]) -> Row:
    set_at = _dt(raw["set_at"])
    if set_at is None:
        set_by = ""
    else:
        set_by = raw["set_by_name"] or ("Client" if raw["set_by_role"] == "client" else "Stillwater")
    return Row(
        appointment_id=raw["appointment_id"],
        starts_at=_dt(raw["starts_at"]),  # type: ignore[arg-type]
        ends_at=_dt(raw["ends_at"]),  # type: ignore[arg-type]
        client_id=raw["client_id"],
        client_name=raw["client_name"],
        billing_type=raw["billing_type"],
        status=raw["status"],
        set_by=set_by,
        set_at=set_at,
        fee_minor=int(raw["fee_minor"]),
        currency=raw["currency"],
        charge_status=raw["charge_status"],
        charge_amount_minor=raw["charge_amount_minor"],
        refunded_minor=raw["refunded_minor"],
        charged_at=_dt(raw["charged_at"]),
        clinician_id=raw["clinician_id"],
        dispute_status=raw["dispute_status"],
        charge_kind=raw["charge_kind"],
    )


async def page_of_rows(filters: ReportFilters, practice: Practice, *, page: int) -> list[Row]:
    where, args = _where(filters, practice)
    rows = await _raw(
        _rows_sql(where, SORT_SQL[filters.sort], "LIMIT {} OFFSET {}"),
        *args,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    return [_row(row) for row in rows]


async def build_report(filters: ReportFilters, practice: Practice, *, now: datetime) -> Report:
    """Totals, chart and one page of rows, in a fixed number of queries."""
    summary, chart = await totals_and_chart(filters, practice, now=now)
    pages = max(1, -(-summary.sessions // PAGE_SIZE))
    page = min(filters.page, pages)
    rows = await page_of_rows(filters, practice, page=page) if summary.sessions else []
    return Report(practice, filters, summary, chart, rows, page, pages)


@dataclass(frozen=True)
class ReportPage:
    """The filters as understood (with messages for bad values) and, when they are valid, the report."""

    practice: Practice
    filters: ReportFilters
    errors: dict[str, str]
    clients: list[tuple[int, str]]
    report: Report | None


async def _checked_filters(
    raw: Mapping[str, Sequence[str]], clinician_id: int, now: datetime, member: CurrentUser | None = None
) -> tuple[Practice, ParsedFilters, list[tuple[int, str]]]:
    practice = await practice_of(clinician_id, member)
    parsed = parse_filters(raw, today_for(practice.time_zone, now))
    clients = await client_choices(practice)
    client_id = parsed.filters.client_id
    if client_id is not None and client_id not in {cid for cid, _ in clients}:
        parsed.errors["client"] = "Choose one of your clients."
    chosen = parsed.filters.clinician_id
    if chosen is not None and chosen not in practice.clinician_ids:
        parsed.errors["clinician"] = "Choose a clinician from the list."
    return practice, parsed, clients


async def report_page(
    raw: Mapping[str, Sequence[str]], *, clinician_id: int, now: datetime, member: CurrentUser | None = None
) -> ReportPage:
    """The report page for query parameters ``raw`` (name → values): one clinician's, or the whole
    practice's for its owner (``member``), with a total per clinician."""
    practice, parsed, clients = await _checked_filters(raw, clinician_id, now, member)
    report = None
    if parsed.ok:
        report = await build_report(parsed.filters, practice, now=now)
        if practice.whole_practice:
            report = replace(report, by_clinician=await clinician_totals(parsed.filters, practice))
    return ReportPage(practice, parsed.filters, parsed.errors, clients, report)


@dataclass(frozen=True)
class ClinicianTotals:
    clinician_id: int
    name: str
    sessions: int
    occurred: int
    occurred_fees_minor: int


async def clinician_totals(filters: ReportFilters, practice: Practice) -> list[ClinicianTotals]:
    """Sessions, occurred sessions and their fees for each clinician in the selection (the owner's view)."""
    where, args = _where(filters, practice)
    rows = await _raw(
        f"SELECT a.clinician AS clinician, a.status AS status, COUNT(*) AS n, SUM(a.fee_minor) AS fees "
        f"{FROM} {where} GROUP BY 1, 2",
        *args,
    )
    sums: dict[int, list[int]] = {}
    for row in rows:
        line = sums.setdefault(row["clinician"], [0, 0, 0])
        line[0] += int(row["n"])
        if row["status"] == S.OCCURRED:
            line[1] += int(row["n"])
            line[2] += int(row["fees"] or 0)
    names = dict(practice.clinicians)
    return [
        ClinicianTotals(cid, names.get(cid, ""), *sums[cid]) for cid in practice.clinician_ids if cid in sums
    ]


async def rows_in_date_order(
    filters: ReportFilters, practice: Practice, *, chunk: int = CSV_CHUNK
) -> AsyncIterator[list[Row]]:
    """Every selected row, oldest first, ``chunk`` at a time (keyset pagination on start time and id)."""
    where, args = _where(filters, practice)
    after: tuple[datetime, int] | None = None
    while True:
        keyset, keyset_args = "", []
        if after is not None:
            # ``>=`` on the start lets the index begin at the last row; the OR settles ties on id.
            keyset = " AND a.starts_at >= {} AND (a.starts_at > {} OR a.id > {})"
            keyset_args = [after[0], after[0], after[1]]
        raw = await _raw(
            _rows_sql(where + keyset, SORT_SQL["date"], "LIMIT {}"),
            *args,
            *keyset_args,
            chunk,
        )
        if not raw:
            return
        rows = [_row(row) for row in raw]
        yield rows
        if len(rows) < chunk:
            return
        after = (rows[-1].starts_at, rows[-1].appointment_id)


@lru_cache(maxsize=1024)
def _amount_cell(amount_minor: int | None) -> str:
    """An amount's CSV cell; a practice charges a handful of distinct amounts, so they are cached."""
    return safe_cell(decimal_amount(amount_minor))


def csv_record(row: Row, zone: tzinfo) -> list[str]:
    """One CSV line's cells: ISO dates and times in the clinician's zone, amounts as plain decimals.

    What people typed (client and user names) and the stored amounts and currency go through
    ``safe_cell``; dates, times and our own labels never start like a spreadsheet formula.
    """
    starts, ends = row.starts_at.astimezone(zone), row.ends_at.astimezone(zone)
    set_at, charged_at = row.set_at, row.charged_at
    return [
        starts.date().isoformat(),
        f"{starts.hour:02d}:{starts.minute:02d}",
        f"{ends.hour:02d}:{ends.minute:02d}",
        safe_cell(row.client_name),
        "Insurance" if row.billing_type == "insurance" else "Self-pay",
        row.status_label,
        safe_cell(row.set_by),
        set_at.astimezone(zone).isoformat(timespec="minutes") if set_at else "",
        row.time_to_status,
        _amount_cell(row.fee_minor),
        safe_cell(row.currency),
        row.charge_label,
        row.charge_kind_label,
        _amount_cell(row.charge_amount_minor),
        _amount_cell(row.refunded_minor) if row.refunded_minor else "",
        charged_at.astimezone(zone).date().isoformat() if charged_at else "",
    ]


def _csv_text(records: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    return buffer.getvalue()


async def csv_lines(
    filters: ReportFilters, practice: Practice, *, chunk: int = CSV_CHUNK
) -> AsyncIterator[str]:
    """The CSV file as text chunks: a header row, then one line per selected appointment; the whole
    practice's report (the owner's) ends each line with the session's clinician."""
    zone = ZoneInfo(practice.time_zone)
    names = dict(practice.clinicians) if practice.whole_practice else {}
    yield _csv_text([CSV_HEADER + (["Clinician"] if names else [])])
    async for rows in rows_in_date_order(filters, practice, chunk=chunk):
        yield _csv_text(
            [
                csv_record(row, zone) + ([safe_cell(names.get(row.clinician_id, ""))] if names else [])
                for row in rows
            ]
        )


def export_file_name(filters: ReportFilters) -> str:
    return f"appointments-{filters.start.isoformat()}-to-{filters.end.isoformat()}.csv"


async def start_export(
    raw: Mapping[str, Sequence[str]],
    *,
    clinician_id: int,
    actor: Actor,
    now: datetime,
    member: CurrentUser | None = None,
) -> tuple[Practice, ParsedFilters]:
    """Check the filters and, when they are valid, audit the export (who exported which selection)."""
    practice, parsed, _ = await _checked_filters(raw, clinician_id, now, member)
    if parsed.ok:
        filters = parsed.filters
        async with transaction():
            await audit.record(
                "report_exported",
                actor=actor,
                at=now,
                object_type="report",
                client_id=filters.client_id,
                clinician_id=clinician_id,
                detail=f"{filters.start.isoformat()}..{filters.end.isoformat()} {filters.query()}"[:255],
            )
    return practice, parsed


def today_for(practice_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(practice_zone or "UTC")).date()
