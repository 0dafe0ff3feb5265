"""Saving a card with Stripe (PAYMENT_GATEWAY=stripe) against the local stub: the portal's card page
loads the real Stripe.js under a policy that allows Stripe only there, the confirmed SetupIntent's card is
saved with the client's authorisation (text version, time, address), and nobody saves another person's."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain import card_authorisation
from app.models.tables import AuditEvent, PaymentMethod
from app.payments.sandbox import SandboxGateway
from app.services import cards
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.charging_support import make_practice
from tests.helpers import post_form, sign_in
from tests.stripe_stub import StripeStub

SETUP_SECRET = 'data-client-secret="seti_stub'


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
    )


async def client_without_card(settings, clock, email="alex@example.test", clinician="maya@example.test"):
    queue = JobQueue(None, settings.queue_name)
    return await make_practice(settings, clock.now(), queue, card=None, client_email=email, email=clinician)


def confirm_in_browser(stub: StripeStub, page_text: str, method: str = "pm_card_visa") -> str:
    """What Stripe.js does with the page's client secret: confirm the SetupIntent at Stripe."""
    secret = page_text.split('data-client-secret="')[1].split('"')[0]
    setup_id = secret.split("_secret")[0]
    stub.objects[setup_id].update(status="succeeded", payment_method=method)
    return setup_id


async def test_the_card_page_loads_stripe_js_and_only_it_allows_stripe(app, client, settings, clock, stub):
    practice = await client_without_card(settings, clock)
    await sign_in(client, practice.client)
    page = await client.get("/portal/card")
    assert page.status_code == 200 and SETUP_SECRET in page.text
    assert '<script src="https://js.stripe.com/v3/"></script>' in page.text
    assert 'data-stripe-key="pk_test_stub"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' https://js.stripe.com" in policy and "unsafe-inline' " not in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com" in policy
    assert f"connect-src 'self' {stub.url}" in policy
    assert (
        "Calm Harbor may charge this card for sessions marked attended, 48 hours later, "
        "and for fees under its policy." in page.text
    )
    setup_id = page.text.split('data-client-secret="')[1].split("_secret")[0]
    assert stub.objects[setup_id]["usage"] == "off_session"
    elsewhere = await client.get("/portal")
    assert "stripe.com" not in elsewhere.headers["content-security-policy"]
    assert "js.stripe.com" not in elsewhere.text


async def test_a_confirmed_card_is_saved_with_the_clients_authorisation(app, client, settings, clock, stub):
    practice = await client_without_card(settings, clock)
    await sign_in(client, practice.client)
    setup_id = confirm_in_browser(stub, (await client.get("/portal/card")).text)
    saved = await post_form(client, "/portal/card/confirmed", {"setup_intent": setup_id})
    assert saved.status_code == 303 and saved.headers["location"] == "/portal/card"
    page = await client.get("/portal/card")
    assert "Card saved." in page.text and "Visa ending 4242" in page.text
    card = await PaymentMethod.objects().where(PaymentMethod.user == practice.client.user.id).first()
    assert (card.gateway, card.method_ref, card.customer_ref[:4]) == ("stripe", "pm_card_visa", "cus_")
    assert card.authorisation_version == card_authorisation.VERSION
    assert card.authorised_at == clock.now() and card.authorised_ip == "127.0.0.1"
    assert await AuditEvent.count().where(AuditEvent.action == "card_saved") == 1


async def test_nobody_saves_another_persons_setup_or_an_unconfirmed_one(app, client, settings, clock, stub):
    other = await client_without_card(settings, clock, email="sam@example.test", clinician="lee@example.test")
    from tests.helpers import browser_at

    async with browser_at(app, "127.0.0.2") as other_browser:
        await sign_in(other_browser, other.client)
        others_setup = confirm_in_browser(stub, (await other_browser.get("/portal/card")).text)
    practice = await client_without_card(settings, clock)
    await sign_in(client, practice.client)
    unconfirmed = (await client.get("/portal/card")).text.split('data-client-secret="')[1].split("_secret")[0]
    for setup_ref in (others_setup, unconfirmed, "seti_nothing", "pi_123", "x" * 5000, "seti_\x00"):
        answer = await post_form(client, "/portal/card/confirmed", {"setup_intent": setup_ref})
        assert answer.status_code in (200, 400), setup_ref
        assert "Internal" not in answer.text
    answer = await post_form(client, "/portal/card/confirmed", {"setup_intent": others_setup})
    assert "The card was not confirmed" in answer.text
    assert await PaymentMethod.count().where(PaymentMethod.user == practice.client.user.id) == 0


async def test_the_sandbox_card_form_records_the_authorisation_too(db, redis, settings, clock):
    sandbox = dataclasses.replace(settings, payment_gateway="sandbox")
    practice = await client_without_card(sandbox, clock)
    user_id = practice.client.user.id
    await cards.save_sandbox_card(
        user_id,
        "4242424242424242",
        12,
        2034,
        gateway=SandboxGateway(),
        now=clock.now(),
        actor=Actor(user_id=user_id, role="client", ip="203.0.113.9"),
        settings=sandbox,
        queue=JobQueue(None, sandbox.queue_name),
    )
    card = await cards.card_on_file(user_id)
    assert (card.authorisation_version, card.authorised_ip) == (card_authorisation.VERSION, "203.0.113.9")


def test_a_stand_in_for_stripe_js_is_refused_outside_debug(settings):
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="STRIPE_JS_URL"):
        dataclasses.replace(settings, debug=False, secret_key="k" * 40, stripe_js_url="http://x/v3/").check()
    with pytest.raises(ConfigError, match="STRIPE_PUBLISHABLE_KEY"):
        dataclasses.replace(settings, stripe_publishable_key="").check()
