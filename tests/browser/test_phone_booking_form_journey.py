"""Booking on a phone (390×844): "New client's name/email" show only while "New client" is chosen,
with the page's script and without it, and the server books whom the form shows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from app.models.tables import Appointment, Client
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.conftest import PHONE
from tests.helpers import PASSWORD, make_client, make_clinician

pytestmark = pytest.mark.browser

NEW_YORK = ZoneInfo("America/New_York")  # make_clinician's zone
NEW_CLIENT = "+ New client (fill in below)"


async def new_client_fields_follow_the_choice(form) -> None:
    name, email = form.get_by_label("New client's name"), form.get_by_label("New client's email")
    client = form.get_by_label("Client", exact=True)
    await expect(client.locator("option:checked")).to_have_text("Alex Rivera (alex@example.test)")
    await expect(name).to_be_hidden()
    await expect(email).to_be_hidden()
    await client.select_option(label=NEW_CLIENT)
    await expect(name).to_be_visible()
    await expect(email).to_be_visible()
    await name.fill("Jamie Walsh")
    await client.select_option(label="Alex Rivera (alex@example.test)")
    await expect(name).to_be_hidden()
    await expect(email).to_be_hidden()


async def test_new_client_fields_show_only_for_a_new_client(live_server, phone, settings, clock):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, alex = await make_client(settings, now, clinician)
    today = now.astimezone(NEW_YORK).date()

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    # Tap the day's first hour to book there (no session today, so it is empty).
    day = phone.get_by_role("group", name=today.strftime("%A %-d %B"))
    await day.click(position={"x": 40, "y": 10})
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="New appointment").wait_for()
    await new_client_fields_follow_the_choice(dialog)
    await assert_fits_phone(phone)
    await screenshot(phone, "booking-existing-client-phone")
    await dialog.get_by_role("button", name="Book").click()
    await dialog.get_by_text(f"Booked {today:%a %-d %b}").wait_for()
    booked = await Appointment.objects().first()
    assert booked.client == alex and await Client.count() == 1, "booked for Alex; no new client"


async def test_new_client_fields_show_only_for_a_new_client_without_javascript(
    live_server, phone, settings, clock
):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, alex = await make_client(settings, now, clinician)
    today = now.astimezone(NEW_YORK).date()
    context = await phone.context.browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)

    await sign_in(page, live_server, clinician.email, PASSWORD)
    await page.get_by_role("link", name="New appointment").click()
    await page.wait_for_url("**/appointments/new*")
    await new_client_fields_follow_the_choice(page)
    await assert_fits_phone(page)

    # "New client" with nothing filled in: the server says so next to the fields, which show.
    await page.get_by_label("Client", exact=True).select_option(label=NEW_CLIENT)
    await page.get_by_label("New client's name").fill("")
    await page.get_by_label("Start").fill("11:00")
    await page.get_by_role("button", name="Book").click()
    await expect(page.get_by_label("New client's name")).to_be_visible()
    await expect(page.get_by_label("New client's name")).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "booking-new-client-error-phone")

    # Back to Alex, with a name still typed in the hidden field: Alex is booked, no one is added.
    await page.get_by_label("New client's name").fill("Jamie Walsh")
    await page.get_by_label("Client", exact=True).select_option(label="Alex Rivera (alex@example.test)")
    await expect(page.get_by_label("New client's name")).to_be_hidden()
    await page.get_by_role("button", name="Book").click()
    await page.wait_for_url(f"**/calendar?view=day&date={today:%Y-%m-%d}")
    await page.get_by_text(f"Booked {today:%a %-d %b}, 11:00").wait_for()
    booked = await Appointment.objects().first()
    assert booked.client == alex and await Client.count() == 1
    await context.close()
