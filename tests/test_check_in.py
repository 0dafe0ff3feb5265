"""Check-in on the day (issue 19b): from the reminder's link, 30 minutes before the start until its end,
"I'm here" or "Join" the practice's video link; the clinician's calendar and panel show the time and
offer Occurred; 15 minutes after the start with no check-in the session asks for a status with
No-show suggested, and nothing sets the status by itself."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.models.tables import Appointment, AuditEvent, Clinician, UndeliverableAddress
from app.services import reminders
from app.services.queue import JobQueue
from tests.charging_support import add_appointment, make_practice
from tests.helpers import make_client, post_form, sign_in
from tests.test_reminders import _form_values
from tests.test_session_links import reminder_link
from workers.reminders import sweep_reminders

NEW_YORK = ZoneInfo("America/New_York")
VIDEO = "https://meet.example.test/maya-chen"


def hour_minute(at) -> str:
    return f"{at.astimezone(NEW_YORK):%-H:%M}"


async def session_with_link(settings, clock, arq_pool):
    practice = await make_practice(settings, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    path = await reminder_link(practice, clock, settings, arq_pool, starts)
    return practice, appointment_id, starts, path


async def test_the_client_checks_in_from_the_reminder_and_the_clinician_sees_it(
    client, other_client, settings, clock, arq_pool
):
    practice, appointment_id, starts, path = await session_with_link(settings, clock, arq_pool)
    await Clinician.update({Clinician.video_link: VIDEO}).where(
        Clinician.id == practice.clinician.user.clinician_id
    )

    clock.at = starts - timedelta(minutes=31)
    early = await client.get(path)
    assert "I'm here" not in early.text and VIDEO not in early.text
    refused = await post_form(client, f"{path}/check-in", {"how": "here"})
    assert refused.status_code == 409 and "Check-in opens 30 minutes before" in refused.text

    clock.at = starts - timedelta(minutes=2)
    page = await client.get(path)
    assert "I'm here" in page.text and "Join the video session" in page.text
    done = await post_form(client, f"{path}/check-in", {"how": "here"})
    assert done.status_code == 200 and "checked in. Your clinician can see it." in done.text
    assert f"Checked in</span> {hour_minute(clock.at)}" in done.text
    checked_in_at = clock.at
    clock.advance(minutes=1)
    again = await post_form(client, f"{path}/check-in", {"how": "here"})
    assert again.status_code == 200 and f"Checked in</span> {hour_minute(checked_in_at)}" in again.text
    stored = await Appointment.objects().get(Appointment.id == appointment_id)
    assert stored.checked_in_at == checked_in_at and stored.status == "scheduled"
    audited = await AuditEvent.objects().where(AuditEvent.action == "appointment_checked_in")
    assert [(a.object_id, a.actor_role) for a in audited] == [(appointment_id, "client")]

    await sign_in(other_client, practice.clinician)
    local_day = starts.astimezone(NEW_YORK).date().isoformat()
    calendar = await other_client.get(f"/calendar?view=day&date={local_day}", headers={"HX-Request": "true"})
    assert f"Checked in {hour_minute(checked_in_at)}" in calendar.text
    panel = await other_client.get(f"/appointments/{appointment_id}", headers={"HX-Request": "true"})
    assert f"Checked in {hour_minute(checked_in_at)}" in panel.text
    assert "The client checked in: mark Occurred once the session has started." in panel.text
    assert 'hx-trigger="every 30s"' not in panel.text  # nothing left to wait for

    clock.at = starts + timedelta(minutes=1)
    panel = await other_client.get(f"/appointments/{appointment_id}", headers={"HX-Request": "true"})
    assert (
        "mark Occurred now" in panel.text
        and 'status-occurred suggested" aria-describedby="next-step"' in panel.text
    )


async def test_join_records_the_check_in_and_opens_the_video_link_only_in_the_window(
    client, settings, clock, arq_pool
):
    practice, appointment_id, starts, path = await session_with_link(settings, clock, arq_pool)
    clock.at = starts - timedelta(minutes=10)
    assert "Join the video session" not in (await client.get(path)).text  # no link set
    await Clinician.update({Clinician.video_link: VIDEO}).where(
        Clinician.id == practice.clinician.user.clinician_id
    )
    joined = await post_form(client, f"{path}/check-in", {"how": "join"})
    assert joined.status_code == 303 and joined.headers["location"] == VIDEO
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).checked_in_at == clock.at
    assert f'href="{VIDEO}"' in (await client.get(path)).text

    clock.at = starts + timedelta(minutes=50)  # the session has ended
    after = await client.get(path)
    assert VIDEO not in after.text and "I'm here" not in after.text


async def test_a_panel_waiting_for_a_check_in_refreshes_itself(client, settings, clock, arq_pool):
    practice, appointment_id, starts, _ = await session_with_link(settings, clock, arq_pool)
    clock.at = starts - timedelta(minutes=45)
    await sign_in(client, practice.clinician)
    panel = await client.get(f"/appointments/{appointment_id}", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 30s"' not in panel.text
    clock.at = starts - timedelta(minutes=20)
    await sign_in(client, practice.clinician)  # the idle timeout ended the first session
    panel = await client.get(f"/appointments/{appointment_id}", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 30s"' in panel.text


async def test_no_check_in_fifteen_minutes_in_asks_for_a_status_with_no_show_suggested(
    client, settings, clock, arq_pool
):
    practice, appointment_id, starts, path = await session_with_link(settings, clock, arq_pool)
    arrived = await add_appointment(practice.clinician, practice.client_id, starts)
    await Appointment.update({Appointment.checked_in_at: starts - timedelta(minutes=5)}).where(
        Appointment.id == arrived
    )
    clock.at = starts + timedelta(minutes=14)
    await sign_in(client, practice.clinician)
    listed = await client.get("/calendar/needs-status")
    assert f'id="needs-{appointment_id}"' not in listed.text and f'id="needs-{arrived}"' not in listed.text

    clock.at = starts + timedelta(minutes=15)
    listed = await client.get("/calendar/needs-status")
    assert f'id="needs-{appointment_id}"' in listed.text and f'id="needs-{arrived}"' not in listed.text
    assert f'id="suggest-{appointment_id}">No check-in: No-show suggested.' in listed.text
    assert f'aria-describedby="suggest-{appointment_id}"' in listed.text
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).status == "scheduled"

    clock.at = starts + timedelta(minutes=50)  # both ended: the one who came is listed, nothing suggested
    await sign_in(client, practice.clinician)
    listed = await client.get("/calendar/needs-status")
    assert f'id="needs-{arrived}"' in listed.text and f'id="suggest-{arrived}"' not in listed.text


async def test_a_moved_session_forgets_its_check_in(client, settings, clock, arq_pool):
    practice, appointment_id, starts, path = await session_with_link(settings, clock, arq_pool)
    clock.at = starts - timedelta(minutes=5)
    await post_form(client, f"{path}/check-in", {"how": "here"})
    await sign_in(client, practice.clinician)
    local = (starts + timedelta(days=1)).astimezone(NEW_YORK)
    moved = await post_form(
        client,
        f"/appointments/{appointment_id}/reschedule",
        {"date": local.date().isoformat(), "time": f"{local:%H:%M}", "minutes": "50"},
    )
    assert moved.status_code in (200, 303)
    stored = await Appointment.objects().get(Appointment.id == appointment_id)
    assert stored.starts_at == starts + timedelta(days=1) and stored.checked_in_at is None


async def test_the_practice_sets_a_video_link_and_bad_ones_get_a_form_error(
    client, settings, clock, arq_pool
):
    practice, *_ = await session_with_link(settings, clock, arq_pool)
    await sign_in(client, practice.clinician)
    page = await client.get("/settings/booking")
    form = {k: v for k, v in _form_values(page.text).items() if k not in ("video_link", "_csrf")}
    for bad in (
        "javascript:alert(1)",
        "http://meet.example.test/x",
        "https://x\x00y",
        "https://x.test/" + "a" * 5000,
    ):
        answer = await post_form(client, "/settings/booking", {**form, "video_link": bad})
        assert answer.status_code == 200 and "has-error" in answer.text
    saved = await post_form(client, "/settings/booking", {**form, "video_link": f" {VIDEO} "})
    assert saved.status_code == 303
    assert (await Clinician.objects().first()).video_link == VIDEO
    assert f'value="{VIDEO}"' in (await client.get("/settings/booking")).text


async def test_the_panel_logs_reminders_confirmation_check_in_and_failures(
    client, settings, clock, arq_pool, smtp_server, run_worker
):
    live = replace(settings, smtp_url=smtp_server.url)
    practice, appointment_id, starts, path = await session_with_link(live, clock, arq_pool)
    await run_worker(worker_settings=live)  # the 48-hour reminder goes over SMTP
    await post_form(client, f"{path}/confirm")
    await UndeliverableAddress.insert(
        UndeliverableAddress(address=practice.client.email, reason="bounce", recorded_at=clock.now())
    )
    clock.at = starts - timedelta(hours=2)
    await sweep_reminders({"settings": live, "clock": clock, "redis": arq_pool})
    await run_worker(worker_settings=live)
    clock.at = starts - timedelta(minutes=5)
    await post_form(client, f"{path}/check-in", {"how": "here"})

    await sign_in(client, practice.clinician)
    panel = await client.get(f"/appointments/{appointment_id}", headers={"HX-Request": "true"})
    log = panel.text.split("Reminders and check-in", 1)[1].split("Status history", 1)[0]
    items = re.findall(r"<li([^>]*)>(.*?) <span", log, re.S)
    assert [(css, text.strip()) for css, text in items] == [
        ("", "Reminder (48 h before) queued"),
        ("", "Reminder (48 h before) sent"),
        ("", "Confirmed by the client"),
        ("", "Reminder (2 h before) queued"),
        (' class="error"', "Reminder (2 h before): Not sent: this address bounces"),
        ("", "Checked in"),
    ]


async def test_another_clinicians_panel_shows_no_log_of_this_session(client, settings, clock, arq_pool):
    _, appointment_id, *_ = await session_with_link(settings, clock, arq_pool)
    assert await reminders.session_log(appointment_id, 999) == []


BACKGROUND = {"HX-Request": "true", "X-Background-Refresh": "1"}


async def test_the_calendar_asks_for_check_ins_only_around_the_window_and_shows_them(
    client, other_client, settings, clock, arq_pool
):
    practice, appointment_id, starts, path = await session_with_link(settings, clock, arq_pool)
    day = f"/calendar?view=day&date={starts.astimezone(NEW_YORK).date().isoformat()}"
    clock.at = starts - timedelta(hours=1)
    await sign_in(other_client, practice.clinician)
    assert "X-Background-Refresh" not in (await other_client.get(day)).text

    clock.at = starts - timedelta(minutes=34)
    await sign_in(other_client, practice.clinician)  # the idle timeout ended the first session
    page = await other_client.get(day)
    assert 'hx-trigger="every 30s" hx-target="#calendar"' in page.text
    clock.at = starts - timedelta(minutes=25)
    await post_form(client, f"{path}/check-in", {"how": "here"})
    refreshed = await other_client.get(day, headers=BACKGROUND)
    assert f"Checked in {hour_minute(clock.at)}" in refreshed.text
    assert "HX-Push-Url" not in refreshed.headers  # no history entry for a background refresh
    assert "X-Background-Refresh" not in refreshed.text  # nothing left to wait for


async def test_a_calendar_left_open_still_signs_out_when_idle(client, settings, clock, arq_pool):
    practice, _, starts, _ = await session_with_link(settings, clock, arq_pool)
    day = f"/calendar?view=day&date={starts.astimezone(NEW_YORK).date().isoformat()}"
    clock.at = starts - timedelta(minutes=20)
    await sign_in(client, practice.clinician)
    assert "X-Background-Refresh" in (await client.get(day)).text
    for _ in range(settings.clinician_idle_timeout // 30 - 1):  # the page's own polls, nobody at the phone
        clock.advance(seconds=30)
        assert (await client.get(day, headers=BACKGROUND)).status_code == 200
    clock.advance(seconds=31)
    gone = await client.get(day, headers=BACKGROUND)
    assert gone.headers["HX-Redirect"].startswith("/login")
    audited = await AuditEvent.objects().where(AuditEvent.action == "session_timed_out")
    assert [a.detail for a in audited][-1:] == ["timeout_idle"]


async def test_the_client_checks_in_from_the_portal_home_during_the_window(
    client, other_client, settings, clock, arq_pool
):
    practice, appointment_id, starts, _ = await session_with_link(settings, clock, arq_pool)
    await Clinician.update({Clinician.video_link: VIDEO}).where(
        Clinician.id == practice.clinician.user.clinician_id
    )
    button = f'action="/portal/sessions/{appointment_id}/check-in"'
    clock.at = starts - timedelta(minutes=31)
    await sign_in(client, practice.client)
    home = await client.get("/portal")
    assert button not in home.text and VIDEO not in home.text
    refused = await post_form(client, f"/portal/sessions/{appointment_id}/check-in", {"how": "here"})
    assert refused.status_code == 303
    assert "Check-in opens 30 minutes before" in (await client.get("/portal")).text
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).checked_in_at is None

    clock.at = starts - timedelta(minutes=10)
    home = await client.get("/portal")
    assert button in home.text and ">Check in</button>" in home.text and "Join the video session" in home.text
    done = await post_form(client, f"/portal/sessions/{appointment_id}/check-in", {"how": "here"})
    assert done.status_code == 303
    home = await client.get("/portal")
    assert (
        "checked in. Your clinician can see it." in home.text
        and f"Checked in {hour_minute(clock.at)}" in home.text
    )
    assert button not in home.text
    audited = await AuditEvent.objects().where(AuditEvent.action == "appointment_checked_in")
    assert [(a.object_id, a.actor_role) for a in audited] == [(appointment_id, "client")]

    stranger, _ = await make_client(settings, clock.now(), practice.clinician, email="sam@example.test")
    await sign_in(other_client, stranger)
    other = await post_form(other_client, f"/portal/sessions/{appointment_id}/check-in", {"how": "join"})
    assert other.status_code == 404


async def test_a_client_running_late_still_finds_the_session_and_checks_in_until_its_end(
    client, settings, clock, arq_pool
):
    practice, appointment_id, starts, _ = await session_with_link(settings, clock, arq_pool)
    await Clinician.update({Clinician.video_link: VIDEO}).where(
        Clinician.id == practice.clinician.user.clinician_id
    )
    button = f'action="/portal/sessions/{appointment_id}/check-in"'
    clock.at = starts + timedelta(minutes=20)
    await sign_in(client, practice.client)
    home = await client.get("/portal")
    upcoming, _, past = home.text.partition('id="past-h"')
    assert button in upcoming and "Join the video session" in upcoming
    assert "Under way until" in upcoming and "Cancel this session" not in upcoming
    assert button not in past
    joined = await post_form(client, f"/portal/sessions/{appointment_id}/check-in", {"how": "join"})
    assert joined.status_code == 303 and joined.headers["location"] == VIDEO
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).checked_in_at == clock.at

    clock.at = starts + timedelta(minutes=50)  # the session's end: it is past now
    upcoming, _, _ = (await client.get("/portal")).text.partition('id="past-h"')
    assert button not in upcoming and "Under way until" not in upcoming
