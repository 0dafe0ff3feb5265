"""At phone size: one door, two roles — the clinician lands on the calendar, the client on the portal."""

from __future__ import annotations

import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_client, make_clinician

pytestmark = pytest.mark.browser


async def test_clinician_and_client_sign_in_at_phone_size(live_server, phone, settings, clock):

    now = clock.now()
    clinician = await make_clinician(settings, now)
    person, _ = await make_client(settings, now, clinician)

    await sign_in(phone, live_server, clinician.email, "wrong password here")
    assert await phone.get_by_role("alert").inner_text() == "That email and password don't match an account."
    await sign_in(phone, live_server, clinician.email, PASSWORD)
    assert phone.url.endswith("/calendar")
    await assert_fits_phone(phone)
    await screenshot(phone, "clinician-landing")
    await phone.get_by_role("button", name="Sign out").click()
    await phone.wait_for_url("**/login?notice=signed-out")
    assert "You're signed out." in await phone.content()

    await sign_in(phone, live_server, person.email, PASSWORD)
    assert phone.url.endswith("/portal")
    await assert_fits_phone(phone)
    await screenshot(phone, "client-landing")
    response = await phone.goto(f"{live_server}/calendar")
    assert response.status == 403
