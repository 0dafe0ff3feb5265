"""The calendar's sheet and the appointment panel, tapped as a therapist taps them: "New appointment",
refunds that ask first, a pending charge that keeps itself current, "Book next" results and its preview.
At phone size (390×844); the calendar ones also at 1280×800."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from app.domain.statuses import ChargeStatus as C
from app.models.tables import Charge, WorkingHours
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.queue import JobQueue
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.charging_support import make_practice, mark, the_charge
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
    # The calendar has been swapped in when its "New appointment" books on that day.
    await expect(page.get_by_role("link", name="New appointment")).to_have_attribute(
        "href", re.compile(f"date={day:%Y-%m-%d}")
    )


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


async def paid_session(settings, clock):
    """A session an hour ago, marked Occurred and charged $150.00 to Visa ending 4242."""
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    charge = await the_charge(practice.appointment_id)
    await charges.run_charge(
        charge.id,
        charge.generation,
        now=clock.now() + timedelta(seconds=settings.charge_delay),
        settings=settings,
        gateway=SandboxGateway(),
        queue=queue,
    )
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED
    return practice


async def test_a_refund_asks_first_and_shows_money_as_money_on_a_phone(live_server, phone, settings, clock):
    practice = await paid_session(settings, clock)
    day = (clock.now() - timedelta(hours=1)).astimezone(NY).date()

    await sign_in(phone, live_server, practice.clinician.email, PASSWORD)
    await go_to_day(phone, day)
    await session_link(phone).click()
    dialog = phone.locator("#appointment-dialog")
    charge = dialog.locator("#appointment-charge")
    await charge.get_by_text("Paid").wait_for()
    await screenshot(phone, "refund-panel-phone")
    await assert_fits_phone(phone)

    # Apart from the status buttons: no red "Refund" button; a quiet "Refund…" below the actions.
    assert await dialog.get_by_role("button", name="Refund", exact=True).count() == 0
    refund = charge.get_by_text("Refund…")
    status = await dialog.get_by_role("group", name="Set status").bounding_box()
    book_next = await dialog.get_by_role("link", name="Book next").bounding_box()
    below_status = book_next["y"] + book_next["height"] > status["y"] + status["height"]
    assert below_status and (await refund.bounding_box())["y"] > book_next["y"] + book_next["height"]

    await refund.click()
    amount = charge.get_by_label("Refund amount")
    assert await amount.input_value() == "150.00"
    await charge.get_by_role("button", name="Review refund").click()
    await charge.get_by_text("Refund $150.00 to Visa ending 4242?").wait_for()
    await screenshot(phone, "refund-confirm-phone")
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED, "nothing refunded before yes"

    await charge.get_by_role("link", name="Don't refund").click()
    await charge.get_by_text("Refund…").wait_for()
    await charge.get_by_text("Refund…").click()
    await charge.get_by_label("Refund amount").fill("40")
    await charge.get_by_role("button", name="Review refund").click()
    await charge.get_by_text("Refund $40.00 to Visa ending 4242?").wait_for()
    await charge.get_by_role("button", name="Refund $40.00").click()
    await charge.get_by_text("Refunded $40.00.").wait_for()
    row = await the_charge(practice.appointment_id)
    assert (row.status, row.refunded_minor) == (C.PARTIALLY_REFUNDED, 4000)
    await charge.get_by_text("Refund…").click()
    assert await charge.get_by_label("Refund amount").input_value() == "110.00"


async def test_a_pending_charge_keeps_the_panel_and_the_client_page_current(
    live_server, phone, settings, clock
):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    day = (clock.now() - timedelta(hours=1)).astimezone(NY).date()

    await sign_in(phone, live_server, practice.clinician.email, PASSWORD)
    await go_to_day(phone, day)
    await session_link(phone).click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("button", name="Occurred", exact=True).click()
    charge = dialog.locator("#appointment-charge")
    await charge.get_by_text("(in 2 days)").wait_for()
    assert "in 0 minutes" not in await charge.inner_text()

    # The client's page, open in a second tab: the same charge, also counting down.
    client_page = await phone.context.new_page()
    await client_page.goto(f"{live_server}/calendar")
    await client_page.get_by_role("link", name="Clients").first.click()
    await client_page.get_by_role("link", name=re.compile("Alex Rivera")).click()
    sessions = client_page.get_by_role("region", name="Appointments")
    await sessions.get_by_text("Scheduled, due").wait_for()
    assert "(in 2 days)" in await sessions.inner_text()

    # Two days pass (the charge is due), then the card goes through: both screens follow by themselves.
    row = await the_charge(practice.appointment_id)
    await Charge.update({Charge.due_at: clock.now() - timedelta(minutes=1)}).where(Charge.id == row.id)
    await charge.get_by_text("(any moment now)").wait_for(timeout=20_000)
    await charges.run_charge(
        row.id,
        row.generation,
        now=clock.now() + timedelta(seconds=settings.charge_delay),
        settings=settings,
        gateway=SandboxGateway(),
        queue=queue,
    )
    await charge.get_by_text("Paid").wait_for(timeout=10_000)
    await sessions.get_by_text("Paid").wait_for(timeout=20_000)
    await screenshot(phone, "charge-paid-phone")
    assert await charge.get_attribute("hx-trigger") is None, "settled: the panel stops asking"
    assert await client_page.locator("#client-sessions").get_attribute("hx-trigger") is None


@pytest.mark.parametrize("size", ["phone", "wide"])
async def test_after_booking_a_series_the_result_shows_at_the_top_on_the_same_session(
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
    await session_link(phone).click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="Alex Rivera", exact=True).wait_for()
    await dialog.get_by_role("link", name="Book next").click()
    await dialog.get_by_role("heading", name="Book next: Alex Rivera").wait_for()
    await dialog.get_by_role("button", name="Book 6 sessions").click()
    notice = dialog.get_by_text("Booked 6 sessions")
    await notice.wait_for()
    await phone.wait_for_timeout(300)  # let the scroll settle
    await screenshot(phone, f"series-booked-{size}")

    # The confirmation is on screen, below the sheet's "Close" bar, not scrolled away.
    box, close = await notice.bounding_box(), await dialog.get_by_role("button", name="Close").bounding_box()
    screen = phone.viewport_size["height"]
    assert close["y"] + close["height"] <= box["y"] and box["y"] + box["height"] <= screen
    # ...on the session the series was booked from, not the first new one a week later.
    when = await dialog.locator(".panel-when").inner_text()
    assert when.startswith(f"{day:%A} {day.day} {day:%B}, 10:00"), when


async def test_the_series_preview_tells_a_clash_from_a_note_on_a_phone(live_server, phone, settings, clock):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, client_id = await make_client(settings, now, clinician)
    _, other_id = await make_client(settings, now, clinician, email="sam@example.test", name="Sam Lee")
    day = (now.astimezone(NY) + timedelta(days=1)).date()
    await add_appointment(clinician, client_id, datetime.combine(day, time(10, 0), tzinfo=NY))
    next_week = datetime.combine(day + timedelta(days=7), time(10, 0), tzinfo=NY)
    await add_appointment(clinician, other_id, next_week)
    await WorkingHours.insert(  # afternoons only: every 10:00 session is outside working hours
        *[
            WorkingHours(
                clinician=clinician.user.clinician_id, weekday=d, start_minute=13 * 60, end_minute=17 * 60
            )
            for d in range(7)
        ]
    )

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await go_to_day(phone, day)
    await session_link(phone).first.click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="Alex Rivera", exact=True).wait_for()
    await dialog.get_by_role("link", name="Book next").click()
    preview = dialog.get_by_role("group", name="Preview")
    await preview.get_by_text("Clashes with Sam Lee, 10:00–10:50").wait_for()
    await screenshot(phone, "series-preview-clash-phone")
    await assert_fits_phone(phone)

    # The clash is the one thing in bold; outside-hours is a quiet note that doesn't count as a look.
    assert await preview.locator("strong").all_inner_texts() == ["1 date needs a choice."]
    note = preview.get_by_text("6 outside your working hours.")
    assert int(await note.evaluate("el => getComputedStyle(el).fontWeight")) < 600
    assert "need a look" not in await preview.inner_text()

    clash_row = preview.get_by_role("listitem").filter(has_text="Clashes with Sam Lee")
    await clash_row.get_by_label("Skip").check()
    await dialog.get_by_role("button", name="Update preview").click()
    await preview.get_by_text("No clashes.").wait_for()
    await preview.get_by_text("5 outside your working hours.").wait_for()
    assert await preview.locator("strong").count() == 0
    await screenshot(phone, "series-preview-notes-phone")
    await dialog.get_by_role("button", name="Book 5 sessions").click()
    await dialog.get_by_text("Booked 5 sessions").wait_for()
