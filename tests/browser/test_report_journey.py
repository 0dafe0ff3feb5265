"""At phone size: the report fits the screen, filters change the page and the URL, and Back restores it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from app.domain.statuses import AppointmentStatus as S
from app.domain.statuses import ChargeStatus as C
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician
from tests.report_data import add_appointment, add_client, add_status_change, set_charge

pytestmark = pytest.mark.browser


@pytest.mark.dates
async def test_report_filters_bookmark_and_back_at_phone_size(live_server, phone, settings, clock):

    now = clock.now()
    maya = await make_clinician(settings, now)
    zone = ZoneInfo(maya.user.time_zone)
    today = now.astimezone(zone).date()
    cid = maya.user.clinician_id
    alex = await add_client(cid, "Alex Rivera", now=now)
    blake = await add_client(cid, "Blake Moss", billing_type="insurance", now=now)
    for days in range(1, 12):
        client_id = alex if days % 2 else blake
        local_start = datetime.combine(today - timedelta(days=days), time(10), zone)
        starts = local_start.astimezone(UTC)
        appointment = await add_appointment(cid, client_id, starts)
        status = [S.OCCURRED, S.OCCURRED, S.NO_SHOW, S.LATE_CANCELLED, S.SCHEDULED][days % 5]
        if status != S.SCHEDULED:
            await add_status_change(
                appointment, S.SCHEDULED, status, by=maya.user.id, at=starts + timedelta(hours=2)
            )
        if status == S.OCCURRED:
            await set_charge(
                appointment, C.SUCCEEDED, 15000, due_at=starts + timedelta(hours=50), succeeded_at=starts
            )

    await sign_in(phone, live_server, maya.email, PASSWORD)
    await phone.get_by_role("link", name="Report").click()
    await phone.wait_for_url("**/report")
    await phone.get_by_label("Dates").select_option("custom")
    await phone.wait_for_url("**/report?preset=custom*")
    first_day = (today - timedelta(days=11)).isoformat()
    await phone.get_by_label("From").fill(first_day)
    await phone.wait_for_url(f"**start={first_day}*")
    await assert_fits_phone(phone)
    await screenshot(phone, "report-phone")
    custom_url = phone.url

    await phone.get_by_role("checkbox", name="No-show").check()
    await phone.wait_for_url("**status=no_show*")
    rows = phone.locator(".report-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("No-show")
    await phone.go_back()
    await phone.wait_for_url(custom_url)
    await expect(rows).to_have_count(11)
    await expect(phone.get_by_role("checkbox", name="No-show")).not_to_be_checked()

    await phone.goto(f"{live_server}/report?preset=custom&start=2026-12-01&end=2026-11-01")
    assert (
        "The last day is before the first day." in await phone.get_by_text("The last day").first.inner_text()
    )
    await assert_fits_phone(phone)
