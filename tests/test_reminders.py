"""Session reminders: written by the minute sweep from the session as it is now, each (session, offset,
start) once by the database, sent by the real worker over real SMTP; never about a cancelled, moved or
archived session; a Redis flush delays them, never loses or doubles them."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from app.domain.reminders import due_reminder, parse_hours
from app.models.tables import Client, Clinician, EmailMessage, Reminder
from app.services import appointments, email, paperwork
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.charging_support import add_appointment, make_practice
from tests.helpers import make_client, post_form, sign_in
from workers.email import sweep_unsent_emails
from workers.reminders import sweep_reminders

T = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)


def test_offsets_are_whole_hours_and_at_most_three():
    assert parse_hours("48, 2") == ([48, 2], None)
    assert parse_hours("2,48,2") == ([48, 2], None)
    assert parse_hours(" ") == ([], None)
    for bad in ("48h", "0", "-2", "1.5", "9" * 40, "1,2,3,4", "24\x00", "\u0663", "\u00b9"):
        hours, problem = parse_hours(bad)
        assert hours == [] and problem, bad


def test_the_latest_passed_moment_is_due_and_nothing_from_before_the_booking():
    booked = T - timedelta(days=7)
    assert due_reminder(T, booked, [48, 2], T - timedelta(hours=49)) is None
    assert due_reminder(T, booked, [48, 2], T - timedelta(hours=48)) == 48
    assert due_reminder(T, booked, [48, 2], T - timedelta(hours=3)) == 48
    assert due_reminder(T, booked, [48, 2], T - timedelta(hours=1)) == 2  # the 48 h one is stale by now
    assert due_reminder(T, booked, [48, 2], T) is None
    assert due_reminder(T, T - timedelta(hours=30), [48, 2], T - timedelta(hours=29)) is None
    assert due_reminder(T, T - timedelta(hours=30), [48, 2], T - timedelta(hours=2)) == 2
    assert due_reminder(T, booked, [], T - timedelta(hours=1)) is None


@pytest.fixture
async def env(db, redis, arq_pool, settings, clock, smtp_server):
    live = replace(settings, smtp_url=smtp_server.url)
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(live, clock.now(), queue, card=None)
    await EmailMessage.delete().where(EmailMessage.id > 0)
    ctx = {"settings": live, "clock": clock, "redis": arq_pool}
    return practice, live, queue, ctx


async def reminders_sent(smtp_server) -> list:
    return [m for m in smtp_server.messages if m["Subject"].startswith("Reminder:")]


async def test_a_session_gets_its_reminders_at_48_and_2_hours_once_each(env, clock, smtp_server, run_worker):
    practice, live, _, ctx = env
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)

    for hours_before in (49, 48, 47, 2, 1):
        clock.at = starts - timedelta(hours=hours_before)
        await sweep_reminders(ctx)
        await sweep_reminders(ctx)  # a second sweep (another worker, a retry) adds nothing
        await run_worker(worker_settings=live)
    clock.at = starts + timedelta(minutes=1)
    assert await sweep_reminders(ctx) == 0

    sent = await reminders_sent(smtp_server)
    assert [m["To"] for m in sent] == [practice.client.email] * 2
    assert sent[0]["Subject"] == "Reminder: your session with Calm Harbor on Thu 3 Dec, 09:00"
    assert [(r.hours_before, r.starts_at) for r in await Reminder.objects().order_by(Reminder.id)] == [
        (48, starts),
        (2, starts),
    ]
    (part,) = [p for p in sent[1].iter_attachments() if p.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert str(event["UID"]) == f"appointment-{appointment_id}@stillwater"
    assert event.decoded("DTSTART") == starts


async def test_cancelled_a_minute_before_the_reminder_means_no_reminder(env, clock, smtp_server, run_worker):
    practice, live, queue, ctx = env
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    clock.at = starts - timedelta(hours=48, minutes=1)
    await appointments.change_status(
        appointment_id,
        "cancelled",
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=live,
        queue=queue,
    )
    for hours_before in (48, 2):
        clock.at = starts - timedelta(hours=hours_before)
        await sweep_reminders(ctx)
        await run_worker(worker_settings=live)
    assert await reminders_sent(smtp_server) == [] and await Reminder.count() == 0
    assert [m["Subject"] for m in smtp_server.messages] == ["Session cancelled: Calm Harbor"]


async def test_a_moved_session_is_reminded_for_its_new_time_only(env, clock, smtp_server, run_worker):
    practice, live, queue, ctx = env
    starts = clock.now() + timedelta(days=3)
    moved_to = starts + timedelta(days=1, hours=2)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    clock.at = starts - timedelta(hours=48)
    await sweep_reminders(ctx)  # written for the old time, not yet sent
    await appointments.reschedule(
        appointment_id,
        practice.clinician.user.clinician_id,
        starts_at=moved_to,
        minutes=50,
        allow_overlap=True,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=live,
        queue=queue,
    )
    await run_worker(worker_settings=live)
    outdated = await EmailMessage.objects().where(EmailMessage.kind == "sessions_reminder").first()
    assert outdated.sent_at is None and outdated.last_error == email.OUTDATED

    for at in (starts - timedelta(hours=2), moved_to - timedelta(hours=48), moved_to - timedelta(hours=2)):
        clock.at = at
        await sweep_reminders(ctx)
        await run_worker(worker_settings=live)
    sent = await reminders_sent(smtp_server)
    assert [m["Subject"] for m in sent] == ["Reminder: your session with Calm Harbor on Fri 4 Dec, 11:00"] * 2
    assert [m["Subject"] for m in smtp_server.messages][0] == "Session moved: Calm Harbor"


async def test_a_redis_flush_delays_reminders_but_never_loses_or_doubles_them(
    env, clock, smtp_server, run_worker, redis
):
    practice, live, _, ctx = env
    _, second_id = await make_client(
        live, clock.now(), practice.clinician, email="sam@example.test", name="Sam Lee", with_password=False
    )
    starts = clock.now() + timedelta(days=3)
    for client_id in (practice.client_id, second_id):
        await add_appointment(practice.clinician, client_id, starts)
    clock.at = starts - timedelta(hours=48)
    assert await sweep_reminders(ctx) == 2
    await redis.flushdb()  # the queued email jobs are gone
    await run_worker(worker_settings=live)
    assert await reminders_sent(smtp_server) == []
    for _ in range(3):
        clock.advance(minutes=6)
        assert await sweep_reminders(ctx) == 0  # already written: not again
        await sweep_unsent_emails(ctx)
        await run_worker(worker_settings=live)
    sent = await reminders_sent(smtp_server)
    assert sorted(m["To"] for m in sent) == sorted([practice.client.email, "sam@example.test"])


async def test_two_sweeps_at_once_write_each_reminder_once(env, clock):
    practice, live, _, ctx = env
    starts = clock.now() + timedelta(days=3)
    for hours in (0, 1, 2):
        await add_appointment(practice.clinician, practice.client_id, starts + timedelta(hours=hours))
    clock.at = starts - timedelta(hours=45)  # all three inside their 48 h
    counts = await asyncio.gather(sweep_reminders(ctx), sweep_reminders(ctx), sweep_reminders(ctx))
    assert sum(counts) == 3
    assert await Reminder.count() == 3
    assert await EmailMessage.count().where(EmailMessage.kind == "sessions_reminder") == 3


async def test_no_reminders_for_opted_out_archived_or_when_the_practice_turns_them_off(env, clock):
    practice, live, _, ctx = env
    starts = clock.now() + timedelta(days=3)
    await add_appointment(practice.clinician, practice.client_id, starts)
    clock.at = starts - timedelta(hours=47)
    for change in (
        {Client.reminders_off: True},
        {Client.archived_at: clock.now()},
    ):
        await Client.update(change).where(Client.id == practice.client_id)
        assert await sweep_reminders(ctx) == 0
        await Client.update({Client.reminders_off: False, Client.archived_at: None}).where(
            Client.id == practice.client_id
        )
    await Clinician.update({Clinician.reminder_hours: ""}).where(Clinician.id > 0)
    assert await sweep_reminders(ctx) == 0
    await Clinician.update({Clinician.reminder_hours: "72, 24"}).where(Clinician.id > 0)
    assert await sweep_reminders(ctx) == 1
    assert (await Reminder.objects().first()).hours_before == 72


async def test_the_practice_sets_its_offsets_and_a_client_can_be_left_out(client, env, clock):
    practice, *_ = env
    await sign_in(client, practice.clinician)
    page = await client.get("/settings/booking")
    assert 'name="reminder_hours"' in page.text and 'value="48, 2"' in page.text
    form = {
        name: value
        for name, value in _form_values(page.text).items()
        if name not in ("reminder_hours", "_csrf")
    }
    bad = await post_form(client, "/settings/booking", {**form, "reminder_hours": "48h"})
    assert "Enter whole hours separated by commas" in bad.text
    saved = await post_form(client, "/settings/booking", {**form, "reminder_hours": "2, 24"})
    assert saved.status_code == 303
    assert (await Clinician.objects().first()).reminder_hours == "24, 2"

    edit = await client.get(f"/clients/{practice.client_id}/edit")
    assert 'name="reminders" value="on" checked' in edit.text
    fields = {"name": "Alex Rivera", "phone": "", "billing_type": "self_pay", "internal_note": ""}
    await post_form(client, f"/clients/{practice.client_id}/edit", fields)
    assert (await Client.objects().where(Client.id == practice.client_id).first()).reminders_off
    await post_form(client, f"/clients/{practice.client_id}/edit", {**fields, "reminders": "on"})
    assert not (await Client.objects().where(Client.id == practice.client_id).first()).reminders_off


def _form_values(html: str) -> dict[str, str]:
    """The text inputs' and ticked checkboxes' values of a page (enough to resubmit the settings form)."""
    values = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        values[name.group(1)] = value.group(1) if value else ""
    return values


@pytest.mark.slow
async def test_two_worker_processes_and_a_redis_flush_send_each_reminder_once(
    db, redis, arq_pool, settings, smtp_server, tmp_path
):
    from app.clock import Clock
    from tests.test_charging_processes import start_worker, wait_for
    from tests.test_outages_workers import stop, worker_is_polling

    real = Clock()
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, real.now(), queue, card=None)
    _, second_id = await make_client(settings, real.now(), practice.clinician, email="sam@example.test")
    starts = real.now() + timedelta(hours=48) - timedelta(seconds=5)  # its 48-hour reminder is due
    for client_id in (practice.client_id, second_id):
        await add_appointment(practice.clinician, client_id, starts)
    cancelled = await add_appointment(practice.clinician, practice.client_id, starts + timedelta(hours=1))
    await appointments.change_status(
        cancelled,
        "cancelled",
        clinician_id=practice.clinician.user.clinician_id,
        now=real.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )

    async def sent():
        return [m["To"] for m in await reminders_sent(smtp_server)]

    log = tmp_path / "workers.log"
    with log.open("w") as output:
        workers = [start_worker(settings, output, SMTP_URL=smtp_server.url) for _ in range(2)]
        try:  # both run the sweep at start-up, at the same moment
            assert await wait_for(lambda: _two(sent)), log.read_text()[-3000:]
            await redis.flushdb()
            for worker in workers:
                stop(worker)
            workers = [start_worker(settings, output, SMTP_URL=smtp_server.url) for _ in range(2)]
            assert await wait_for(lambda: worker_is_polling(arq_pool, settings))
            await asyncio.sleep(3)  # their start-up sweeps have run
        finally:
            for worker in workers:
                stop(worker)
    assert sorted(await sent()) == sorted([practice.client.email, "sam@example.test"])
    assert await Reminder.count() == 2


async def _two(sent) -> bool:
    return len(await sent()) >= 2


async def test_the_first_session_reminder_names_the_forms_still_open_when_it_is_written(
    env, clock, smtp_server, run_worker
):
    practice, live, _, ctx = env
    clinician_id = practice.clinician.user.clinician_id
    by = Actor(user_id=practice.clinician.user.id, ip="203.0.113.7", user_agent="test")
    for title in ("Consent to treatment", "Privacy notice"):
        await paperwork.publish(clinician_id, title, "We meet weekly.", now=clock.now(), actor=by)
    sam, first_id = await make_client(live, clock.now(), practice.clinician, email="sam@example.test")
    starts = clock.now() + timedelta(days=3)
    await add_appointment(practice.clinician, first_id, starts)
    await add_appointment(practice.clinician, first_id, starts + timedelta(days=7))
    await add_appointment(practice.clinician, practice.client_id, starts)  # not Alex's first session

    clock.at = starts - timedelta(hours=48)
    await sweep_reminders(ctx)
    await run_worker(worker_settings=live)
    privacy = (await paperwork.documents_of(clinician_id))[1]
    await paperwork.sign(
        sam.user.id,
        first_id,
        privacy.id,
        privacy.latest.id,
        "Sam Lee",
        now=clock.now(),
        actor=Actor(sam.user.id),
    )
    clock.at = starts - timedelta(hours=2)
    await sweep_reminders(ctx)
    await run_worker(worker_settings=live)
    clock.at = starts + timedelta(days=7, hours=-2)
    await sweep_reminders(ctx)
    await run_worker(worker_settings=live)

    texts = {m["To"]: [] for m in await reminders_sent(smtp_server)}
    for m in await reminders_sent(smtp_server):
        texts[m["To"]].append(m.get_body(("plain",)).get_content())
    at_48, at_2, second_session = texts["sam@example.test"]
    assert "3 forms to complete before your session: Consent to treatment, Privacy notice, Intake " in at_48
    assert f"{live.base_url}/portal/forms" in at_48
    assert "2 forms to complete before your session: Consent to treatment, Intake questionnaire" in at_2
    assert "forms to complete" not in second_session
    assert all("forms to complete" not in t for t in texts[practice.client.email])
    assert all("therapy" not in t.lower() for t in at_48 + at_2)
