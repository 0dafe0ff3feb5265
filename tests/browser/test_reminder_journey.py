"""At phone size: a client opens the session reminder from the dev mailbox, taps its link (no sign-in)
and confirms; the page says so and the session is marked confirmed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.models.tables import Appointment
from app.services.queue import JobQueue
from tests.browser.helpers import assert_fits_phone, screenshot
from tests.charging_support import add_appointment, make_practice
from workers.reminders import sweep_reminders

pytestmark = pytest.mark.browser


async def test_a_client_confirms_from_the_reminder_email(live_server, phone, settings, clock, arq_pool):
    served = replace(settings, base_url=live_server)
    practice = await make_practice(served, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    starts = clock.now() + timedelta(hours=47)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    assert await sweep_reminders({"settings": served, "clock": clock, "redis": arq_pool}) == 1

    await phone.goto(f"{live_server}/dev/mailbox/")
    await phone.get_by_role("link", name="Reminder: your session with Calm Harbor").click()
    await phone.locator("a[href*='/s/']").first.click()
    await phone.wait_for_url("**/s/**")
    assert "Your session with Calm Harbor" in await phone.content()
    await assert_fits_phone(phone)
    await screenshot(phone, "reminder-link")
    await phone.get_by_role("button", name="Confirm: I'll be there").click()
    await phone.get_by_role("status").filter(has_text="your session is confirmed").wait_for()
    assert await phone.get_by_role("button", name="Confirm: I'll be there").count() == 0
    await assert_fits_phone(phone)
    await screenshot(phone, "reminder-confirmed")
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).confirmed_at is not None
