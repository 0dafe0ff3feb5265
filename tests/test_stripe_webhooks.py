"""Stripe's webhooks against the local stub: only signed deliveries are kept, each event once by id; a
worker job processes it by asking Stripe for the current state, so deliveries repeated three times and in
any order leave one correct state, and a charge whose response was lost (the worker died between Stripe's
success and our record) is completed by the webhook without a second charge. A card the bank updated shows
its new details; a detached card is off file for the client and the clinician."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.statuses import ChargeStatus as C
from app.models.tables import AuditEvent, PaymentMethod, Refund, StripeEvent
from app.payments.base import GatewayUnavailable
from app.payments.stripe_gateway import StripeGateway
from app.services import cards, charges, webhooks
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.charging_support import make_practice, mark, the_charge
from tests.helpers import browser_at, sign_in
from tests.stripe_stub import StripeStub

SECRET = "whsec_test_stub"


@pytest.fixture
def stub():
    with StripeStub() as server:
        yield server


@pytest.fixture
def settings(settings, stub):
    return dataclasses.replace(
        settings,
        payment_gateway="stripe",
        stripe_api_key="sk_test_stub",
        stripe_api_base=stub.url,
        stripe_publishable_key="pk_test_stub",
        stripe_webhook_secret=SECRET,
    )


def gateway(stub) -> StripeGateway:
    return StripeGateway("sk_test_stub", api_base=stub.url, timeout=5, max_network_retries=0)


async def deliver(client, event: dict, secret: str = SECRET, **kwargs):
    body, signature = StripeStub.signed(event, secret, **kwargs)
    return await client.post(
        "/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def charged_practice(stub, settings, clock, method="pm_card_visa"):
    """A client with a Stripe card and a session marked Occurred whose charge is due."""
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=None)
    gw = gateway(stub)
    customer = await gw.create_customer(idempotency_key="c:1", user_id=practice.client.user.id)
    setup_id, _ = await gw.start_card_setup(customer, idempotency_key="s:1")
    await gw.client.v1.setup_intents.confirm_async(setup_id, {"payment_method": method})
    await cards.save_card(
        practice.client.user.id,
        await gw.finish_card_setup(setup_id),
        gateway_name="stripe",
        now=clock.now(),
        actor=Actor(user_id=practice.client.user.id, role="client"),
        settings=settings,
        queue=queue,
    )
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    return practice, queue


async def test_only_signed_deliveries_are_kept_and_each_event_once(app, client, settings, stub, redis):
    event = {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}
    forged = await deliver(client, event, secret="whsec_someone_else")
    stale = await deliver(client, event, at=1_000_000_000)  # replayed long after it was signed
    unsigned = await client.post("/stripe/webhook", content=b"{}")
    garbage = await client.post(
        "/stripe/webhook", content=b"\x00" * 50, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert [r.status_code for r in (forged, stale, unsigned, garbage)] == [400, 400, 400, 400]
    assert await StripeEvent.count() == 0
    for _ in range(3):
        assert (await deliver(client, event)).status_code == 200
    assert await StripeEvent.count() == 1
    queued = [key for key in await redis.keys("arq:job:*") if b"stripe-event" in key]
    assert queued == [b"arq:job:stripe-event:evt_1"]


async def test_the_endpoint_is_off_without_a_secret(db, redis, settings, clock):
    from app.web.app import create_app
    from tests.conftest import browser, running

    off_settings = dataclasses.replace(settings, stripe_webhook_secret="")
    async with running(create_app(off_settings, clock=clock)) as application, browser(application) as off:
        assert (await deliver(off, {"id": "evt_1", "data": {}})).status_code == 404


async def test_a_lost_response_is_completed_by_the_webhook_never_charged_twice(
    app, client, settings, clock, stub, run_worker
):
    practice, queue = await charged_practice(stub, settings, clock)
    charge = await the_charge(practice.appointment_id)
    gw = gateway(stub)
    stub.lose_next.append("/confirm")  # Stripe charged; the worker never heard back
    with pytest.raises(GatewayUnavailable):
        await charges.run_charge(
            charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
        )
    assert (await the_charge(practice.appointment_id)).status == C.PROCESSING and stub.charges() == 1
    for _ in range(3):
        for event in reversed(stub.events):
            assert (await deliver(client, event)).status_code == 200
    await run_worker()
    settled = await the_charge(practice.appointment_id)
    assert settled.status == C.SUCCEEDED and stub.charges() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "charge_succeeded") == 1
    assert await StripeEvent.count().where(StripeEvent.processed_at.is_null()) == 0
    again = await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
    )
    assert again.startswith("nothing_to_do") and stub.charges() == 1


async def test_a_decline_then_a_new_card_ends_paid_whatever_the_order_of_delivery(
    app, client, settings, clock, stub, run_worker
):
    practice, queue = await charged_practice(stub, settings, clock, method="pm_card_chargeDeclined")
    charge = await the_charge(practice.appointment_id)
    gw = gateway(stub)
    await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
    )
    assert (await the_charge(practice.appointment_id)).status == C.FAILED
    setup_id, _ = await gw.start_card_setup(charge_customer(stub), idempotency_key="s:2")
    await gw.client.v1.setup_intents.confirm_async(setup_id, {"payment_method": "pm_card_visa"})
    await cards.save_card(
        practice.client.user.id,
        await gw.finish_card_setup(setup_id),
        gateway_name="stripe",
        now=clock.now(),
        actor=Actor(user_id=practice.client.user.id, role="client"),
        settings=settings,
        queue=queue,
    )  # a new card schedules the charge again at once
    retried = await the_charge(practice.appointment_id)
    await charges.run_charge(
        retried.id, retried.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
    )
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED
    for event in reversed(stub.events + stub.events + stub.events):
        await deliver(client, event)
    await run_worker()
    final = await the_charge(practice.appointment_id)
    assert final.status == C.SUCCEEDED and stub.charges() == 1 and final.attempt_no == 2
    assert await StripeEvent.count() == len(stub.events)


async def test_a_pending_refund_is_settled_by_charge_refunded(app, client, settings, clock, stub, run_worker):
    practice, queue = await charged_practice(stub, settings, clock)
    charge = await the_charge(practice.appointment_id)
    gw = gateway(stub)
    await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
    )
    stub.lose_next.append("/v1/refunds")
    await charges.refund_charge(
        practice.appointment_id,
        15000,
        "req-webhook-1",
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        gateway=gw,
    )
    assert (await Refund.objects().first()).status == "pending"
    for event in stub.events_of("charge.refunded") * 2:
        await deliver(client, event)
    await run_worker()
    assert (await Refund.objects().first()).status == "succeeded"
    assert (await the_charge(practice.appointment_id)).status == C.REFUNDED


async def test_events_whose_job_was_lost_are_swept(db, redis, settings, clock, stub):
    stored = await webhooks.store_event(
        {"id": "evt_lost", "type": "customer.created", "data": {"object": {}}}, now=clock.now()
    )
    assert stored is not None and await webhooks.unprocessed(now=clock.now()) == []
    clock.advance(seconds=120)
    assert await webhooks.unprocessed(now=clock.now()) == ["evt_lost"]
    from workers.stripe_events import sweep_stripe_events

    ctx = {"settings": settings, "clock": clock, "redis": None, "gateway": gateway(stub)}
    assert await sweep_stripe_events(ctx) == 1
    assert (await StripeEvent.objects().first()).outcome == "ignored"
    assert await webhooks.store_event({"id": "evt_lost", "type": "x", "data": {}}, now=clock.now()) is None


def charge_customer(stub) -> str:
    return next(o["customer"] for o in stub.objects.values() if o["object"] == "payment_intent")


async def card_shown(app, practice) -> tuple[str, str]:
    """What the clinician's charge panel and the client's card page say about the card."""
    async with browser_at(app, "127.0.0.3") as clinician, browser_at(app, "127.0.0.4") as client:
        await sign_in(clinician, practice.clinician)
        await sign_in(client, practice.client)
        panel = await clinician.get(f"/appointments/{practice.appointment_id}/charge")
        portal = await client.get("/portal/card")
        return panel.text, portal.text


async def test_a_card_the_bank_updated_shows_its_new_details_in_any_order(
    app, client, settings, clock, stub, run_worker
):
    practice, _ = await charged_practice(stub, settings, clock)
    await PaymentMethod.update({PaymentMethod.expiry_warned_at: clock.now()}, force=True)  # about 12/2034
    stub.update_card("pm_card_visa", exp_month=3, exp_year=2031)
    stub.update_card("pm_card_visa", last4="1111", exp_month=4, exp_year=2032)
    for event in reversed(stub.events_of("payment_method.automatically_updated") * 3):
        assert (await deliver(client, event)).status_code == 200
    await run_worker()
    card = await cards.card_on_file(practice.client.user.id)
    assert (card.last4, card.exp_month, card.exp_year) == ("1111", 4, 2032)
    assert card.expiry_warned_at is None  # the new expiry will be warned about in its turn
    panel, portal = await card_shown(app, practice)
    assert "Visa ending 1111" in panel and "1111" in portal and "4242" not in portal


async def test_a_detached_card_is_no_longer_on_file_whatever_the_order(
    app, client, settings, clock, stub, run_worker
):
    practice, _ = await charged_practice(stub, settings, clock)
    stub.update_card("pm_card_visa", exp_month=5, exp_year=2033)
    stub.detach("pm_card_visa")
    late_update, detached = stub.events[-2:]
    for event in [detached, late_update, detached, late_update, detached]:
        assert (await deliver(client, event)).status_code == 200
    await run_worker()
    assert await cards.card_on_file(practice.client.user.id) is None
    assert await AuditEvent.count().where(AuditEvent.action == "card_detached") == 1
    panel, portal = await card_shown(app, practice)
    assert "no card on file yet" in panel and "No card on file" in portal
