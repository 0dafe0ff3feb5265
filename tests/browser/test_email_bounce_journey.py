"""At phone size and wide: after the provider reports a hard bounce, the clinician opens the client from
the Clients list and reads that emails to this address bounce; once the mailbox works again, they tap
"Try this address again" and the warning goes."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.conftest import start_web
from tests.helpers import PASSWORD, make_client, make_clinician

pytestmark = [pytest.mark.browser, pytest.mark.dates]
TOKEN = "journey-webhook-token"


@pytest.fixture
def served(db, redis, settings):
    process, base_url = start_web(settings, EMAIL_WEBHOOK_TOKEN=TOKEN)
    yield base_url
    process.terminate()
    process.wait(timeout=10)


async def test_a_bounced_address_is_flagged_on_the_clients_page(served, phone, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await make_client(
        settings,
        clock.now(),
        clinician,
        name="Alexandra Rivera-Okonkwo",
        email="alexandra.rivera-okonkwo@example.test",
    )
    event = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "Email": "alexandra.rivera-okonkwo@example.test",
        "Description": "The server responded that the mailbox does not exist",
    }
    async with httpx.AsyncClient(base_url=served) as provider:
        assert (await provider.post("/email/events", json=event, auth=("hook", TOKEN))).json() == {
            "recorded": 1
        }

    await sign_in(phone, served, clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Alexandra Rivera-Okonkwo").first.click()
    await phone.wait_for_url("**/clients/*")
    notice = phone.get_by_role("status").filter(has_text="Emails to this address bounce")
    await notice.wait_for()
    assert "No email goes to it until the address changes" in await notice.inner_text()
    await assert_fits_phone(phone)
    await screenshot(phone, "client-bounce-phone")
    await phone.set_viewport_size({"width": 1280, "height": 800})
    assert await notice.is_visible()
    await screenshot(phone, "client-bounce-wide")

    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.get_by_role("button", name="Try this address again").click()
    await phone.get_by_text("Emails to this address will be sent again").wait_for()
    assert await notice.count() == 0
    assert await phone.get_by_role("button", name="Try this address again").count() == 0
