"""At phone size: a client picks monthly superbills in the portal and downloads last month's PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.queue import JobQueue
from tests.billing_support import fill_billing_details, paid_session, pdf_text
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.charging_support import make_practice
from tests.helpers import PASSWORD
from tests.test_superbills import LAST_MONTH, at_ten

pytestmark = pytest.mark.browser


async def test_client_picks_monthly_superbills_and_downloads_the_months_pdf(
    live_server, phone, settings, clock
):
    practice = await make_practice(settings, clock.now(), JobQueue(None, settings.queue_name), card=None)
    await fill_billing_details(practice, clock.now(), settings)
    for day in (3, 10, 17, 24):
        await paid_session(practice, at_ten(LAST_MONTH.replace(day=day)))

    await sign_in(phone, live_server, practice.client.email, PASSWORD)
    await phone.get_by_role("link", name="Insurance", exact=True).click()
    await phone.get_by_role("link", name="Superbills and estimates").click()
    await phone.get_by_role("group", name="When do you want superbills?").wait_for()
    await phone.get_by_label("Once a month, for the month's sessions").check()
    await phone.get_by_role("button", name="Save my choice").click()
    await phone.get_by_text("1 monthly superbill ready below").wait_for()
    await assert_fits_phone(phone)
    await screenshot(phone, "portal-superbills")

    async with phone.expect_download() as waiting:
        await phone.get_by_role("link", name=f"Download PDF: superbill for {LAST_MONTH:%B %Y}").click()
    download = await waiting.value
    assert download.suggested_filename == f"superbill-{LAST_MONTH:%B-%Y}.pdf".lower()
    text = pdf_text(Path(await download.path()).read_bytes())
    assert f"{LAST_MONTH:%B %Y}" in text and "Alex Rivera" in text
    assert "Total paid: $600.00" in text
    assert all(f"{LAST_MONTH.replace(day=day):%m/%d/%Y}" in text for day in (3, 10, 17, 24))
