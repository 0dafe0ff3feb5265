"""At phone size: a client opens the session reminder from the dev mailbox, taps its link (no sign-in)
and confirms; the page says so and the session is marked confirmed. A STOP reply to a reminder's text,
sent from the dev outbox as the client's phone (a reply signed like the provider's, to the real webhook),
stops the texts: the clinician's client page says so and the next reminder goes by email only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.domain.texts import CONSENT
from app.models.tables import Appointment, Client, EmailMessage, TextMessage
from app.services.queue import JobQueue
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.charging_support import add_appointment, make_practice
from tests.conftest import start_web
from tests.helpers import PASSWORD
from tests.text_stub import SID, TOKEN
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


@pytest.fixture
def texting_server(db, redis, settings):
    """The live app with a text account configured (its reply webhook on), texts left queued."""
    process, base_url = start_web(
        settings, TEXT_ACCOUNT_SID=SID, TEXT_AUTH_TOKEN=TOKEN, TEXT_FROM="+15550001111"
    )
    yield base_url
    process.terminate()
    process.wait(timeout=10)


async def test_a_stop_reply_from_the_dev_outbox_stops_texts(texting_server, phone, settings, clock, arq_pool):
    served = replace(settings, base_url=texting_server)
    practice = await make_practice(served, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    await Client.update(
        {Client.phone: "(555) 010-2000", Client.texts_opt_in_at: clock.now(), Client.texts_consent: CONSENT}
    ).where(Client.id == practice.client_id)
    starts = clock.now() + timedelta(hours=47)
    await add_appointment(practice.clinician, practice.client_id, starts)
    ctx = {"settings": served, "clock": clock, "redis": arq_pool}
    assert await sweep_reminders(ctx) == 1
    assert [t.status for t in await TextMessage.objects()] == ["queued"]

    await phone.goto(f"{texting_server}/dev/mailbox/")
    texts = phone.locator("section", has=phone.get_by_role("heading", name="Texts"))
    assert await texts.get_by_label("Reply from +15550102000").input_value() == "STOP"
    await texts.get_by_role("button", name="Send reply").click()
    await phone.get_by_role("status").filter(has_text="delivered to the webhook").wait_for()
    assert "· stopped" in await texts.inner_text()
    await assert_fits_phone(phone)
    await screenshot(phone, "text-stop-reply")

    await sign_in(phone, texting_server, practice.clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Clients").first.click()
    await phone.get_by_role("link", name="Alex Rivera").first.click()
    await phone.get_by_role("status").filter(has_text="Texts stopped: the client replied STOP").wait_for()
    await screenshot(phone, "client-texts-stopped")

    clock.at = starts - timedelta(hours=2)
    assert await sweep_reminders(ctx) == 1  # the 2-hour reminder: by email only
    reminders = await EmailMessage.count().where(EmailMessage.kind == "sessions_reminder")
    assert reminders == 2 and [t.status for t in await TextMessage.objects()] == ["stopped"]
