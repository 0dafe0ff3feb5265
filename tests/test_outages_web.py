"""Redis down (a private redis-server, stopped mid-test): every page answers an honest 503, htmx gets one
line in the flash area, /healthz says 503 with or without a session, and a refused POST saves nothing.
When Redis is back, pages answer again by themselves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.models.tables import Appointment, Client, User
from app.web.app import create_app
from tests.conftest import browser, running
from tests.helpers import csrf_from, make_clinician, post_form, sign_in
from tests.private_servers import PrivateRedis
from tests.test_online_booking import SLUG, practice_with_hours, visitor

UNAVAILABLE = "Temporarily unavailable — nothing was lost"


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.remove()


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert "text/html" in response.headers["content-type"]
    assert UNAVAILABLE in response.text and "<h1>Temporarily unavailable</h1>" in response.text
    assert response.headers["retry-after"] == "30"


async def test_redis_down_pages_answer_503_and_refused_posts_save_nothing(db, settings, clock, private_redis):
    on_private = replace(settings, redis_url=private_redis.url)
    await practice_with_hours(on_private, clock)
    maya = await make_clinician(on_private, clock.now(), email="maya2@example.test", practice="Second")
    async with (
        running(create_app(on_private, clock=clock)) as app,
        browser(app) as clinician,
        browser(app) as visitor_browser,
    ):
        await sign_in(clinician, maya)
        assert (await clinician.get("/clients/")).status_code == 200
        await visitor_browser.get(f"/book/{SLUG}")
        token = csrf_from(clinician)

        private_redis.stop()

        assert_unavailable_page(await clinician.get("/clients/"))
        assert_unavailable_page(await visitor_browser.get(f"/book/{SLUG}"))
        assert_unavailable_page(await visitor_browser.get("/login"))
        refused = await post_form(
            clinician,
            "/clients/new",
            {"name": "Sam Ortiz", "email": "sam@example.test", "billing_type": "self_pay"},
        )
        assert_unavailable_page(refused)
        booking = await post_form(visitor_browser, f"/book/{SLUG}", visitor())
        assert_unavailable_page(booking)
        assert await Client.count() == 0
        assert await Appointment.count() == 0
        assert await User.count().where(User.email == "jordan@example.test") == 0

        swap = await clinician.post(
            "/clients/new",
            data={"name": "Sam Ortiz", "email": "sam@example.test", "billing_type": "self_pay"},
            headers={"HX-Request": "true", "x-csrftoken": token},
        )
        assert swap.status_code == 503
        assert swap.headers["hx-retarget"] == "#flashes"
        assert swap.headers["hx-reswap"] == "innerHTML"
        assert UNAVAILABLE in swap.text and "<html" not in swap.text and len(swap.text) < 300
        assert await Client.count() == 0

        for health in (await clinician.get("/healthz"), await visitor_browser.get("/healthz")):
            assert health.status_code == 503
            assert health.json() == {"status": "unavailable", "database": True, "redis": False}

        private_redis.start()

        assert (await clinician.get("/healthz")).status_code == 200
        assert (await clinician.get("/clients/")).status_code == 200  # the session kept (Redis's data)
        booked = await post_form(visitor_browser, f"/book/{SLUG}", visitor())
        assert booked.status_code in (200, 303), booked.text[:300]
        assert await Appointment.count() == 1


async def test_every_page_has_the_flash_area_htmx_retargets_to(client, settings, clock):
    page = await client.get("/login")
    assert '<div id="flashes" class="flashes" role="status"></div>' in page.text
