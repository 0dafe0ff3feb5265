"""At phone size against the local Stripe stub (PAYMENT_GATEWAY=stripe): a client opens the card page
from the portal, types a test card into the (stand-in) Stripe.js field and saves it; the session is
marked Occurred and, after the delay, charged once however often the charge job runs. With a card whose
bank asks for 3-D Secure the charge ends "needs your confirmation", the emailed link opens the page where
the client confirms it, and it is paid once. When the client disputes a paid charge with their bank, the
signed webhook puts the dispute on the charge the clinician opens from the calendar, and the owner taps
"Resume charging"."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from app.payments.stripe_gateway import StripeGateway
from app.services import charges, webhooks
from app.services.queue import JobQueue
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.browser.test_appointment_panel_journey import NY, go_to_day, session_link
from tests.charging_support import make_practice, mark, the_charge
from tests.conftest import start_web
from tests.helpers import PASSWORD, last_email_to, link_in
from tests.stripe_stub import StripeStub

pytestmark = pytest.mark.browser
WEBHOOK_SECRET = "whsec_journey"


def serve_with_stub(settings, stub):
    on_stripe = replace(
        settings,
        payment_gateway="stripe",
        stripe_api_key="sk_test_stub",
        stripe_api_base=stub.url,
        stripe_publishable_key="pk_test_stub",
        stripe_webhook_secret=WEBHOOK_SECRET,
    )
    web, base_url = start_web(
        on_stripe,
        PAYMENT_GATEWAY="stripe",
        STRIPE_API_KEY="sk_test_stub",
        STRIPE_API_BASE=stub.url,
        STRIPE_PUBLISHABLE_KEY="pk_test_stub",
        STRIPE_JS_URL=f"{stub.url}/v3/",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    return on_stripe, web, base_url


async def save_card_in_portal(phone, base_url, practice, number):
    await sign_in(phone, base_url, practice.client.email, PASSWORD)
    await phone.get_by_role("link", name="Add a card").click()
    await phone.get_by_label("Card number").fill(number)
    await phone.get_by_role("button", name="Save card").click()
    await phone.get_by_text("Card saved.").wait_for()


async def charge_now(practice, on_stripe, stub, clock, queue):
    await mark(practice, "occurred", clock.now(), on_stripe, queue)
    clock.advance(seconds=on_stripe.charge_delay)
    charge = await the_charge(practice.appointment_id)
    gateway = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5)
    return await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=on_stripe, gateway=gateway, queue=queue
    )


async def test_a_card_needing_3d_secure_is_confirmed_from_the_email_and_paid_once(
    db, redis, phone, settings, clock
):
    with StripeStub() as stub:
        on_stripe, web, base_url = serve_with_stub(settings, stub)
        try:
            queue = JobQueue(None, on_stripe.queue_name)
            practice = await make_practice(on_stripe, clock.now(), queue, card=None)
            await save_card_in_portal(phone, base_url, practice, "4000 0027 6000 3184")
            assert await charge_now(practice, on_stripe, stub, clock, queue) == "requires_action"
            message = await last_email_to(practice.client.email)
            await phone.goto(base_url + link_in(message.text_body, "/portal/charges/"))  # the emailed link
            assert await phone.get_by_text("Your bank asks you to confirm this payment").is_visible()
            await assert_fits_phone(phone)
            await screenshot(phone, "stripe-confirm-payment")
            await phone.get_by_role("button", name="Confirm payment").click()
            await phone.get_by_text("Payment confirmed. Thank you.").wait_for()
            assert await phone.locator("#portal-charges").get_by_text("Paid").is_visible()
            assert stub.charges() == 1
        finally:
            web.terminate()
            web.wait(timeout=10)


async def test_a_client_saves_a_card_with_stripe_and_is_charged_once(db, redis, phone, settings, clock):
    with StripeStub() as stub:
        on_stripe, web, base_url = serve_with_stub(settings, stub)
        try:
            queue = JobQueue(None, on_stripe.queue_name)
            practice = await make_practice(on_stripe, clock.now(), queue, card=None)
            await sign_in(phone, base_url, practice.client.email, PASSWORD)
            await phone.get_by_role("link", name="Add a card").click()
            await phone.get_by_label("Card number").fill("4242 4242 4242 4242")
            assert await phone.get_by_text("may charge this card for sessions marked attended").is_visible()
            await assert_fits_phone(phone)
            await screenshot(phone, "stripe-card-form")
            await phone.get_by_role("button", name="Save card").click()
            await phone.get_by_text("Card saved.").wait_for()
            assert await phone.get_by_text("Visa ending 4242").is_visible()

            await mark(practice, "occurred", clock.now(), on_stripe, queue)
            clock.advance(seconds=on_stripe.charge_delay)
            charge = await the_charge(practice.appointment_id)
            gateway = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5)
            for _ in range(2):  # a duplicated job finds the charge already settled
                await charges.run_charge(
                    charge.id,
                    charge.generation,
                    now=clock.now(),
                    settings=on_stripe,
                    gateway=gateway,
                    queue=queue,
                )
            assert stub.charges() == 1
            await phone.reload()
            assert await phone.locator("#portal-charges").get_by_text("Paid").is_visible()
        finally:
            web.terminate()
            web.wait(timeout=10)


async def test_a_dispute_appears_on_the_charge_and_the_owner_resumes_charging(
    db, redis, phone, settings, clock
):
    with StripeStub() as stub:
        on_stripe, web, base_url = serve_with_stub(settings, stub)
        try:
            queue = JobQueue(None, on_stripe.queue_name)
            practice = await make_practice(on_stripe, clock.now(), queue, card=None)
            await save_card_in_portal(phone, base_url, practice, "4242 4242 4242 4242")
            assert await charge_now(practice, on_stripe, stub, clock, queue) == "succeeded"
            stub.dispute((await the_charge(practice.appointment_id)).gateway_reference)
            body, signature = StripeStub.signed(stub.events[-1], WEBHOOK_SECRET)
            delivered = httpx.post(
                f"{base_url}/stripe/webhook", content=body, headers={"Stripe-Signature": signature}
            )
            assert delivered.status_code == 200
            gateway = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5)
            outcome = await webhooks.process_event(
                stub.events[-1]["id"], now=clock.now(), settings=on_stripe, gateway=gateway, queue=queue
            )
            assert outcome == "dispute needs_response"

            await phone.context.clear_cookies()
            await sign_in(phone, base_url, practice.clinician.email, PASSWORD)
            day = (clock.now() - timedelta(seconds=on_stripe.charge_delay)).astimezone(NY).date()
            await go_to_day(phone, day)
            await session_link(phone).click()
            charge = phone.locator("#appointment-dialog #appointment-charge")
            await charge.get_by_text("Disputed").wait_for()
            assert await charge.get_by_text("The cardholder says they didn't make this payment").is_visible()
            assert await charge.get_by_text("Automatic charging for Alex Rivera is paused").is_visible()
            await assert_fits_phone(phone)
            await screenshot(phone, "stripe-dispute-on-charge")
            phone.on("dialog", lambda dialog: dialog.accept())  # "Resume automatic charging for …?"
            await charge.get_by_role("button", name="Resume charging").click()
            await charge.get_by_text("Automatic charging resumed.").wait_for()
        finally:
            web.terminate()
            web.wait(timeout=10)
