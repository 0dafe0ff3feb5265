"""The calendar's sheet and the appointment panel, tapped as a therapist taps them: "New appointment",
refunds that ask first, a pending charge that keeps itself current, "Book next" results and its preview.
At phone size (390×844); the calendar ones also at 1280×800."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.test_calendar import add_appointment

pytestmark = pytest.mark.browser
NY = ZoneInfo("America/New_York")
WIDE = {"width": 1280, "height": 800}

# Every element with hx-target whose hx-swap comes from an element around it, in the live page.
INHERITED_SWAPS = """() => [...document.querySelectorAll('[hx-target]:not([hx-swap])')]
  .filter(el => el.parentElement && el.parentElement.closest('[hx-swap]'))
  .map(el => el.outerHTML.slice(0, 120))"""


async def go_to_day(page, day) -> None:
    """Use the calendar's own "Go to" date field, as a person looking for a day does."""
    await page.get_by_label("Go to").fill(f"{day:%Y-%m-%d}")
    await page.get_by_role("button", name="Go", exact=True).click()
    await page.wait_for_load_state("networkidle")
    assert await page.get_by_label("Go to").input_value() == f"{day:%Y-%m-%d}"


def session_link(page, name: str = "Alex Rivera"):
    return page.locator("#calendar").get_by_role("link", name=re.compile(name))


@pytest.mark.parametrize("size", ["phone", "wide"])
async def test_new_appointment_opens_the_sheet_and_later_taps_still_work(
    live_server, phone, settings, clock, size
):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, client_id = await make_client(settings, now, clinician)
    day = (now.astimezone(NY) + timedelta(days=1)).date()
    await add_appointment(clinician, client_id, datetime.combine(day, time(10, 0), tzinfo=NY))
    if size == "wide":
        await phone.set_viewport_size(WIDE)

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await go_to_day(phone, day)
    dialog = phone.locator("#appointment-dialog")
    await phone.get_by_role("link", name="New appointment").click()
    await dialog.get_by_role("heading", name="New appointment").wait_for()
    assert await dialog.is_visible()
    assert await dialog.get_by_label("Date").input_value() == f"{day:%Y-%m-%d}"
    await screenshot(phone, f"new-appointment-{size}")
    if size == "phone":
        await assert_fits_phone(phone)
    await dialog.get_by_role("button", name="Close").click()
    assert await dialog.is_hidden()

    # The sheet still works for what comes next: a session, its "Reschedule" and "Keep as is".
    await session_link(phone).click()
    await dialog.get_by_role("heading", name="Alex Rivera", exact=True).wait_for()
    await dialog.get_by_role("link", name="Reschedule").click()
    await dialog.get_by_role("heading", name="Reschedule Alex Rivera").wait_for()
    await dialog.get_by_role("link", name="Keep as is").click()
    await dialog.get_by_role("heading", name="Alex Rivera", exact=True).wait_for()
    await dialog.get_by_role("button", name="Close").click()
    await phone.get_by_role("link", name="New appointment").click()
    await dialog.get_by_role("heading", name="New appointment").wait_for()
    assert await phone.evaluate(INHERITED_SWAPS) == []
