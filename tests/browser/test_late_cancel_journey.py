"""At phone size (390×844): a client cancels inside the window from the portal, reads the exact fee
before confirming and confirms; the clinician then sees the pending late-cancel fee in the panel."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.browser.helpers import assert_fits_phone, screenshot
from tests.browser.test_appointment_panel_journey import go_to_day, session_link
from tests.helpers import PASSWORD
from tests.test_calendar import add_appointment
from tests.test_late_cancel_portal import with_policy

pytestmark = pytest.mark.browser
NY = ZoneInfo("America/New_York")
FEE_NOTICE = "a late-cancel fee of $75.00 will be charged to your card on file"


async def sign_in_from_landing(page, base_url: str, email: str) -> None:
    await page.goto(base_url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("networkidle")


async def test_a_late_cancel_shows_its_fee_first_and_the_clinician_sees_it_pending(
    live_server, phone, settings, clock
):
    clinician, person, client_id = await with_policy(settings, clock)
    starts_at = clock.now() + timedelta(hours=30)
    await add_appointment(clinician, client_id, starts_at)

    await sign_in_from_landing(phone, live_server, person.email)
    await phone.get_by_role("link", name="Cancel this session").click()
    await expect(phone.get_by_role("heading", name="Cancel this session?")).to_be_visible()
    await expect(phone.get_by_text(FEE_NOTICE)).to_be_visible()
    await assert_fits_phone(phone)
    await screenshot(phone, "late-cancel-fee-notice")
    await phone.get_by_role("button", name="Cancel and pay the $75.00 fee").click()
    await expect(phone.get_by_text("Cancelled. A late-cancel fee of $75.00 is due.")).to_be_visible()
    await phone.get_by_role("button", name="Sign out").click()
    await phone.wait_for_url("**/login?notice=signed-out")

    await sign_in_from_landing(phone, live_server, clinician.email)
    await go_to_day(phone, starts_at.astimezone(NY).date())
    await session_link(phone).click()
    charge = phone.locator("#appointment-charge")
    await expect(charge).to_contain_text("Late-cancel fee $75.00")
    await expect(charge.locator(".countdown")).to_be_visible()
    await assert_fits_phone(phone)
    await screenshot(phone, "late-cancel-fee-in-panel")
