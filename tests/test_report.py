"""The appointments report (R8): totals, time-to-status, filters, CSV, bad input, authorization, queries."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.statuses import AppointmentStatus as S
from app.domain.statuses import ChargeStatus as C
from app.models.db import engine
from app.models.tables import AuditEvent, Charge
from app.services import report
from app.services.appointments import change_status
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.helpers import make_client, make_clinician, sign_in
from tests.report_data import add_appointment, add_client, add_status_change, set_charge

NEW_YORK = ZoneInfo("America/New_York")


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


@dataclass
class Practice:
    maya: object
    other: object
    alex: int
    blake: int
    appointments: dict[str, int]


@pytest.fixture
async def november(db, settings, clock):
    """Maya's November (New York), hand-computed in the tests below, plus another practice's session.

    Clock: Monday 30 Nov 2026, 09:00 in New York.
    """
    now = clock.now()
    maya = await make_clinician(settings, now)
    other = await make_clinician(
        settings, now, email="sam@example.test", name="Sam Other", practice="Elsewhere"
    )
    cid = maya.user.clinician_id
    alex = await add_client(cid, "Alex Rivera", now=now)
    blake = await add_client(cid, "Blake Moss", billing_type="insurance", now=now)
    casey = await add_client(other.user.clinician_id, "Casey Other", now=now)
    a: dict[str, int] = {}
    a["A1"] = await add_appointment(cid, alex, ny(11, 2, 10), status=S.OCCURRED)
    await add_status_change(a["A1"], S.SCHEDULED, S.OCCURRED, by=maya.user.id, at=ny(11, 2, 12, 55))
    await set_charge(a["A1"], C.SUCCEEDED, 15000, due_at=ny(11, 4, 13), succeeded_at=ny(11, 4, 13))
    a["A2"] = await add_appointment(cid, alex, ny(11, 3, 10), status=S.OCCURRED)
    await set_charge(
        a["A2"], C.REFUNDED, 15000, due_at=ny(11, 5, 10), succeeded_at=ny(11, 5, 10), refunded_minor=15000
    )
    a["A3"] = await add_appointment(cid, blake, ny(11, 9, 10), status=S.OCCURRED, fee_minor=12000)
    await set_charge(
        a["A3"],
        C.PARTIALLY_REFUNDED,
        3000,
        due_at=ny(11, 11, 10),
        succeeded_at=ny(11, 11, 10),
        refunded_minor=1000,
    )
    a["A4"] = await add_appointment(cid, blake, ny(11, 10, 10), fee_minor=12000)
    a["A5"] = await add_appointment(cid, alex, ny(11, 16, 10), status=S.LATE_CANCELLED)
    a["A6"] = await add_appointment(cid, alex, ny(11, 17, 10))
    a["A7"] = await add_appointment(cid, alex, ny(11, 23, 10), status=S.SCHEDULED)
    await add_status_change(a["A7"], S.SCHEDULED, S.NO_SHOW, by=maya.user.id, at=ny(11, 23, 11, 50))
    await add_status_change(a["A7"], S.NO_SHOW, S.OCCURRED, by=None, at=ny(11, 23, 15, 50))
    await set_charge(a["A7"], C.FAILED, 15000, due_at=ny(11, 25, 15))
    a["A8"] = await add_appointment(cid, blake, ny(11, 24, 10), status=S.OCCURRED, fee_minor=12000)
    await set_charge(a["A8"], C.WAIVED, 3000, due_at=ny(11, 26, 10))
    a["A9"] = await add_appointment(cid, alex, ny(11, 27, 10))
    a["A10"] = await add_appointment(cid, blake, ny(11, 29, 10), status=S.OCCURRED, fee_minor=12000)
    await set_charge(a["A10"], C.SCHEDULED, 3000, due_at=datetime(2026, 12, 2, 13, tzinfo=UTC))
    a["A11"] = await add_appointment(cid, alex, ny(11, 30, 11))  # later today: not yet due a status
    a["A12"] = await add_appointment(cid, alex, ny(11, 25, 10), status=S.OCCURRED)
    await set_charge(a["A12"], C.PROCESSING, 15000, due_at=ny(11, 27, 10))
    a["Oct31"] = await add_appointment(cid, alex, ny(10, 31, 23, 30), status=S.OCCURRED)  # 1 Nov in UTC
    a["Dec1"] = await add_appointment(cid, alex, ny(12, 1, 0, 30))  # 30 Nov in UTC? no: 05:30 UTC 1 Dec
    other_appointment = await add_appointment(
        other.user.clinician_id, casey, ny(11, 12, 10), status=S.OCCURRED
    )
    await set_charge(
        other_appointment, C.SUCCEEDED, 99900, due_at=ny(11, 14, 10), succeeded_at=ny(11, 14, 10)
    )

    queue = JobQueue(None, settings.queue_name)
    actor = Actor(user_id=maya.user.id, role="clinician", clinician_id=cid)
    for key, status, at in [("A4", S.NO_SHOW, ny(11, 11, 12, 50)), ("A6", S.CANCELLED, ny(11, 14, 10))]:
        await change_status(
            a[key], status, clinician_id=cid, now=at, actor=actor, settings=settings, queue=queue
        )
    return Practice(maya, other, alex, blake, a)


async def page_for(practice: Practice, clock, **raw: object):
    query = {key: value if isinstance(value, list) else [str(value)] for key, value in raw.items()}
    return await report.report_page(query, clinician_id=practice.maya.user.clinician_id, now=clock.now())


async def test_totals_match_the_hand_computed_month(november, clock):
    view = await page_for(november, clock)
    assert view.errors == {}
    totals = view.report.totals
    assert totals.by_status == {
        "occurred": 7,  # A1 A2 A3 A7 A8 A10 A12 (not 31 Oct, though it is 1 Nov in UTC)
        "scheduled": 2,  # A9 A11
        "late_cancelled": 1,
        "no_show": 1,
        "cancelled": 1,
    }
    assert totals.sessions == 12
    assert totals.occurred_fees_minor == 15000 * 4 + 12000 * 3
    assert (totals.with_outcome, totals.no_show_rate, totals.late_cancel_rate) == (10, "10%", "10%")
    assert totals.needing_status == 1  # A9; A11 is later today
    lines = {key: (line.count, line.amount_minor) for key, line in totals.charges.items()}
    assert lines == {
        "succeeded": (3, 15000 + 15000 + 3000),  # A1, A2 (later refunded), A3 (partly refunded)
        "pending": (2, 3000 + 15000),  # A10 scheduled, A12 processing
        "failed": (1, 15000),
        "refunded": (2, 15000 + 1000),
        "waived": (1, 3000),
    }
    assert totals.charges["pending"].next_due_at == datetime(2026, 12, 2, 13, tzinfo=UTC)
    assert totals.net_collected_minor == 33000 - 16000


async def test_the_page_shows_the_totals_chart_and_table(client, november):
    await sign_in(client, november.maya)
    response = await client.get("/report")
    assert response.status_code == 200
    page = response.text
    assert "<html" in page and 'href="/report" aria-current="page"' in page
    for text in [
        "$960.00",
        "10%",
        "Past sessions still needing a status",
        "next due Wed 02 Dec, 08:00",
        "$170.00",
    ]:
        assert text in page, text
    assert '<svg class="chart"' in page and "Chart as a table" in page
    assert "Week of 23 Nov: 4 Occurred" in page and "Week of 23 Nov: 1 Scheduled" in page  # A7 A8 A10 A12, A9
    assert "Casey Other" not in page and "$999.00" not in page
    assert "Mon 02 Nov 2026, 10:00" in page  # table times are New York wall-clock times


async def test_time_to_status_is_from_the_latest_change_after_the_session_ends(november, clock):
    rows = {row.appointment_id: row for row in (await page_for(november, clock)).report.rows}
    a = november.appointments
    assert (rows[a["A1"]].set_by, rows[a["A1"]].time_to_status) == ("Maya Chen", "2 h 5 min after")
    assert (rows[a["A4"]].set_by, rows[a["A4"]].time_to_status) == ("Maya Chen", "1 d 2 h after")
    assert (rows[a["A6"]].set_by, rows[a["A6"]].time_to_status) == ("Maya Chen", "3 d before")
    assert (rows[a["A7"]].set_by, rows[a["A7"]].status, rows[a["A7"]].time_to_status) == (
        "Stillwater",
        S.OCCURRED,
        "5 h after",
    )
    assert rows[a["A9"]].set_by == "" and rows[a["A9"]].time_to_status == ""


async def test_filters_combine(november, clock):
    a = november.appointments

    async def ids(**raw):
        view = await page_for(november, clock, **raw)
        assert view.errors == {}
        return {row.appointment_id for row in view.report.rows}

    assert await ids(status="occurred", billing="insurance") == {a["A3"], a["A8"], a["A10"]}
    assert await ids(client=november.alex, status=["occurred", "late_cancelled"]) == {
        a[k] for k in ["A1", "A2", "A7", "A12", "A5"]
    }
    assert await ids(preset="custom", start="2026-11-09", end="2026-11-15") == {a["A3"], a["A4"]}
    assert await ids(preset="custom", start="2026-10-31", end="2026-10-31") == {a["Oct31"]}
    assert await ids(preset="last_week", client=november.blake) == {a["A8"], a["A10"]}
    assert await ids(preset="this_week") == {a["A11"], a["Dec1"]}
    narrowed = await page_for(november, clock, status="no_show", billing="insurance")
    assert narrowed.report.totals.by_status["no_show"] == 1 and narrowed.report.totals.sessions == 1
    assert narrowed.report.chart.statuses == ("no_show",)


async def test_chart_weeks_are_local_weeks_across_both_daylight_saving_changes(db, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now)
    cid = maya.user.clinician_id
    alex = await add_client(cid, "Alex Rivera", now=now)
    first_monday = datetime(2026, 1, 5)
    for week in range(51):  # the first and the last minute of every local week of 2026 (New York)
        monday = first_monday + timedelta(weeks=week)
        for local in (monday, monday + timedelta(days=6, hours=23, minutes=59)):
            await add_appointment(cid, alex, local.replace(tzinfo=NEW_YORK).astimezone(UTC))
    practice = type("P", (), {"maya": maya})
    view = await page_for(practice, clock, preset="custom", start="2026-01-05", end="2026-12-27")
    chart = view.report.chart
    assert len(chart.rows) == 51
    assert [(row.week, row.total) for row in chart.rows] == [
        ((first_monday + timedelta(weeks=week)).date(), 2) for week in range(51)
    ]


async def test_table_is_sorted_and_paginated(db, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now)
    cid = maya.user.clinician_id
    zoe = await add_client(cid, "zoe Adams", now=now)
    ben = await add_client(cid, "Ben Young", now=now)
    for day in range(30):
        await add_appointment(cid, zoe if day % 2 else ben, ny(11, 1, 8) + timedelta(days=day))
    practice = type("P", (), {"maya": maya})
    first = await page_for(practice, clock)
    assert (first.report.page, first.report.pages, len(first.report.rows)) == (1, 2, 25)
    second = await page_for(practice, clock, page=2)
    assert len(second.report.rows) == 5
    starts = [row.starts_at for row in first.report.rows + second.report.rows]
    assert starts == sorted(starts)
    newest = await page_for(practice, clock, sort="-date")
    assert newest.report.rows[0].starts_at == max(starts)
    by_client = await page_for(practice, clock, sort="client")
    assert [row.client_name for row in by_client.report.rows[:15]] == ["Ben Young"] * 15
    beyond = await page_for(practice, clock, page=9)
    assert beyond.report.page == 2 and len(beyond.report.rows) == 5


def read_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_csv_export_matches_the_table_and_is_audited(client, november, clock):
    await sign_in(client, november.maya)
    response = await client.get("/report.csv?preset=this_month&billing=insurance")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="appointments-2026-11-01-to-2026-11-30.csv"' in response.headers["content-disposition"]
    lines = read_csv(response.text)
    assert lines[0] == report.CSV_HEADER
    view = await page_for(november, clock, billing="insurance")
    expected = [
        [
            row.starts_at.astimezone(NEW_YORK).date().isoformat(),
            row.starts_at.astimezone(NEW_YORK).strftime("%H:%M"),
            row.client_name,
            row.status_label,
            row.set_by,
            row.time_to_status,
            row.charge_label,
        ]
        for row in view.report.rows
    ]
    assert [
        [line[0], line[1], line[3], line[5], line[6], line[8], line[11]] for line in lines[1:]
    ] == expected
    a3 = lines[1]
    assert a3 == [
        "2026-11-09",
        "10:00",
        "10:50",
        "Blake Moss",
        "Insurance",
        "Occurred",
        "",
        "",
        "",
        "120.00",
        "USD",
        "Partly refunded",
        "Session",
        "30.00",
        "10.00",
        "2026-11-11",
    ]
    a4 = lines[2]
    assert a4[5:9] == ["No-show", "Maya Chen", "2026-11-11T12:50-05:00", "1 d 2 h after"]
    audit = await AuditEvent.objects().where(AuditEvent.action == "report_exported").first()
    assert audit.actor_id == november.maya.user.id and audit.clinician_id == november.maya.user.clinician_id
    assert "billing=insurance" in audit.detail


async def test_csv_cells_cannot_become_spreadsheet_formulas(client, db, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now, name="=Maya Chen")
    names = ['=HYPERLINK("http://evil.test","x")', "+1 555 0100", "-2+3", "@SUM(A1)", "\tTabbed"]
    for index, name in enumerate(names):
        client_id = await add_client(maya.user.clinician_id, name, now=now)
        appointment = await add_appointment(maya.user.clinician_id, client_id, ny(11, 2 + index, 10))
    await add_status_change(appointment, S.SCHEDULED, S.OCCURRED, by=maya.user.id, at=ny(11, 6, 11))
    await sign_in(client, maya)
    lines = read_csv((await client.get("/report.csv")).text)
    assert [line[3] for line in lines[1:]] == ["'" + name for name in names]
    assert lines[-1][6:8] == ["'=Maya Chen", "2026-11-06T11:00-05:00"]  # who set the status is typed text too


async def test_csv_streams_in_keyset_pages_without_losing_or_repeating_rows(db, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now)
    cid = maya.user.clinician_id
    clients = [await add_client(cid, f"Client {n}", now=now) for n in range(3)]
    for day in range(4):
        for client_id in clients:  # three sessions at the same moment: ties broken by id
            await add_appointment(cid, client_id, ny(11, 2 + day, 10))
    practice = await report.practice_of(cid)
    filters = (await report.report_page({}, clinician_id=cid, now=now)).filters
    whole = "".join([text async for text in report.csv_lines(filters, practice)])
    chunks = [text async for text in report.csv_lines(filters, practice, chunk=2)]
    assert len(chunks) == 1 + 6 and "".join(chunks) == whole
    assert len(read_csv("\ufeff" + whole)) == 1 + 12


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("preset=custom&start=2026-11-30&end=2026-11-01", "The last day is before the first day."),
        ("preset=custom&start=yesterday&end=2026-11-01", "Enter the first day as a date"),
        ("status=occurred&status=paid", "Choose statuses from the list."),
        ("client=1%27%20OR%201=1", "Choose a client from the list."),
        ("preset=%3Cscript%3E", "Choose a date range from the list."),
        ("kind=refund", "Choose a charge kind from the list."),
    ],
)
async def test_bad_filters_get_a_message_not_an_error_page(client, november, query, message):
    await sign_in(client, november.maya)
    response = await client.get(f"/report?{query}")
    assert response.status_code == 200
    assert message in response.text
    assert "Fix the filters marked above" in response.text and "<script>" not in response.text
    assert "Alex Rivera</td>" not in response.text
    fragment = await client.get(f"/report?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and message in fragment.text and "<html" not in fragment.text
    export = await client.get(f"/report.csv?{query}")
    assert export.status_code == 303 and export.headers["location"] == f"/report?{query}"


async def test_htmx_gets_the_fragment_and_a_bookmarkable_url(client, november):
    await sign_in(client, november.maya)
    response = await client.get(
        "/report?preset=custom&start=2026-11-09&end=2026-11-15&status=occurred&sort=date",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="report"' in response.text
    pushed = response.headers["hx-push-url"]
    assert pushed == "/report?preset=custom&start=2026-11-09&end=2026-11-15&status=occurred"
    full = await client.get(pushed)
    assert "<html" in full.text and "Blake Moss" in full.text


async def test_only_clinicians_see_their_own_report(client, other_client, november, settings, clock):
    person, _ = await make_client(settings, clock.now(), november.maya)
    await sign_in(client, person)
    assert (await client.get("/report")).status_code == 403
    assert (await client.get("/report.csv")).status_code == 403
    anonymous = await other_client.get("/report.csv")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]

    await sign_in(other_client, november.other)
    own = await other_client.get("/report")
    assert "Casey Other" in own.text and "Alex Rivera" not in own.text
    borrowed = await other_client.get(f"/report?client={november.alex}")
    assert "Choose one of your clients." in borrowed.text and "Alex Rivera" not in borrowed.text
    export = await other_client.get(f"/report.csv?client={november.alex}")
    assert export.status_code == 303
    other_id = november.other.user.clinician_id
    view = await report.report_page({"client": [str(november.alex)]}, clinician_id=other_id, now=clock.now())
    assert view.report is None
    practice = await report.practice_of(other_id)
    filters = view.filters
    lines = read_csv("\ufeff" + "".join([text async for text in report.csv_lines(filters, practice)]))
    assert lines == [report.CSV_HEADER]  # even past the check, the query itself is scoped to the clinician


class QueryCounter:
    """Counts every query the Piccolo engine runs (wraps ``run_querystring``)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        engine_class = type(engine())
        original = engine_class.run_querystring

        async def counting(engine_self, querystring, *args, **kwargs):
            self.count += 1
            return await original(engine_self, querystring, *args, **kwargs)

        monkeypatch.setattr(engine_class, "run_querystring", counting)


async def test_query_count_does_not_grow_with_the_number_of_appointments(
    client, db, settings, clock, monkeypatch
):
    from tests.report_data import seed_practice_year

    now = clock.now()
    maya = await make_clinician(settings, now)
    cid = maya.user.clinician_id
    clients = [await add_client(cid, f"Client {n}", now=now) for n in range(4)]
    await sign_in(client, maya)
    url = "/report?preset=custom&start=2026-01-01&end=2026-11-30"
    counter = QueryCounter(monkeypatch)

    async def queries() -> int:
        counter.count = 0
        response = await client.get(url)
        assert response.status_code == 200
        return counter.count

    await seed_practice_year(
        cid, clients, first_monday=datetime(2026, 1, 5, 14, tzinfo=UTC), weeks=1, per_week=3
    )
    few = await queries()
    await seed_practice_year(
        cid, clients, first_monday=datetime(2026, 2, 2, 14, tzinfo=UTC), weeks=10, per_week=12
    )
    many = await queries()
    assert few == many
    assert "123 sessions" in (await client.get(url)).text


async def test_charge_kind_filters_rows_totals_and_csv_alike(client, november, clock):
    a = november.appointments
    await set_charge(a["A5"], C.SUCCEEDED, 7500, due_at=ny(11, 18, 10), succeeded_at=ny(11, 18, 10))
    await set_charge(a["A4"], C.SCHEDULED, 12000, due_at=datetime(2026, 12, 2, 9, tzinfo=UTC))
    await Charge.update({Charge.kind: "late_cancel_fee"}).where(Charge.appointment == a["A5"])
    await Charge.update({Charge.kind: "no_show_fee"}).where(Charge.appointment == a["A4"])

    fees = await page_for(november, clock, kind="late_cancel_fee")
    assert fees.errors == {} and [row.appointment_id for row in fees.report.rows] == [a["A5"]]
    assert fees.report.totals.sessions == 1 and fees.report.totals.by_status["late_cancelled"] == 1
    assert fees.report.totals.collected_by_kind == {"session": 0, "late_cancel_fee": 7500, "no_show_fee": 0}
    no_show = await page_for(november, clock, kind="no_show_fee")
    assert [row.appointment_id for row in no_show.report.rows] == [a["A4"]]
    assert no_show.report.totals.charges["pending"].amount_minor == 12000
    sessions = await page_for(november, clock, kind="session")
    ids = {row.appointment_id for row in sessions.report.rows}
    assert a["A1"] in ids and a["A5"] not in ids and a["A4"] not in ids and a["A9"] not in ids

    await sign_in(client, november.maya)
    page = await client.get("/report?kind=late_cancel_fee")
    assert page.status_code == 200 and '<option value="late_cancel_fee" selected' in page.text
    lines = read_csv((await client.get("/report.csv?kind=late_cancel_fee")).text)
    assert len(lines) == 2 and "Late-cancel fee" in lines[1] and "Alex Rivera" in lines[1]
    everything = read_csv((await client.get("/report.csv")).text)
    assert len(everything) > 2
