"""At phone size: open the calendar, tap a session, mark it Occurred, see it on the grid; Back works."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.test_calendar import add_appointment

pytestmark = pytest.mark.browser


@pytest.mark.dates
async def test_mark_a_session_occurred_from_the_calendar_on_a_phone(live_server, phone, settings, clock):
    from zoneinfo import ZoneInfo

    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, client_id = await make_client(settings, now, clinician)
    last_week = now - timedelta(days=7)
    appointment_id = await add_appointment(clinician, client_id, last_week)
    await add_appointment(clinician, client_id, now + timedelta(hours=3))
    last_week_day = last_week.astimezone(ZoneInfo("America/New_York")).date()

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    assert phone.url.endswith("/calendar")
    assert await phone.locator(".cal-views a[aria-current=page]").inner_text() == "Day"
    await phone.get_by_role("link", name="Week").click()
    await phone.wait_for_url("**/calendar?view=week*")
    await phone.get_by_role("link", name="Previous week").click()
    await phone.wait_for_url(f"**/calendar?view=week&date={last_week_day:%Y-%m-%d}")
    await assert_fits_phone(phone)
    assert "1 past session still says Scheduled" in await phone.locator("#cal-needs").inner_text()

    cell = phone.locator(f"#appt-{appointment_id}")
    assert "Scheduled" in await cell.text_content()
    await cell.click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="Alex Rivera").wait_for()
    await screenshot(phone, "calendar-panel-phone")
    await dialog.get_by_role("button", name="Occurred", exact=True).click()
    await dialog.get_by_text("Scheduled → Occurred").wait_for()
    await dialog.get_by_role("button", name="Close").click()
    assert "Occurred" in await phone.locator(f"#appt-{appointment_id}").text_content()
    assert await phone.locator("#cal-needs").is_hidden(), "no session is waiting for a status any more"
    await screenshot(phone, "calendar-week-phone")

    await phone.get_by_role("link", name="Next week").click()
    await phone.wait_for_url(f"**/calendar?view=week&date={last_week_day + timedelta(days=7):%Y-%m-%d}")
    assert await phone.locator(f"#appt-{appointment_id}").count() == 0
    await phone.go_back()
    await phone.wait_for_url(f"**/calendar?view=week&date={last_week_day:%Y-%m-%d}")
    await phone.locator(f"#appt-{appointment_id}").wait_for()
    assert "Occurred" in await phone.locator(f"#appt-{appointment_id}").text_content()


async def test_tapping_an_empty_hour_opens_the_booking_form_at_that_hour(live_server, phone, settings, clock):

    clinician = await make_clinician(settings, clock.now())
    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.goto(f"{live_server}/calendar?view=day&date=2026-12-02")
    grid = phone.locator(".cal-grid")
    first_hour = int(await grid.get_attribute("data-first-hour"))
    hours = await phone.locator(".cal-hour").count()
    day = phone.locator(".cal-day[data-book]")
    box = await day.bounding_box()
    await day.click(position={"x": box["width"] / 2, "y": box["height"] / hours * 2.5})

    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="New appointment").wait_for()
    assert await dialog.get_by_label("Date").input_value() == "2026-12-02"
    assert await dialog.get_by_label("Start").input_value() == f"{first_hour + 2:02d}:00"
    await screenshot(phone, "calendar-tap-to-book-phone")
