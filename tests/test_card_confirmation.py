"""3-D Secure off-session (R4): a card whose bank asks the cardholder to confirm leaves the charge
"needs your confirmation"; the client is emailed a link to the portal page that runs the bank's check
(Stripe.js against the stub, or the sandbox's own test page); the payment is then recorded once, whether
the webhook or the page's return comes first; one reminder after two days; the clinician may waive. A
payment no longer owed (waived, or the session set back from Occurred) is cancelled at Stripe, so the old
link cannot take it, and the page it opens says the payment is no longer needed."""

from __future__ import annotations

import dataclasses

import pytest
import stripe

from app.domain.statuses import ChargeStatus as C
from app.models.tables import AuditEvent, EmailMessage
from app.payments.sandbox import SandboxGateway
from app.payments.stripe_gateway import StripeGateway
from app.services import charges
from app.services.queue import JobQueue
from tests.charging_support import NEEDS_AUTH, gateway_charges, make_practice, mark, the_charge
from tests.helpers import browser_at, last_email_to, link_in, post_form, sign_in
from tests.stripe_stub import StripeStub
from tests.test_stripe_webhooks import SECRET, charged_practice, deliver


async def needs_confirmation(practice, settings, clock, gateway, queue):
    charge = await the_charge(practice.appointment_id)
    outcome = await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gateway, queue=queue
    )
    assert outcome == "requires_action"
    return await the_charge(practice.appointment_id)


async def the_link(practice) -> str:
    message = await last_email_to(practice.client.email)
    assert message.kind == "charge_needs_confirmation"
    return link_in(message.text_body, "/portal/charges/")


async def test_the_sandbox_path_confirms_on_a_local_page_and_pays_once(app, client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=NEEDS_AUTH)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await needs_confirmation(practice, settings, clock, SandboxGateway(), queue)
    link = await the_link(practice)
    assert link.endswith(f"/portal/charges/{charge.id}/confirm")
    await sign_in(client, practice.client)
    portal = await client.get("/portal/card")
    assert "Needs your confirmation" in portal.text and link in portal.text
    page = await client.get(link)
    assert page.status_code == 200 and "Confirm payment" in page.text and "js.stripe.com" not in page.text
    assert "$150.00" in page.text and "Test mode" in page.text
    for _ in range(2):  # a double tap
        done = await post_form(client, link)
        assert done.status_code == 303
    paid = await client.get("/portal/card")
    assert "Payment confirmed. Thank you." in paid.text
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED
    assert await gateway_charges() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "charge_succeeded") == 1
    assert (await client.get(link)).status_code == 404  # nothing left to confirm


async def test_only_the_client_opens_their_confirmation_and_a_waived_charge_has_none(
    app, client, settings, clock
):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=NEEDS_AUTH)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await needs_confirmation(practice, settings, clock, SandboxGateway(), queue)
    other = await make_practice(
        settings, clock.now(), queue, card=None, email="lee@example.test", client_email="sam@example.test"
    )
    async with browser_at(app, "127.0.0.2") as stranger:
        await sign_in(stranger, other.client)
        assert (await stranger.get(f"/portal/charges/{charge.id}/confirm")).status_code == 404
        assert (await post_form(stranger, f"/portal/charges/{charge.id}/confirm")).status_code == 404
    await charges.waive_charge(
        practice.appointment_id,
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
    )
    await sign_in(client, practice.client)
    old_link = await client.get(f"/portal/charges/{charge.id}/confirm")
    assert old_link.status_code == 200 and "This payment is no longer needed" in old_link.text
    assert "Confirm payment" not in old_link.text
    assert (await post_form(client, f"/portal/charges/{charge.id}/confirm")).status_code == 404
    sandbox = SandboxGateway()
    assert await charges.cancel_stale_payment(charge.id, gateway=sandbox) == "failed"  # the worker's job
    assert (await sandbox.authenticate(charge.gateway_reference)).outcome == "failed"
    assert await gateway_charges() == 0


async def test_one_reminder_two_days_later(db, redis, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=NEEDS_AUTH)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    await needs_confirmation(practice, settings, clock, SandboxGateway(), queue)
    clock.advance(hours=47)
    assert await charges.remind_unconfirmed(now=clock.now(), settings=settings, queue=queue) == 0
    clock.advance(hours=2)
    assert await charges.remind_unconfirmed(now=clock.now(), settings=settings, queue=queue) == 1
    assert await charges.remind_unconfirmed(now=clock.now(), settings=settings, queue=queue) == 0
    reminder = await last_email_to(practice.client.email)
    assert reminder.subject.startswith("Reminder: please confirm your payment of $150.00")
    assert await EmailMessage.count().where(EmailMessage.kind == "charge_needs_confirmation") == 2


@pytest.fixture
def stub():
    with StripeStub() as server:
        yield server


def stripe_settings(settings, stub):
    return dataclasses.replace(
        settings,
        payment_gateway="stripe",
        stripe_api_key="sk_test_stub",
        stripe_api_base=stub.url,
        stripe_publishable_key="pk_test_stub",
        stripe_webhook_secret=SECRET,
    )


async def test_with_stripe_the_bank_check_and_the_webhook_record_one_payment(
    db, redis, settings, clock, stub, run_worker
):
    from app.web.app import create_app
    from tests.conftest import browser, running

    on_stripe = stripe_settings(settings, stub)
    practice, queue = await charged_practice(stub, on_stripe, clock, method="pm_card_authenticationRequired")
    gw = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5)
    charge = await needs_confirmation(practice, on_stripe, clock, gw, queue)
    async with running(create_app(on_stripe, clock=clock)) as application, browser(application) as client:
        await sign_in(client, practice.client)
        page = await client.get(await the_link(practice))
        policy = page.headers["content-security-policy"]
        assert f'data-client-secret="{charge.gateway_reference}_secret"' in page.text
        assert 'data-payment-method="pm_card_authenticationRequired"' in page.text
        assert "https://js.stripe.com" in policy and "https://js.stripe.com/v3/" in page.text
        # What Stripe.js does once the cardholder passed their bank's check:
        await gw.client.v1.payment_intents.confirm_async(
            charge.gateway_reference, {"payment_method": "pm_card_authenticationRequired"}
        )
        for event in stub.events_of("payment_intent.succeeded") * 3:
            assert (await deliver(client, event)).status_code == 200
        await run_worker(worker_settings=on_stripe)
        assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED
        back = await post_form(client, f"/portal/charges/{charge.id}/confirm")  # the page's return, later
        assert back.status_code == 303
        assert "Payment confirmed. Thank you." in (await client.get("/portal/card")).text
    assert stub.charges() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "charge_succeeded") == 1


@pytest.mark.parametrize("how", ["waived", "set back to Scheduled"])
async def test_a_payment_no_longer_owed_is_cancelled_at_stripe_and_the_old_link_says_so(
    how, db, redis, arq_pool, settings, clock, stub, run_worker
):
    from app.web.app import create_app
    from tests.conftest import browser, running

    on_stripe = stripe_settings(settings, stub)
    practice, _ = await charged_practice(stub, on_stripe, clock, method="pm_card_authenticationRequired")
    queue = JobQueue(arq_pool, on_stripe.queue_name)
    gw = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5, max_network_retries=0)
    charge = await needs_confirmation(practice, on_stripe, clock, gw, queue)
    link = await the_link(practice)
    if how == "waived":
        await charges.waive_charge(
            practice.appointment_id,
            clinician_id=practice.clinician.user.clinician_id,
            now=clock.now(),
            actor=practice.clinician_actor,
            queue=queue,
        )
    else:
        await mark(practice, "scheduled", clock.now(), on_stripe, queue)
    await run_worker(worker_settings=on_stripe)
    assert stub.objects[charge.gateway_reference]["status"] == "canceled"
    with pytest.raises(stripe.InvalidRequestError):  # what Stripe.js would meet with the old secret
        await gw.client.v1.payment_intents.confirm_async(
            charge.gateway_reference, {"payment_method": "pm_card_authenticationRequired"}
        )
    async with running(create_app(on_stripe, clock=clock)) as application, browser(application) as client:
        await sign_in(client, practice.client)
        page = await client.get(link)
        assert page.status_code == 200 and "This payment is no longer needed" in page.text
        assert "data-client-secret" not in page.text
    assert stub.charges() == 0
