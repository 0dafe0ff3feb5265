"""At phone size: book a weekly series of 6 from an appointment's panel; a visitor books the intro call."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.models.tables import Appointment, Client, EmailMessage, WorkingHours
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.conftest import ARTIFACTS
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.test_calendar import add_appointment

pytestmark = pytest.mark.browser
NY = ZoneInfo("America/New_York")


@pytest.mark.dates
async def test_book_a_weekly_series_of_six_from_the_panel_on_a_phone(live_server, phone, settings, clock):

    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, client_id = await make_client(settings, now, clinician)
    tomorrow = (now.astimezone(NY) + timedelta(days=1)).date()
    starts_at = datetime.combine(tomorrow, time(10, 0), tzinfo=NY)
    appointment_id = await add_appointment(clinician, client_id, starts_at)

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.goto(f"{live_server}/calendar?view=day&date={tomorrow:%Y-%m-%d}")
    await phone.locator(f"#appt-{appointment_id}").click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("link", name="Book next").click()
    await dialog.get_by_role("heading", name="Book next: Alex Rivera").wait_for()
    assert await dialog.get_by_label("Date").input_value() == f"{tomorrow + timedelta(days=7):%Y-%m-%d}"
    assert await dialog.get_by_label("Start").input_value() == "10:00"
    assert await dialog.locator(".series-when").count() == 6
    await dialog.get_by_text("No clashes.").wait_for()
    await screenshot(phone, "series-preview-phone")
    await assert_fits_phone(phone)
    await dialog.get_by_role("button", name="Book 6 sessions").click()
    await dialog.get_by_text("Booked 6 sessions").wait_for()
    await screenshot(phone, "series-booked-phone")

    rows = await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)
    assert [r.starts_at.astimezone(NY).strftime("%a %H:%M") for r in rows] == [
        starts_at.strftime("%a 10:00")
    ] * 6
    assert await EmailMessage.count().where(EmailMessage.kind == "sessions_booked") == 1


@pytest.mark.dates
async def test_a_visitor_books_the_intro_call_on_a_phone(live_server, phone, settings, clock):

    now = clock.now()
    clinician = await make_clinician(settings, now)
    await WorkingHours.insert(
        *[
            WorkingHours(
                clinician=clinician.user.clinician_id, weekday=d, start_minute=9 * 60, end_minute=13 * 60
            )
            for d in range(7)
        ]
    )
    await phone.goto(f"{live_server}/book/calm-harbor")
    await phone.get_by_role("heading", name="Book with Calm Harbor").wait_for()
    await phone.wait_for_load_state("networkidle")
    await phone.get_by_text("Intro call · 15 min · free").wait_for()
    await assert_fits_phone(phone)
    await phone.screenshot(path=str(ARTIFACTS / "public-booking-phone.png"))  # the first screen
    await phone.locator(".slot span").first.click()
    await phone.get_by_label("Your name").fill("Jordan Park")
    await phone.get_by_label("Email").fill("jordan@example.test")
    await phone.get_by_label("I agree to the cancellation policy").check()
    await phone.get_by_role("button", name="Book", exact=True).click()
    await phone.get_by_role("heading", name="Thank you").wait_for()
    await screenshot(phone, "public-booked-phone")

    record = await Client.objects().where(Client.email == "jordan@example.test").first()
    appointment = await Appointment.objects().where(Appointment.client == record.id).first()
    assert appointment.kind == "intro" and appointment.starts_at >= now + timedelta(hours=24)
    kinds = sorted(
        m.kind for m in await EmailMessage.objects().where(EmailMessage.to_address == record.email)
    )
    assert kinds == ["invitation", "sessions_booked"]
