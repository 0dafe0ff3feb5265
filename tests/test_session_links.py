"""The reminder's one-tap link: no sign-in; opening it changes nothing; Confirm and Cancel work once, under
the practice's cancellation window; a link for a time the session no longer has is dead."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.models.tables import Appointment, AuditEvent, EmailMessage, StatusChange, WorkingHours
from app.services import appointments
from app.services.queue import JobQueue
from tests.charging_support import add_appointment, make_practice
from tests.helpers import link_in, post_form, sign_in
from workers.reminders import sweep_reminders


async def reminder_link(practice, clock, settings, arq_pool, starts) -> str:
    clock.at = starts - timedelta(hours=48)
    await sweep_reminders({"settings": settings, "clock": clock, "redis": arq_pool})
    message = (
        await EmailMessage.objects()
        .where(EmailMessage.kind == "sessions_reminder")
        .order_by(EmailMessage.id, ascending=False)
        .first()
    )
    return link_in(message.text_body, "/s/")


async def test_a_client_confirms_from_the_reminder_without_signing_in(client, settings, clock, arq_pool):
    practice = await make_practice(settings, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    path = await reminder_link(practice, clock, settings, arq_pool, starts)

    page = await client.get(path)
    assert page.status_code == 200 and "Confirm: I'll be there" in page.text
    assert "Thursday 3 December, 09:00" in page.text  # the client's zone
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).confirmed_at is None

    confirmed = await post_form(client, f"{path}/confirm")
    assert confirmed.status_code == 200 and "your session is confirmed" in confirmed.text
    again = await post_form(client, f"{path}/confirm")
    assert again.status_code == 200 and "Confirm: I'll be there" not in again.text
    stored = await Appointment.objects().get(Appointment.id == appointment_id)
    assert stored.confirmed_at == clock.now() and stored.status == "scheduled"
    audited = await AuditEvent.objects().where(AuditEvent.action == "appointment_confirmed")
    assert [(a.object_id, a.actor_id, a.actor_role) for a in audited] == [
        (appointment_id, practice.client.user.id, "client")
    ]

    await sign_in(client, practice.clinician)
    panel = await client.get(f"/appointments/{appointment_id}")
    assert "Confirmed" in panel.text and "by the client, Tue 1 Dec, 09:00" in panel.text


async def test_cancel_from_the_link_follows_the_window(client, settings, clock, arq_pool):
    practice = await make_practice(settings, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    path = await reminder_link(practice, clock, settings, arq_pool, starts)

    clock.at = starts - timedelta(hours=47)  # inside the 48-hour window
    page = await client.get(path)
    assert "can't be cancelled online" in page.text and "Cancel this session" not in page.text
    refused = await post_form(client, f"{path}/cancel")
    assert refused.status_code == 409 and "maya@example.test" in refused.text
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).status == "scheduled"

    await Appointment.update({Appointment.starts_at: starts + timedelta(days=1)}).where(
        Appointment.id == appointment_id
    )
    assert (await client.get(path)).status_code == 404  # the link was for the old time

    later = starts + timedelta(days=1)
    path = await reminder_link(practice, clock, settings, arq_pool, later)
    clock.at = later - timedelta(hours=49)
    assert "Cancel this session" in (await client.get(path)).text
    cancelled = await post_form(client, f"{path}/cancel")
    assert cancelled.status_code == 200 and "Your session is cancelled" in cancelled.text
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).status == "cancelled"
    (change,) = await StatusChange.objects().where(StatusChange.appointment == appointment_id)
    assert (change.to_status, change.changed_by) == ("cancelled", practice.client.user.id)
    notice = await EmailMessage.objects().where(EmailMessage.kind == "sessions_cancelled").first()
    assert notice.to_address == practice.client.email


async def test_a_wrong_or_moved_link_is_not_found_and_a_move_clears_the_confirmation(
    client, settings, clock, arq_pool
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=None)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    path = await reminder_link(practice, clock, settings, arq_pool, starts)
    assert (await client.get(path[:-4] + "0000")).status_code == 404
    assert (
        await client.get(path.replace(f"/s/{appointment_id}/", f"/s/{practice.appointment_id}/"))
    ).status_code == 404
    assert (await post_form(client, f"{path[:-4]}0000/confirm")).status_code == 404
    for hostile in ("%C3%A9" * 20, "a%00b", "x" * 5000):
        assert (await client.get(f"/s/{appointment_id}/{hostile}")).status_code == 404
    assert (await client.get(f"/s/{'9' * 30}/{path[-40:]}")).status_code in (400, 404)

    await post_form(client, f"{path}/confirm")
    await appointments.reschedule(
        appointment_id,
        practice.clinician.user.clinician_id,
        starts_at=starts + timedelta(hours=3),
        minutes=50,
        allow_overlap=True,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).confirmed_at is None
    assert (await client.get(path)).status_code == 404
    assert (await post_form(client, f"{path}/cancel")).status_code == 404
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).status == "scheduled"


async def test_outside_the_window_the_client_moves_to_an_open_time_that_week(
    client, settings, clock, arq_pool
):
    practice = await make_practice(settings, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    clinician_id = practice.clinician.user.clinician_id
    await WorkingHours.insert(
        *[
            WorkingHours(clinician=clinician_id, weekday=d, start_minute=9 * 60, end_minute=12 * 60)
            for d in range(5)
        ]
    )
    starts = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)  # Wednesday 09:00 New York
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    path = await reminder_link(practice, clock, settings, arq_pool, starts)
    clock.at = starts - timedelta(hours=72)  # the client opens it early: outside the 48-hour window

    page = await client.get(path)
    times = re.findall(r'name="slot" value="([^"]+)"', page.text)
    labels = re.findall(r'name="slot" value="[^"]+" class="button">([^<]+)<', page.text)
    assert labels[0] == "Mon 7 Dec, 09:00" and labels[-1] == "Fri 11 Dec, 11:00"  # that week only
    assert "Wed 9 Dec, 09:00" not in labels  # its own time
    assert all(label[:3] in {"Mon", "Tue", "Wed", "Thu", "Fri"} for label in labels)

    friday = times[-1]
    moved = await post_form(client, f"{path}/move", {"slot": friday})
    assert moved.status_code == 303
    new_page = await client.get(moved.headers["location"])
    assert (
        "Your session is moved to this time" in new_page.text and "Friday 11 December, 11:00" in new_page.text
    )
    stored = await Appointment.objects().get(Appointment.id == appointment_id)
    assert stored.starts_at == datetime(2026, 12, 11, 16, 0, tzinfo=UTC) and stored.sequence == 1
    assert (await client.get(path)).status_code == 404  # the old time's link is dead
    notice = await EmailMessage.objects().where(EmailMessage.kind == "sessions_moved").first()
    assert notice.to_address == practice.client.email and "11:00" in notice.text_body
    (event,) = await AuditEvent.objects().where(AuditEvent.action == "appointment_rescheduled")
    assert (event.actor_id, event.actor_role) == (practice.client.user.id, "client")

    new_path = moved.headers["location"].split("?")[0]
    await add_appointment(practice.clinician, practice.client_id, datetime(2026, 12, 7, 14, 0, tzinfo=UTC))
    taken = await post_form(client, f"{new_path}/move", {"slot": times[0]})  # offered earlier, taken since
    assert taken.status_code == 409 and "That time was just taken" in taken.text
    for bad in ("", "tomorrow", "2026-12-08T15:07Z", "2026-12-19T15:00Z", "9999-12-08T15:00Z"):
        refused = await post_form(client, f"{new_path}/move", {"slot": bad})
        assert refused.status_code == 409
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).starts_at == stored.starts_at
