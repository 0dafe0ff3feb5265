"""The clinician's evening summary (issue 19): from 18:00 in the practice's zone, one email a day with
tomorrow's sessions, who has not confirmed, and the charges taken in the next 24 hours; sent once
however many sweeps run, over real SMTP by a real worker; off when the clinician turns it off."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.summaries import summary_day, tomorrow_of
from app.models.tables import Appointment, Client, Clinician, EveningSummary
from app.services.queue import JobQueue
from tests.charging_support import add_appointment, make_practice, mark
from tests.helpers import post_form, sign_in
from tests.test_reminders import _form_values
from workers.reminders import sweep_evening_summaries

NEW_YORK = ZoneInfo("America/New_York")


def test_the_summary_is_due_from_six_in_the_evening_local_time():
    monday = date(2026, 11, 30)
    assert summary_day(datetime(2026, 11, 30, 22, 59, tzinfo=UTC), NEW_YORK) is None  # 17:59 there
    assert summary_day(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), NEW_YORK) == monday
    assert summary_day(datetime(2026, 12, 1, 4, 59, tzinfo=UTC), NEW_YORK) == monday  # 23:59 there
    assert summary_day(datetime(2026, 12, 1, 5, 0, tzinfo=UTC), NEW_YORK) is None
    starts, ends = tomorrow_of(monday, NEW_YORK)
    assert (starts.isoformat(), ends - starts) == ("2026-12-01T00:00:00-05:00", timedelta(days=1))


@pytest.fixture
async def env(db, redis, arq_pool, settings, clock, smtp_server):
    live = replace(settings, smtp_url=smtp_server.url)
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(live, clock.now(), queue)  # with a card: its session will be charged
    return practice, live, queue, {"settings": live, "clock": clock, "redis": arq_pool}


def summaries(smtp_server) -> list:
    return [m for m in smtp_server.messages if m["Subject"].startswith("Tomorrow:")]


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def test_one_summary_an_evening_with_tomorrows_sessions_and_charges(
    env, clock, smtp_server, run_worker
):
    practice, live, queue, ctx = env
    monday_evening = clock.now().astimezone(NEW_YORK).replace(hour=18, minute=0)
    tuesday_9 = monday_evening + timedelta(hours=15)
    confirmed = await add_appointment(practice.clinician, practice.client_id, tuesday_9)
    await Appointment.update({Appointment.confirmed_at: clock.now()}).where(Appointment.id == confirmed)
    waiting = await add_appointment(practice.clinician, practice.client_id, tuesday_9 + timedelta(hours=2))
    await add_appointment(practice.clinician, practice.client_id, tuesday_9 + timedelta(days=1))
    await mark(practice, "occurred", clock.now(), live, queue)  # today's session: charged in 48 hours

    clock.at = monday_evening - timedelta(minutes=1)
    assert await sweep_evening_summaries(ctx) == 0
    clock.at = monday_evening
    assert sum(await asyncio.gather(*(sweep_evening_summaries(ctx) for _ in range(3)))) == 1
    clock.advance(minutes=30)
    assert await sweep_evening_summaries(ctx) == 0
    await run_worker(worker_settings=live)

    [sent] = summaries(smtp_server)
    assert sent["Subject"] == "Tomorrow: 2 sessions, 1 not confirmed"
    assert sent["To"] == practice.clinician.email
    text = body(sent)
    name = (await Client.objects().get(Client.id == practice.client_id)).name
    assert f"09:00 {name}: confirmed: {live.base_url}/appointments/{confirmed}" in text
    assert f"11:00 {name}: not confirmed yet: {live.base_url}/appointments/{waiting}" in text
    assert "$150.00" not in text  # not within the next 24 hours yet
    assert await EveningSummary.count() == 1

    clock.at = monday_evening + timedelta(days=1)  # Tuesday evening: Wednesday's session
    assert await sweep_evening_summaries(ctx) == 1
    await run_worker(worker_settings=live)
    tuesday = summaries(smtp_server)[1:]
    assert [m["Subject"] for m in tuesday] == ["Tomorrow: 1 session, 1 not confirmed"]
    assert f"$150.00 from {name}, Wed 09:00: {live.base_url}/appointments/{practice.appointment_id}" in body(
        tuesday[0]
    )


async def test_no_summary_when_turned_off_or_nothing_is_on_tomorrow(client, env, clock):
    practice, live, queue, ctx = env
    evening = clock.now().astimezone(NEW_YORK).replace(hour=18, minute=0)
    clock.at = evening
    assert await sweep_evening_summaries(ctx) == 0  # nothing tomorrow
    await add_appointment(practice.clinician, practice.client_id, evening + timedelta(hours=16))

    await sign_in(client, practice.clinician)
    page = await client.get("/settings/booking")
    assert 'name="evening_summary"' in page.text and "Evening summary email" in page.text
    form = {k: v for k, v in _form_values(page.text).items() if k not in ("evening_summary", "_csrf")}
    assert (await post_form(client, "/settings/booking", form)).status_code == 303
    assert (await Clinician.objects().first()).evening_summary is False
    assert await sweep_evening_summaries(ctx) == 0
    assert await EveningSummary.count() == 0
