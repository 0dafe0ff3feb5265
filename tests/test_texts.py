"""Reminder texts (issue 19): a client who agreed gets each reminder as a text too, through a
Twilio-compatible API (the local stub), never at night in their zone (it waits for 08:00); a STOP reply
through the signed webhook stops texts, even one already queued, and START brings them back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.texts import CONSENT, MAX_TEXT, e164, reminder_text, reply_means, send_after, signature
from app.models.tables import AuditEvent, Client, TextMessage
from app.services import texts
from app.services.queue import JobQueue
from tests.charging_support import add_appointment, make_practice
from tests.helpers import post_form, sign_in
from tests.text_stub import TextStub
from workers.reminders import sweep_reminders, sweep_texts

NEW_YORK = ZoneInfo("America/New_York")
PHONE = "(555) 010-2000"
NUMBER = "+15550102000"
WEBHOOK = "/texts/inbound"


def test_quiet_hours_length_numbers_replies_and_the_signature():
    evening = datetime(2026, 12, 1, 21, 0, tzinfo=NEW_YORK)
    assert send_after(evening - timedelta(minutes=1), NEW_YORK) == evening - timedelta(minutes=1)
    assert send_after(evening, NEW_YORK) == datetime(2026, 12, 2, 8, 0, tzinfo=NEW_YORK)
    assert send_after(datetime(2026, 12, 2, 7, 59, tzinfo=NEW_YORK), NEW_YORK).hour == 8
    assert send_after(datetime(2026, 12, 2, 3, 0, tzinfo=UTC), NEW_YORK).date().day == 2  # 22:00 on the 1st
    long_name = "The Very Long Name of a Counselling and Psychotherapy Practice in Brooklyn Heights"
    text = reminder_text(long_name, evening, NEW_YORK, "https://stillwater.test/s/12/" + "x" * 32)
    assert len(text) <= MAX_TEXT and text.endswith("x" * 32 + " Reply STOP to stop.") and "…" in text
    assert e164(PHONE) == NUMBER and e164("+44 20 7946 0958") == "+442079460958" and e164("12") == ""
    assert [reply_means(w) for w in (" stop ", "Unsubscribe", "START", "thanks")] == [
        "stop",
        "stop",
        "start",
        None,
    ]
    # Twilio's documented example of X-Twilio-Signature.
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234"}
    params |= {"From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.fixture
def stub():
    with TextStub() as server:
        yield server


@pytest.fixture
def settings(settings, stub):
    return replace(settings, **stub.settings())


@pytest.fixture
async def env(db, redis, arq_pool, settings, clock):
    practice = await make_practice(settings, clock.now(), JobQueue(arq_pool, settings.queue_name), card=None)
    return practice, {"settings": settings, "clock": clock, "redis": arq_pool}


async def opt_in(browser, practice) -> None:
    await sign_in(browser, practice.clinician)
    edit = await browser.get(f"/clients/{practice.client_id}/edit")
    assert 'name="texts" value="on"' in edit.text and "They can reply STOP" in edit.text
    fields = {
        "name": "Alex Rivera",
        "phone": PHONE,
        "billing_type": "self_pay",
        "reminders": "on",
        "texts": "on",
    }
    assert (await post_form(browser, f"/clients/{practice.client_id}/edit", fields)).status_code in (200, 303)


async def reply(browser, settings, body: str, *, signed: bool = True):
    form, headers = TextStub.reply(f"{settings.base_url}{WEBHOOK}", NUMBER, body)
    if not signed:
        headers = {"X-Twilio-Signature": "forged"}
    return await browser.post(WEBHOOK, data=form, headers=headers)


async def test_reminders_go_by_text_out_of_quiet_hours_and_stop_on_a_stop_reply(client, env, clock, stub):
    practice, ctx = env
    await opt_in(client, practice)
    stored = await Client.objects().get(Client.id == practice.client_id)
    assert stored.texts_opt_in_at == clock.now() and stored.texts_consent == CONSENT
    starts = datetime.combine((clock.now() + timedelta(days=3)).date(), datetime.min.time(), NEW_YORK)
    starts += timedelta(hours=9)  # 09:00 in New York: its 2-hour reminder falls at 07:00, in quiet hours
    await add_appointment(practice.clinician, practice.client_id, starts)

    clock.at = starts - timedelta(hours=48)
    assert await sweep_reminders(ctx) == 1
    assert await sweep_texts(ctx) == 1 and await sweep_texts(ctx) == 0
    [first] = stub.sent
    assert first["To"] == NUMBER and first["From"] == "+15550001111" and len(first["Body"]) <= MAX_TEXT
    assert first["Body"].startswith("Reminder: Calm Harbor on") and "/s/" in first["Body"]

    clock.at = starts - timedelta(hours=2)
    assert await sweep_reminders(ctx) == 1
    assert await sweep_texts(ctx) == 0  # 07:00 where the client is: it waits for 08:00
    clock.at = starts - timedelta(hours=1, minutes=30)
    refused = await reply(client, ctx["settings"], "STOP", signed=False)
    assert refused.status_code == 403
    stopped = await reply(client, ctx["settings"], "Stop")
    assert stopped.status_code == 200 and "<Response>" in stopped.text
    clock.at = starts - timedelta(hours=1)
    assert await sweep_texts(ctx) == 0 and len(stub.sent) == 1
    assert [t.status for t in await TextMessage.objects().order_by(TextMessage.id)] == ["sent", "stopped"]
    assert (await Client.objects().get(Client.id == practice.client_id)).texts_opt_in_at is None
    actions = [a.action for a in await AuditEvent.objects().where(AuditEvent.action.like("texts_%"))]
    assert actions == ["texts_stop"]

    mailbox = await client.get("/dev/mailbox/")
    assert mailbox.text.count("Reminder: Calm Harbor on") == 2 and "stopped" in mailbox.text  # with emails

    await reply(client, ctx["settings"], "START")
    assert (await Client.objects().get(Client.id == practice.client_id)).texts_opt_in_at == clock.now()


async def test_a_refused_number_is_marked_failed_and_nothing_goes_without_a_provider(
    client, env, clock, stub
):
    practice, ctx = env
    await opt_in(client, practice)
    starts = clock.now() + timedelta(days=3)
    await add_appointment(practice.clinician, practice.client_id, starts)
    clock.at = starts - timedelta(hours=48)
    await sweep_reminders(ctx)
    unconfigured = replace(ctx["settings"], text_provider_url="")
    assert await texts.send_due(now=clock.now(), settings=unconfigured) == 0
    stub.refused.add(NUMBER)
    assert await sweep_texts(ctx) == 0
    [text] = await TextMessage.objects()
    assert (text.status, text.error) == ("failed", "Invalid 'To' Phone Number")
