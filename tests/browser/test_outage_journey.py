"""At phone size, Redis stops under a signed-in clinician: a live search says "temporarily unavailable"
in the page's flash area (the list stays), a reload shows the 503 page, and when Redis is back the
same page works again without signing in anew."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.conftest import start_web
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.private_servers import PrivateRedis

pytestmark = pytest.mark.browser

UNAVAILABLE = "Temporarily unavailable — nothing was lost"


async def test_redis_outage_is_shown_in_place_and_passes(db, phone, settings, clock):
    redis_server = PrivateRedis()
    redis_server.start()
    on_private = replace(settings, redis_url=redis_server.url)
    web, base_url = start_web(on_private)
    try:
        now = clock.now()
        clinician = await make_clinician(on_private, now)
        await make_client(on_private, now, clinician, name="Alex Rivera")
        await sign_in(phone, base_url, clinician.email, PASSWORD)
        await phone.get_by_role("link", name="Clients").first.click()
        await phone.wait_for_url("**/clients")
        flashes = phone.locator("#flashes")
        assert await flashes.inner_text() == ""

        redis_server.stop()
        await phone.get_by_label("Search").fill("Al")
        await flashes.get_by_text(UNAVAILABLE).wait_for()
        assert await phone.get_by_text("Alex Rivera").is_visible(), "the list was replaced"
        await assert_fits_phone(phone)
        await screenshot(phone, "outage-flash")
        response = await phone.reload()
        assert response.status == 503
        assert await phone.get_by_role("heading", name="Temporarily unavailable").is_visible()

        redis_server.start()
        response = await phone.reload()
        assert response.status == 200 and urlsplit(phone.url).path == "/clients"
        assert await flashes.inner_text() == ""
    finally:
        web.terminate()
        web.wait(timeout=10)
        redis_server.remove()
