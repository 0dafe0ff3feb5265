"""At phone size: a clinician adds a client, the client opens the invitation from the dev mailbox,
sets a password and lands in the portal with their upcoming session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.tables import Client
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician
from tests.test_clients_web import add_appointment

pytestmark = pytest.mark.browser


async def test_clinician_invites_and_client_lands_in_portal(live_server, phone, settings, clock):

    now = clock.now()
    clinician = await make_clinician(settings, now)
    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Add client").click()
    await phone.get_by_label("Name").fill("Alex Rivera")
    await phone.get_by_label("Email").fill("alex@example.test")
    await phone.get_by_role("button", name="Add client").click()
    await phone.wait_for_url("**/clients/*")
    assert "An invitation went to alex@example.test" in await phone.content()
    await assert_fits_phone(phone)
    await screenshot(phone, "client-page")

    client = await Client.objects().where(Client.email == "alex@example.test").first()
    await add_appointment(clinician, client.id, now + timedelta(days=3))
    await phone.get_by_role("button", name="Sign out").click()
    await phone.wait_for_url("**/login?notice=signed-out")

    await phone.goto(f"{live_server}/dev/mailbox/")
    await phone.get_by_role("link", name="Calm Harbor invited you to Stillwater").click()
    invite = phone.locator("a[href*='/invite/']").first
    await invite.click()
    await phone.wait_for_url("**/invite/*")
    assert "Calm Harbor" in await phone.content()
    await phone.get_by_label("Choose a password").fill("short")
    assert await phone.locator(".strength").inner_text() == "Too short: 5 more characters."
    await phone.get_by_label("Choose a password").fill("maple lantern orbit seven")
    await phone.get_by_label("Type it again").fill("maple lantern orbit seven")
    await assert_fits_phone(phone)
    await screenshot(phone, "invitation-accept")
    await phone.get_by_role("button", name="Set password and open my portal").click()
    await phone.wait_for_url("**/portal**")
    content = await phone.content()
    assert "Welcome to your client portal" in content
    assert "Upcoming sessions" in content and "50 min with Calm Harbor" in content
    await assert_fits_phone(phone)
    await screenshot(phone, "portal-home")
