"""The Stripe gateway against a local stub of Stripe's API: saved card via SetupIntent, two-step
PaymentIntent with idempotency keys, declines, authentication, refunds, a lost response."""

from __future__ import annotations

import pytest

from app.domain.statuses import ChargeStatus as C
from app.payments.base import GatewayUnavailable
from app.payments.stripe_gateway import StripeGateway
from app.services import cards, charges
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.charging_support import make_practice, mark, the_charge
from tests.stripe_stub import StripeStub


@pytest.fixture
def stub():
    with StripeStub() as server:
        yield server


def gateway(stub, retries: int = 0) -> StripeGateway:
    return StripeGateway("sk_test_stub", api_base=stub.url, timeout=5, max_network_retries=retries)


async def saved_card(stub, gw: StripeGateway, payment_method: str = "pm_card_visa"):
    customer = await gw.create_customer(idempotency_key="customer:user:1", user_id=1)
    setup_id, secret = await gw.start_card_setup(customer, idempotency_key="setup:1")
    assert secret.startswith(setup_id)
    # what Stripe.js does in the browser with the client secret:
    await gw.client.v1.setup_intents.confirm_async(setup_id, {"payment_method": payment_method})
    return await gw.finish_card_setup(setup_id)


async def test_a_card_is_saved_through_a_setup_intent_keeping_only_brand_last4_expiry(stub):
    card = await saved_card(stub, gateway(stub))
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("Visa", "4242", 12, 2034)
    assert card.customer_ref.startswith("cus_") and card.method_ref == "pm_card_visa"
    setup = stub.objects[next(k for k in stub.objects if k.startswith("seti_"))]
    assert setup["usage"] == "off_session"


async def test_the_same_idempotency_key_gives_the_same_payment_intent(stub):
    gw = gateway(stub)
    card = await saved_card(stub, gw)
    args = dict(
        amount_minor=15000,
        currency="USD",
        customer_ref=card.customer_ref,
        method_ref=card.method_ref,
        charge_id=9,
    )
    first = await gw.create_payment(idempotency_key="charge:9:attempt:1:create", **args)
    again = await gw.create_payment(idempotency_key="charge:9:attempt:1:create", **args)
    assert first == again
    result = await gw.confirm_payment(first, idempotency_key="charge:9:attempt:1:confirm")
    replay = await gw.confirm_payment(first, idempotency_key="charge:9:attempt:1:confirm")
    assert result.outcome == replay.outcome == "succeeded" and stub.charges() == 1
    assert stub.objects[first]["metadata"] == {"charge_id": "9"}


async def test_sdk_retries_a_lost_response_with_the_same_key(stub):
    gw = gateway(stub, retries=2)
    card = await saved_card(stub, gw)
    reference = await gw.create_payment(
        amount_minor=100,
        currency="USD",
        customer_ref=card.customer_ref,
        method_ref=card.method_ref,
        idempotency_key="k:create",
        charge_id=1,
    )
    stub.lose_next.append("/confirm")
    result = await gw.confirm_payment(reference, idempotency_key="k:confirm")
    assert result.outcome == "succeeded" and stub.charges() == 1
    keys = [
        key for method, path, key in stub.requests if path.endswith("/confirm") and "payment_intents" in path
    ]
    assert keys == ["k:confirm", "k:confirm"]


@pytest.mark.parametrize(
    ("method", "outcome", "code"),
    [
        ("pm_card_chargeDeclined", "failed", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "failed", "insufficient_funds"),
        ("pm_card_authenticationRequired", "requires_action", "authentication_required"),
    ],
)
async def test_declines_and_authentication(stub, method, outcome, code):
    gw = gateway(stub)
    card = await saved_card(stub, gw, method)
    reference = await gw.create_payment(
        amount_minor=100,
        currency="USD",
        customer_ref=card.customer_ref,
        method_ref=card.method_ref,
        idempotency_key="d:create",
        charge_id=1,
    )
    result = await gw.confirm_payment(reference, idempotency_key="d:confirm")
    assert (result.outcome, result.failure_code) == (outcome, code)
    looked_up = await gw.get_payment(reference)
    assert (looked_up.outcome, looked_up.failure_code) == (outcome, code)


async def test_charging_service_with_stripe_survives_a_lost_response_and_refunds(
    db, redis, settings, clock, stub
):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=None)
    gw = gateway(stub)
    card = await saved_card(stub, gw)
    await cards.save_card(
        practice.client.user.id,
        card,
        gateway_name="stripe",
        now=clock.now(),
        actor=Actor(user_id=practice.client.user.id, role="client"),
        settings=settings,
        queue=queue,
    )
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    stub.lose_next.append("/confirm")
    with pytest.raises(GatewayUnavailable):
        await charges.run_charge(
            charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
        )
    in_doubt = await the_charge(practice.appointment_id)
    assert in_doubt.status == C.PROCESSING and in_doubt.gateway_reference.startswith("pi_")
    assert stub.charges() == 1
    outcome = await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gw, queue=queue
    )
    assert outcome == "succeeded" and stub.charges() == 1
    assert (
        sum(1 for o in stub.objects.values() if o["object"] == "payment_intent") == 1
    )  # reconciled, not re-created

    refund = await charges.refund_charge(
        practice.appointment_id,
        15000,
        "req-stripe",
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        gateway=gw,
    )
    assert refund.status == "succeeded" and refund.gateway_reference.startswith("re_")
    assert (await the_charge(practice.appointment_id)).status == C.REFUNDED
    refund_keys = [key for method, path, key in stub.requests if path == "/v1/refunds"]
    assert refund_keys == [f"refund:{practice.appointment_id}:req-stripe"]
