"""At phone size: the client opens the reminder from the dev mailbox on the day, taps its check-in link
and "I'm here"; the session's panel, open on the clinician's phone, shows "Checked in" without a reload
(both poll while the client may check in), nor does its calendar cell, with Occurred as the next step."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.models.tables import Appointment
from app.services.queue import JobQueue
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.charging_support import add_appointment, make_practice
from tests.conftest import PHONE, START
from tests.helpers import PASSWORD
from workers.reminders import sweep_reminders

pytestmark = pytest.mark.browser


async def test_a_check_in_shows_on_the_clinicians_calendar_without_a_reload(
    live_server, phone, settings, clock, arq_pool
):
    served = replace(settings, base_url=live_server)
    practice = await make_practice(served, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    starts = START + timedelta(minutes=20)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    await Appointment.update({Appointment.created_at: START - timedelta(days=3)}).where(
        Appointment.id == appointment_id
    )
    assert await sweep_reminders({"settings": served, "clock": clock, "redis": arq_pool}) == 1

    context = await phone.context.browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    await context.clock.install(time=START)
    clinician = await context.new_page()
    clinician.set_default_timeout(10_000)
    await sign_in(clinician, live_server, practice.clinician.email, PASSWORD)
    cell = clinician.locator(f"#appt-{appointment_id}")
    await cell.filter(has_text="Scheduled").wait_for()
    await cell.click()
    panel = clinician.locator("#appointment-panel")
    await panel.wait_for()

    await phone.goto(f"{live_server}/dev/mailbox/")
    await phone.get_by_role("link", name="Reminder: your session with Calm Harbor").click()
    await phone.locator("a[href*='/s/'][href$='#check-in']").first.click()
    await phone.wait_for_url("**/s/**")
    await phone.get_by_role("button", name="I'm here").click()
    await phone.get_by_role("status").filter(has_text="checked in").wait_for()
    await assert_fits_phone(phone)
    await screenshot(phone, "check-in-client")

    await clinician.clock.fast_forward("00:31")  # the next poll, no reload
    await panel.filter(has_text="Checked in").wait_for()
    await cell.filter(has_text="Checked in").wait_for()  # the calendar behind the panel asked too
    assert "The client checked in: mark Occurred" in await panel.inner_text()
    await assert_fits_phone(clinician)
    await screenshot(clinician, "check-in-calendar")
    await context.close()
