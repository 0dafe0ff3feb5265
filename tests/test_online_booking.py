"""Online booking: slots from settings (buffers, notice, horizon, overlapping ranges), the public page
(one transaction: client, login, appointment, invitation, confirmation with .ics), the race for one
slot, bad input, abuse defences, portal booking and cancelling, settings validation, the calendar feed."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from app.models.tables import Appointment, Client, Clinician, EmailMessage, StatusChange, User, WorkingHours
from app.services import availability, email
from tests.conftest import browser
from tests.helpers import (
    PASSWORD,
    link_in,
    make_client,
    make_clinician,
    post_form,
    sign_in,
)
from tests.test_calendar import add_appointment

FIRST_SLOT = "2026-12-01T14:00Z"  # Tue 1 Dec 09:00 New York: the first start after 24 h notice
SLUG = "calm-harbor"


async def practice_with_hours(settings, clock, **columns):
    clinician = await make_clinician(settings, clock.now())
    clinician_id = clinician.user.clinician_id
    await WorkingHours.insert(
        *[
            WorkingHours(clinician=clinician_id, weekday=d, start_minute=9 * 60, end_minute=17 * 60)
            for d in range(5)
        ]
    )
    if columns:
        await Clinician.update({getattr(Clinician, k): v for k, v in columns.items()}).where(
            Clinician.id == clinician_id
        )
    return clinician


def visitor(**extra):
    return {
        "kind": "intro",
        "tz": "America/New_York",
        "slot": FIRST_SLOT,
        "name": "Jordan Park",
        "email": "jordan@example.test",
        "billing_type": "self_pay",
        "agree": "on",
        **extra,
    }


def text(response) -> str:
    return html.unescape(response.text)


async def test_slots_respect_notice_buffer_horizon_and_overlapping_ranges(settings, clock, db, redis):
    clinician = await practice_with_hours(settings, clock, horizon_days=3, buffer_minutes=15)
    _, client_id = await make_client(settings, clock.now(), clinician)
    clinician_id = clinician.user.clinician_id
    # Tuesday also has an overlapping evening range: 16:00-19:00 joins 09:00-17:00.
    await WorkingHours.insert(
        WorkingHours(clinician=clinician_id, weekday=1, start_minute=16 * 60, end_minute=19 * 60)
    )
    await add_appointment(
        clinician, client_id, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), minutes=50
    )  # 10:00-10:50
    practice = await availability.practice_by(clinician_id=clinician_id)
    slots = await availability.open_slots(practice, 50, clock.now())
    local = [s.astimezone(ZoneInfo("America/New_York")) for s in slots]
    tuesday = [f"{s:%H:%M}" for s in local if s.day == 1]
    # 09:00-09:50 would end within 15 minutes of the 10:00 session; after it, 10:50 + 15 -> 11:15.
    assert tuesday[0] == "11:15"
    assert tuesday[-1] == "18:00"  # the merged range ends at 19:00
    assert all(s >= clock.now() + timedelta(hours=24) for s in slots)  # notice
    assert max(slots) <= clock.now() + timedelta(days=3)  # horizon
    assert {s.weekday() for s in local} <= {0, 1, 2, 3}


async def test_public_booking_creates_client_login_appointment_and_emails_then_portal(
    client, other_client, settings, clock
):
    await practice_with_hours(settings, clock)
    page = await client.get(f"/book/{SLUG}?tz=Europe/London")
    assert page.status_code == 200
    assert "Book with Calm Harbor" in page.text and "Calm Harbor is in America/New_York" in page.text
    assert f'value="{FIRST_SLOT}"' in page.text
    assert re.search(r'value="2026-12-01T14:00Z"><span>14:00</span>', page.text)  # shown in London time

    done = await post_form(client, f"/book/{SLUG}", visitor(tz="Europe/London"))
    assert done.status_code == 200 and "Thank you" in done.text
    assert "Tuesday 1 December 2026, 14:00" in done.text

    record = await Client.objects().where(Client.email == "jordan@example.test").first()
    user = await User.objects().where(User.email == "jordan@example.test").first()
    assert record.name == "Jordan Park" and record.user == user.id and user.password_hash is None
    appointment = await Appointment.objects().where(Appointment.client == record.id).first()
    assert (appointment.kind, appointment.duration_minutes, appointment.booked_via) == ("intro", 15, "public")
    kinds = sorted(m.kind for m in await EmailMessage.objects().where(EmailMessage.to_address == user.email))
    assert kinds == ["invitation", "sessions_booked"]
    confirmation = await EmailMessage.objects().where(EmailMessage.kind == "sessions_booked").first()
    (ics,) = email.attachments_of(confirmation)
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)

    invitation = await EmailMessage.objects().where(EmailMessage.kind == "invitation").first()
    path = link_in(invitation.text_body, "/invite/")
    activated = await post_form(other_client, path, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert activated.status_code in (200, 303)
    portal = await other_client.get("/portal")
    assert "Tuesday 01 December, 09:00" in portal.text  # the client's zone is the practice's
    assert "Cancel this session" not in portal.text  # inside the 48 h window
    assert "to cancel, contact Calm Harbor at" in text(portal)


async def test_existing_client_is_found_and_the_answer_never_reveals_it(client, settings, clock):
    clinician = await practice_with_hours(settings, clock)
    _, client_id = await make_client(settings, clock.now(), clinician)  # alex, with a password
    new = await post_form(client, f"/book/{SLUG}", visitor())
    known = await post_form(
        client,
        f"/book/{SLUG}",
        visitor(email="ALEX@example.test", name="Someone Else", slot="2026-12-01T15:00Z"),
    )
    strip = lambda r: re.sub(r"<strong>.*?</strong>", "", r.text)  # noqa: E731 - the booked time differs
    assert strip(new) == strip(known)
    assert "Alex Rivera" not in known.text
    assert await Client.count().where(Client.email == "alex@example.test") == 1
    alex_sessions = await Appointment.objects().where(Appointment.client == client_id)
    assert len(alex_sessions) == 1
    kinds = [
        m.kind for m in await EmailMessage.objects().where(EmailMessage.to_address == "alex@example.test")
    ]
    assert kinds == ["sessions_booked"]  # alex has a password: no invitation


async def test_bad_input_is_answered_next_to_the_field(client, settings, clock):
    await practice_with_hours(settings, clock)
    cases = {
        "2026-11-30T13:00Z": "That time was just taken",  # in the past: not offered
        "2026-12-01T14:07Z": "That time was just taken",  # not on the slot grid
        "tomorrow at nine": "isn&#39;t one we offered",
        "": "Choose a time.",
    }
    for slot, message in cases.items():
        response = await post_form(client, f"/book/{SLUG}", visitor(slot=slot))
        assert response.status_code == 422 and message in response.text, slot
        assert 'id="f-slot-error"' in response.text
    missing = await post_form(client, f"/book/{SLUG}", visitor(name="", email="nope", agree=""))
    assert 'id="f-name-error"' in missing.text and 'id="f-email-error"' in missing.text
    assert 'id="f-agree-error"' in missing.text
    assert 'value="nope"' in missing.text  # nothing typed is lost
    assert await Appointment.count() == 0 and await Client.count() == 0


async def test_a_taken_slot_says_so_and_shows_fresh_slots(client, other_client, settings, clock):
    await practice_with_hours(settings, clock)
    await post_form(client, f"/book/{SLUG}", visitor())
    second = await post_form(other_client, f"/book/{SLUG}", visitor(email="sam@example.test", name="Sam"))
    assert second.status_code == 422
    assert "That time was just taken. Here are the times still free." in second.text
    assert f'value="{FIRST_SLOT}"' not in second.text and 'value="2026-12-01T15:00Z"' in second.text
    assert 'value="sam@example.test"' in second.text
    assert "Jordan" not in second.text


async def test_two_visitors_racing_for_one_slot_exactly_one_wins(app, settings, clock):
    await practice_with_hours(settings, clock)
    visitors = [browser(app) for _ in range(4)]
    try:
        for person in visitors:
            await person.get(f"/book/{SLUG}")
        results = await asyncio.gather(
            *[
                post_form(person, f"/book/{SLUG}", visitor(email=f"v{index}@example.test", name=f"V {index}"))
                for index, person in enumerate(visitors)
            ]
        )
    finally:
        for person in visitors:
            await person.aclose()
    assert sorted(r.status_code for r in results) == [200, 422, 422, 422]
    assert sum("That time was just taken" in r.text for r in results) == 3
    assert await Appointment.count() == 1
    assert await Client.count() == 1


async def test_honeypot_and_rate_limit(client, settings, clock):
    await practice_with_hours(settings, clock)
    bot = await post_form(client, f"/book/{SLUG}", visitor(website="http://spam.example"))
    assert bot.status_code == 200 and "Thank you" in bot.text
    assert await Appointment.count() == 0
    for _ in range(7):
        await post_form(client, f"/book/{SLUG}", visitor(slot=""))
    limited = await post_form(client, f"/book/{SLUG}", visitor())
    assert limited.status_code == 429 and await Appointment.count() == 0


async def test_closed_page_and_unknown_slug(client, settings, clock):
    await practice_with_hours(settings, clock, new_clients_may_book=False)
    page = await client.get(f"/book/{SLUG}")
    assert "Online booking for new clients is closed" in page.text and "Sign in to book" in page.text
    refused = await post_form(client, f"/book/{SLUG}", visitor())
    assert refused.status_code == 422 and await Appointment.count() == 0
    assert (await client.get("/book/no-such-practice")).status_code == 404


async def test_portal_booking_and_cancelling_outside_the_window(client, settings, clock):
    clinician = await practice_with_hours(settings, clock)
    person, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, person)
    page = await client.get(f"/portal/book?practice={client_id}")
    assert page.status_code == 200 and "Book with Calm Harbor" in page.text
    later = "2026-12-04T14:00Z"  # Friday 09:00 New York: outside the 48 h window
    booked = await post_form(
        client, "/portal/book", {"practice": str(client_id), "kind": "regular", "slot": later}
    )
    assert booked.status_code == 303
    appointment = await Appointment.objects().where(Appointment.client == client_id).first()
    assert (appointment.duration_minutes, appointment.booked_via) == (50, "portal")
    portal = await client.get("/portal")
    assert "Cancel this session" in portal.text
    cancelled = await post_form(client, f"/portal/sessions/{appointment.id}/cancel")
    assert cancelled.status_code == 303
    assert (await Appointment.objects().where(Appointment.id == appointment.id).first()).status == "cancelled"
    assert await StatusChange.count().where(StatusChange.appointment == appointment.id) == 1

    soon = await add_appointment(clinician, client_id, clock.now() + timedelta(hours=30))
    refused = await post_form(client, f"/portal/sessions/{soon}/cancel")
    assert refused.status_code == 303
    assert "up to 48 hours before" in (await client.get("/portal")).text
    assert (await Appointment.objects().where(Appointment.id == soon).first()).status == "scheduled"

    stranger = await make_clinician(settings, clock.now(), email="o@example.test", practice="Elsewhere")
    _, their_client = await make_client(settings, clock.now(), stranger, email="z@example.test", name="Zed")
    theirs = await add_appointment(stranger, their_client, clock.now() + timedelta(days=5))
    assert (await post_form(client, f"/portal/sessions/{theirs}/cancel")).status_code == 404
    assert (await client.get(f"/portal/book?practice={their_client}")).status_code == 404


async def test_settings_page_validates_and_saves_hours(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    page = await client.get("/settings/booking")
    assert page.status_code == 200 and 'value="48"' in page.text
    values = {
        "hours_0": "09:00-12:00, 13:00-17:00",
        "hours_1": "9-17",
        "hours_2": "17:00-09:00",
        "default_session_minutes": "50",
        "default_fee": "150",
        "buffer_minutes": "-5",
        "min_notice_hours": "24",
        "horizon_days": "60",
        "intro_session_minutes": "15",
        "intro_fee": "0",
        "cancellation_window_hours": "48",
        "booking_enabled": "on",
        "new_clients_may_book": "on",
    }
    bad = await post_form(client, "/settings/booking", values)
    assert 'id="f-hours_2-error"' in bad.text and "the end must be after the start" in text(bad)
    assert 'id="f-buffer_minutes-error"' in bad.text
    assert await WorkingHours.count() == 0
    saved = await post_form(client, "/settings/booking", {**values, "hours_2": "", "buffer_minutes": "5"})
    assert saved.status_code == 303
    hours = await WorkingHours.select().order_by(WorkingHours.weekday).order_by(WorkingHours.start_minute)
    assert [(h["weekday"], h["start_minute"], h["end_minute"]) for h in hours] == [
        (0, 540, 720),
        (0, 780, 1020),
        (1, 540, 1020),
    ]
    again = await client.get("/settings/booking")
    assert 'value="09:00-12:00, 13:00-17:00"' in again.text and 'value="5"' in again.text


async def test_calendar_feed_is_off_by_default_and_unguessable(client, settings, clock):
    await practice_with_hours(settings, clock, calendar_feed_enabled=True)
    await post_form(client, f"/book/{SLUG}", visitor())
    confirmation = await EmailMessage.objects().where(EmailMessage.kind == "sessions_booked").first()
    path = link_in(confirmation.text_body, "/feed/")
    feed = await client.get(path)
    assert feed.status_code == 200 and feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert b"BEGIN:VEVENT" in feed.content and b"Session with Calm Harbor" in feed.content
    client_id = path.split("/")[2]
    assert (await client.get(f"/feed/{client_id}/{'0' * 40}.ics")).status_code == 404
    await Clinician.update({Clinician.calendar_feed_enabled: False}).where(Clinician.id > 0)
    assert (await client.get(path)).status_code == 404
