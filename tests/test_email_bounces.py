"""Bounces and complaints: the provider's webhook (real HTTP to the served app) marks an address
undeliverable; the client's page says so; the real worker sends nothing more to it until it changes."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from app.domain.email_events import Reason, Undeliverable, undeliverable
from app.models.tables import AuditEvent, Client, EmailMessage, UndeliverableAddress, User
from app.services.bounces import record_undeliverable
from app.services.email import SUPPRESSED
from tests.conftest import start_web
from tests.helpers import make_client, make_clinician, post_form, sign_in

TOKEN = "a-long-random-webhook-token"


def test_only_hard_bounces_and_complaints_count_in_each_providers_shape():
    sendgrid = [
        {"event": "delivered", "email": "ok@example.test"},
        {"event": "bounce", "type": "blocked", "email": "soft@example.test", "reason": "try later"},
        {
            "event": "bounce",
            "type": "bounce",
            "email": "Gone@Example.test",
            "reason": "550 5.1.1 no such user",
        },
        {"event": "spamreport", "email": "angry@example.test"},
    ]
    assert undeliverable(sendgrid) == [
        Undeliverable("gone@example.test", Reason.BOUNCE, "550 5.1.1 no such user"),
        Undeliverable("angry@example.test", Reason.COMPLAINT, "Marked as spam"),
    ]
    postmark_soft = {"RecordType": "Bounce", "Type": "SoftBounce", "Email": "full@example.test"}
    postmark_hard = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "Email": "gone@example.test",
        "Description": "x",
    }
    assert undeliverable(postmark_soft) == []
    assert undeliverable(postmark_hard) == [Undeliverable("gone@example.test", Reason.BOUNCE, "x")]
    assert (
        undeliverable({"RecordType": "SpamComplaint", "Email": "a@example.test"})[0].reason
        == Reason.COMPLAINT
    )
    mailgun = {"event-data": {"event": "failed", "severity": "permanent", "recipient": "gone@example.test"}}
    assert undeliverable(mailgun) == [Undeliverable("gone@example.test", Reason.BOUNCE, "")]
    temporary = {"event-data": {"event": "failed", "severity": "temporary", "recipient": "gone@example.test"}}
    assert undeliverable(temporary) == []
    assert undeliverable({"event": "bounce", "email": 5}) == [] and undeliverable("nonsense") == []


@pytest.fixture
def served(db, redis, settings):
    process, base_url = start_web(settings, EMAIL_WEBHOOK_TOKEN=TOKEN)
    yield base_url
    process.terminate()
    process.wait(timeout=10)


async def test_a_hard_bounce_stops_email_to_that_address_and_shows_on_the_clients_page(
    served, settings, clock, smtp_server, run_worker
):
    smtp_settings = replace(settings, smtp_url=smtp_server.url)
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(
        settings, clock.now(), clinician, email="alex@example.test", with_password=False
    )
    _, other_id = await make_client(
        settings, clock.now(), clinician, email="sam@example.test", with_password=False
    )
    bounce = [
        {"event": "bounce", "type": "bounce", "email": "alex@example.test", "reason": "550 no such user"}
    ]

    async with httpx.AsyncClient(base_url=served) as provider:
        assert (await provider.post("/email/events", json=bounce)).status_code == 401
        wrong = await provider.post("/email/events", json=bounce, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert await UndeliverableAddress.count() == 0
        assert (await provider.post("/email/events", content=b"{", auth=("hook", TOKEN))).status_code == 400
        done = await provider.post(
            "/email/events", json=bounce, auth=("hook", TOKEN)
        )  # basic auth in the URL
        assert done.status_code == 200 and done.json() == {"recorded": 1}

    async with httpx.AsyncClient(base_url=served) as browser:
        await sign_in(browser, clinician)
        page = await browser.get(f"/clients/{client_id}")
        assert "Emails to this address bounce" in page.text and "550 no such user" in page.text
        assert "It won't be sent while this address is blocked" in page.text  # next to "Resend invitation"
        assert "bounce" not in (await browser.get(f"/clients/{other_id}")).text

        for record in (client_id, other_id):
            resent = await post_form(browser, f"/clients/{record}/invite")
            assert resent.status_code in (200, 303)
        await run_worker(worker_settings=smtp_settings)
        assert [m["To"] for m in smtp_server.messages] == ["sam@example.test"]
        held = await EmailMessage.objects().where(EmailMessage.to_address == "alex@example.test").first()
        assert held.sent_at is None and held.suppressed_at is not None and held.last_error == SUPPRESSED
        mailbox = await browser.get("/dev/mailbox/")
        assert SUPPRESSED in mailbox.text

        # The app has no screen to change a client's login address; whatever changes it lifts the block.
        await Client.update({Client.email: "alex.r@example.test"}).where(Client.id == client_id)
        await User.update({User.email: "alex.r@example.test"}).where(User.email == "alex@example.test")
        assert "bounce" not in (await browser.get(f"/clients/{client_id}")).text
        await post_form(browser, f"/clients/{client_id}/invite")
        await run_worker(worker_settings=smtp_settings)
        assert [m["To"] for m in smtp_server.messages] == ["sam@example.test", "alex.r@example.test"]

    audited = await AuditEvent.objects().where(AuditEvent.action == "email_undeliverable")
    assert [(a.client_id, a.detail) for a in audited] == [(client_id, "bounce")]


async def test_a_complaint_from_postmark_blocks_the_address_and_says_why(served, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician, email="alex@example.test")
    complaint = {"RecordType": "SpamComplaint", "Email": "ALEX@example.test"}
    async with httpx.AsyncClient(base_url=served) as provider:
        done = await provider.post(
            "/email/events", json=complaint, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert done.json() == {"recorded": 1}
        again = await provider.post(
            "/email/events", json=complaint, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert again.json() == {"recorded": 0}
    async with httpx.AsyncClient(base_url=served) as browser:
        await sign_in(browser, clinician)
        page = await browser.get(f"/clients/{client_id}")
        assert "This address reported our email as spam" in page.text


async def test_the_webhook_is_off_without_a_token(live_server):
    async with httpx.AsyncClient(base_url=live_server) as provider:
        response = await provider.post("/email/events", json=[], headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404


async def test_the_clinician_can_try_a_bounced_address_again(
    served, settings, clock, smtp_server, run_worker
):
    smtp_settings = replace(settings, smtp_url=smtp_server.url)
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(
        settings, clock.now(), clinician, email="alex@example.test", with_password=False
    )
    stranger = await make_clinician(settings, clock.now(), email="other@example.test", practice="Elsewhere")
    await record_undeliverable(
        [Undeliverable("alex@example.test", Reason.BOUNCE, "552 mailbox full")], now=clock.now()
    )

    async with httpx.AsyncClient(base_url=served) as browser:
        await sign_in(browser, stranger)
        assert (await post_form(browser, f"/clients/{client_id}/email-retry")).status_code == 404
        assert await UndeliverableAddress.count() == 1

        browser.cookies.clear()
        await sign_in(browser, clinician)
        await post_form(browser, f"/clients/{client_id}/invite")  # held back while blocked
        page = await browser.get(f"/clients/{client_id}")
        assert "Emails to this address bounce" in page.text and "Try this address again" in page.text
        tried = await post_form(browser, f"/clients/{client_id}/email-retry")
        assert tried.status_code == 303
        page = await browser.get(f"/clients/{client_id}")
        assert "Emails to this address will be sent again" in page.text
        assert "bounce" not in page.text.replace("If it bounces again", "")
        assert "Try this address again" not in page.text

        await post_form(browser, f"/clients/{client_id}/invite")
        await run_worker(worker_settings=smtp_settings)
        assert [m["To"] for m in smtp_server.messages] == ["alex@example.test"]  # the new one only
        held, sent = await EmailMessage.objects().order_by(EmailMessage.id)
        assert held.suppressed_at is not None and held.sent_at is None
        assert sent.sent_at is not None and sent.suppressed_at is None

        again = await post_form(browser, f"/clients/{client_id}/email-retry")
        assert again.status_code == 303
        assert "already being sent" in (await browser.get(f"/clients/{client_id}")).text

    lifted = await AuditEvent.objects().where(AuditEvent.action == "email_block_lifted")
    assert [(a.client_id, a.actor_id, a.detail) for a in lifted] == [(client_id, clinician.user.id, "bounce")]
