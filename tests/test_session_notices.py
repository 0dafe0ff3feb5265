"""A session that moves, is called off or is back on: the client gets an email whose .ics updates the
event their calendar already has (same UID, a SEQUENCE that only grows), whoever made the change."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from app.domain.appointments import Notice, status_notice
from app.models.tables import Appointment, EmailMessage
from app.services import email
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_calendar import add_appointment

ALEX = "alex@example.test"
NY = ZoneInfo("America/New_York")  # the test practice's zone


async def outbox(address: str = ALEX) -> list[EmailMessage]:
    return await EmailMessage.objects().where(EmailMessage.to_address == address).order_by(EmailMessage.id)


def calendar_event(message: EmailMessage):
    """(METHOD, the one VEVENT) of the message's .ics."""
    (attachment,) = email.attachments_of(message)
    calendar = Calendar.from_ical(attachment.content)
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


async def practice(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician, email=ALEX)
    await sign_in(client, clinician)
    return clinician, client_id


def test_what_a_status_change_tells_the_client():
    assert status_notice("scheduled", "cancelled") == Notice.CANCELLED
    assert status_notice("occurred", "late_cancelled") == Notice.CANCELLED
    assert status_notice("cancelled", "scheduled") == Notice.BOOKED
    assert status_notice("late_cancelled", "scheduled") == Notice.BOOKED
    for old, new in [("scheduled", "occurred"), ("scheduled", "no_show"), ("cancelled", "late_cancelled")]:
        assert status_notice(old, new) is None, (old, new)


async def test_moved_cancelled_and_restored_update_one_calendar_event(client, settings, clock):
    clinician, client_id = await practice(client, settings, clock)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(clinician, client_id, starts)
    local = starts.astimezone(NY)

    moved = await post_form(
        client,
        f"/appointments/{appointment_id}/reschedule",
        {"date": f"{local:%Y-%m-%d}", "time": "14:00", "minutes": "50"},
    )
    assert moved.status_code in (200, 303), moved.text
    for status in ("cancelled", "scheduled"):
        changed = await post_form(client, f"/appointments/{appointment_id}/status", {"status": status})
        assert changed.status_code in (200, 303)

    sent = await outbox()
    assert [m.kind for m in sent] == ["sessions_moved", "sessions_cancelled", "sessions_booked"]
    assert sent[0].subject == "Session moved: Calm Harbor" and "14:00" in sent[0].text_body
    assert sent[1].subject == "Session cancelled: Calm Harbor"
    events = [calendar_event(m) for m in sent]
    assert [(method, e["SEQUENCE"], str(e["STATUS"])) for method, e in events] == [
        ("REQUEST", 1, "CONFIRMED"),
        ("CANCEL", 2, "CANCELLED"),
        ("REQUEST", 3, "CONFIRMED"),
    ]
    assert {str(e["UID"]) for _, e in events} == {f"appointment-{appointment_id}@stillwater"}
    new_start = events[0][1].decoded("DTSTART")
    assert new_start.astimezone(NY).hour == 14 and new_start.date() == local.date()
    stored = await Appointment.objects().where(Appointment.id == appointment_id).first()
    assert stored.sequence == 3  # kept with the appointment, not worked out from the clock


async def test_records_about_a_past_session_send_nothing(client, settings, clock):
    clinician, client_id = await practice(client, settings, clock)
    past = await add_appointment(clinician, client_id, clock.now() - timedelta(hours=2))
    for status in ("occurred", "late_cancelled", "no_show"):
        changed = await post_form(client, f"/appointments/{past}/status", {"status": status})
        assert changed.status_code in (200, 303)
    assert await Appointment.count().where(Appointment.status == "no_show") == 1
    assert await outbox() == []


async def test_archiving_a_client_sends_one_cancellation_for_all_their_upcoming_sessions(
    client, settings, clock
):
    clinician, client_id = await practice(client, settings, clock)
    await add_appointment(clinician, client_id, clock.now() - timedelta(days=2), status="occurred")
    upcoming = [await add_appointment(clinician, client_id, clock.now() + timedelta(days=d)) for d in (1, 8)]
    confirm = await client.get(f"/clients/{client_id}/archive")
    plan = confirm.text.split('name="plan" value="')[1].split('"')[0]
    done = await post_form(client, f"/clients/{client_id}/archive", {"plan": plan})
    assert done.status_code == 303

    (message,) = await outbox()
    assert message.kind == "sessions_cancelled" and message.subject == "2 sessions cancelled: Calm Harbor"
    (attachment,) = email.attachments_of(message)
    calendar = Calendar.from_ical(attachment.content)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert sorted(str(e["UID"]) for e in calendar.walk("VEVENT")) == sorted(
        f"appointment-{i}@stillwater" for i in upcoming
    )
    assert {str(e["STATUS"]) for e in calendar.walk("VEVENT")} == {"CANCELLED"}


async def test_a_series_edit_and_cancel_each_send_one_email(client, settings, clock):
    clinician, client_id = await practice(client, settings, clock)
    source = await add_appointment(clinician, client_id, clock.now())
    form = {"date": "2026-12-07", "time": "09:00", "minutes": "50", "fee": "150", "every": "1", "count": "3"}
    await post_form(client, f"/appointments/{source}/book-next", {**form, "action": "book"})
    rows = await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)
    assert len(rows) == 3

    fee_only = {"scope": "following", "time": "09:00", "minutes": "50", "fee": "160"}
    assert (await post_form(client, f"/appointments/{rows[0].id}/series", fee_only)).status_code in (200, 303)
    later = {"scope": "following", "time": "10:00", "minutes": "50", "fee": "160"}
    assert (await post_form(client, f"/appointments/{rows[0].id}/series", later)).status_code in (200, 303)
    cancel = {"cancel_scope": "following"}
    assert (await post_form(client, f"/appointments/{rows[1].id}/series/cancel", cancel)).status_code in (
        200,
        303,
    )

    booked, moved, cancelled = await outbox()
    assert (booked.kind, moved.kind, cancelled.kind) == (
        "sessions_booked",
        "sessions_moved",
        "sessions_cancelled",
    )
    assert moved.subject == "3 sessions moved: Calm Harbor" and "10:00" in moved.text_body
    assert cancelled.subject == "2 sessions cancelled: Calm Harbor"
    (attachment,) = email.attachments_of(cancelled)
    events = Calendar.from_ical(attachment.content).walk("VEVENT")
    assert sorted(str(e["UID"]) for e in events) == [f"appointment-{r.id}@stillwater" for r in rows[1:]]
    # fee change, move, cancel: each bumped the stored sequence
    assert [e["SEQUENCE"] for e in events] == [3, 3]


async def test_a_client_cancelling_in_the_portal_gets_the_calendar_update(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), clinician, email=ALEX)
    appointment_id = await add_appointment(clinician, client_id, clock.now() + timedelta(days=4))
    await sign_in(client, person)
    cancelled = await post_form(client, f"/portal/sessions/{appointment_id}/cancel")
    assert cancelled.status_code == 303

    (message,) = await outbox()
    method, event = calendar_event(message)
    assert (method, event["SEQUENCE"], str(event["STATUS"])) == ("CANCEL", 1, "CANCELLED")
    assert str(event["UID"]) == f"appointment-{appointment_id}@stillwater"
