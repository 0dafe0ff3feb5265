"""What a clinician sees and books around "today" holds on any date: every expectation here is worked
out from the suite's instant (``clock``) in the practice's zone, never written down as a date.

CI runs this file (and the other tests marked ``dates``) again with TEST_NOW at awkward instants:
1 January, a month's last day, 29 February, both US daylight-saving days, and 23:30 in New York when
UTC is already tomorrow (``scripts/test-dates``). A failure there is a date bug in the app."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.models.tables import Appointment, Charge
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.queue import JobQueue
from tests.charging_support import fast_forward, gateway_charges, make_practice, mark, the_charge
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_calendar import add_appointment, signed_in_clinician

pytestmark = pytest.mark.dates

NY = ZoneInfo("America/New_York")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York on ``day``, as a UTC instant."""
    return datetime.combine(day, time(hour, minute), NY).astimezone(UTC)


def today(clock) -> date:
    return clock.now().astimezone(NY).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def shown_title(page: str) -> str:
    return re.search(r'<h1 id="calendar-title">([^<]+)</h1>', page).group(1)


def cells(page: str) -> list[str]:
    return re.findall(r'<a id="appt-\d+".*?</a>', page, re.S)


async def test_day_week_and_month_open_on_the_local_today(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    day = today(clock)
    await add_appointment(clinician, client_id, at(day, 0, 15))  # the first minutes of the local day
    await add_appointment(clinician, client_id, at(day - timedelta(days=1), 23, 0))  # the evening before

    page = (await client.get("/calendar?view=day")).text
    assert shown_title(page) == f"{day:%A} {day.day} {day:%B %Y}"
    assert len(cells(page)) == 1 and "00:15" in cells(page)[0]
    assert f'date={day - timedelta(days=1)}"' in page and f'date={day + timedelta(days=1)}"' in page

    week = (await client.get("/calendar?view=week")).text
    monday = monday_of(day)
    assert f"{monday.day}" in shown_title(week) and f"{(monday + timedelta(days=6)).year}" in shown_title(
        week
    )
    expected = 2 if monday < day else 1  # the evening before is in this week unless today is Monday
    assert len(cells(week)) == expected
    assert f'date={day - timedelta(days=7)}"' in week and f'date={day + timedelta(days=7)}"' in week

    month = (await client.get("/calendar?view=month")).text
    assert shown_title(month) == f"{day:%B %Y}"


async def test_booking_tomorrow_lands_at_that_wall_clock_time(client, settings, clock):
    _, client_id = await signed_in_clinician(client, settings, clock)
    tomorrow = today(clock) + timedelta(days=1)
    response = await post_form(
        client, "/appointments", {"client_id": str(client_id), "date": tomorrow.isoformat(), "time": "09:30"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/calendar?view=day&date={tomorrow}"
    booked = await Appointment.objects().first()
    assert booked.starts_at == at(tomorrow, 9, 30)
    page = (await client.get(response.headers["location"])).text
    assert len(cells(page)) == 1 and "09:30" in cells(page)[0]


async def test_occurred_only_once_the_session_has_started(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    ended = await add_appointment(clinician, client_id, clock.now() - timedelta(minutes=60))
    under_way = await add_appointment(clinician, client_id, clock.now() - timedelta(minutes=10))
    later = await add_appointment(clinician, client_id, clock.now() + timedelta(minutes=10))

    page = (await client.get("/calendar/needs-status")).text
    assert f"appointments/{ended}" in page
    assert f"appointments/{under_way}" not in page and f"appointments/{later}" not in page
    refused = await post_form(client, f"/appointments/{later}/status", {"status": "occurred"}, htmx=True)
    assert refused.status_code == 200
    assert (await Appointment.objects().get(Appointment.id == later)).status == "scheduled"
    await post_form(client, f"/appointments/{under_way}/status", {"status": "occurred"}, htmx=True)
    assert (await Appointment.objects().get(Appointment.id == under_way)).status == "occurred"


async def test_a_weekly_series_from_today_keeps_its_weekday_and_wall_clock(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    day = today(clock)
    source = await add_appointment(clinician, client_id, at(day, 10))
    first = day + timedelta(days=7)
    form = {
        "date": first.isoformat(),
        "time": "10:00",
        "minutes": "50",
        "fee": "150",
        "every": "1",
        "count": "6",
        "action": "book",
    }
    await post_form(client, f"/appointments/{source}/book-next", form)
    rows = await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)
    assert [row.starts_at for row in rows] == [at(first + timedelta(weeks=n), 10) for n in range(6)]


async def test_the_charge_falls_due_48_hours_after_marking_and_not_a_minute_before(
    db, redis, settings, clock, arq_pool, run_worker
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    charge = await the_charge(practice.appointment_id)
    assert charge.due_at == clock.now() + timedelta(hours=48)

    clock.advance(hours=47, minutes=59)
    await charges.sweep(now=clock.now(), settings=settings, gateway=SandboxGateway(), queue=queue)
    await fast_forward(redis, settings)  # arq waits by the real clock; the suite's is elsewhere
    await run_worker()
    assert (await the_charge(practice.appointment_id)).status == "scheduled"
    clock.advance(minutes=1)
    await charges.sweep(now=clock.now(), settings=settings, gateway=SandboxGateway(), queue=queue)
    await fast_forward(redis, settings)
    await run_worker()
    assert (await the_charge(practice.appointment_id)).status == "succeeded"
    assert await gateway_charges() == 1 and await Charge.count() == 1


async def test_this_months_report_counts_sessions_by_the_local_calendar(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    day = today(clock)
    first_of_month = day.replace(day=1)
    await add_appointment(clinician, client_id, at(first_of_month, 0, 15))  # in: the month's first minutes
    await add_appointment(clinician, client_id, at(day, 0, 30))  # in: today, early
    await add_appointment(
        clinician, client_id, at(first_of_month - timedelta(days=1), 23, 45)
    )  # out: last month

    page = (await client.get("/report")).text
    assert re.search(r"<dt>All sessions</dt><dd>2</dd>", page)
    last_month = (await client.get("/report?preset=last_month")).text
    assert re.search(r"<dt>All sessions</dt><dd>1</dd>", last_month)


async def test_the_portal_splits_upcoming_and_past_at_this_minute(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), clinician)
    await add_appointment(clinician, client_id, clock.now() - timedelta(minutes=55))
    soon = clock.now() + timedelta(minutes=5)
    await add_appointment(clinician, client_id, soon)
    await sign_in(client, person)
    page = (await client.get("/portal")).text
    upcoming, _, past = page.partition("Past")
    assert soon.astimezone(NY).strftime("%H:%M") in upcoming
    assert (clock.now() - timedelta(minutes=55)).astimezone(NY).strftime("%H:%M") in past
