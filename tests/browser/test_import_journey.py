"""Switching in, as the owner would (issue 26), at phone size (390×844) and laptop size (1280×800):
upload a hand-made client list, fix the column mapping, read the preview's problems, import, upload the
old calendar, decide who an unmatched event is with, book, and find the clients and next week's sessions."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.browser.helpers import sign_in
from tests.browser.test_accessibility import check
from tests.conftest import START
from tests.helpers import PASSWORD, make_clinician
from tests.import_samples import weekly_calendar

pytestmark = pytest.mark.browser

CLIENTS = (
    b"Who,Address,Tel\r\n"
    b"Ana Souza,ana@example.test,555-0101\r\n"
    b"Sam Park,sam@example.test,555-0102\r\n"
    b"Nobody Mail,,555-0103\r\n"
)


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_owner_imports_clients_and_next_weeks_sessions(
    live_server, phone, settings, clock, tmp_path, size
):
    if size == "desktop":
        await phone.set_viewport_size({"width": 1280, "height": 800})
    owner = await make_clinician(settings, clock.now())
    zone = ZoneInfo(owner.user.time_zone)
    next_tuesday = START.astimezone(zone).date() + timedelta(
        days=(1 - START.astimezone(zone).weekday()) % 7 or 7
    )
    client_list = tmp_path / "my clients.csv"
    client_list.write_bytes(CLIENTS)
    calendar = tmp_path / "old calendar.ics"
    calendar.write_bytes(
        weekly_calendar(
            f"{next_tuesday:%Y%m%d}T100000", client_email="ana@example.test", client_name="Ana Souza"
        )
    )

    problems: list[str] = []  # accessibility (axe) and phone-width problems, as the a11y sweep finds them
    await sign_in(phone, live_server, owner.email, PASSWORD)
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Import clients").click()
    await phone.get_by_label("Client list (CSV)").set_input_files(str(client_list))
    await phone.get_by_role("button", name="Upload client list").click()
    await phone.wait_for_url("**/imports/*")

    # Headings of its own: the name and email columns are not guessed, and the page says so.
    await expect(
        phone.get_by_text("Choose the full name column, or both first and last name.")
    ).to_be_visible()
    await phone.get_by_label("Full name").select_option("Who")
    await phone.get_by_label("Email", exact=True).select_option("Address")
    await phone.get_by_label("Phone").select_option("Tel")
    await phone.get_by_role("button", name="Use these columns").click()
    await expect(phone.get_by_text("3 rows: 2 ready, 1 with problems (left out).")).to_be_visible()
    await expect(phone.get_by_text("No email address.")).to_be_visible()
    await check(phone, "import-preview", size, problems)
    await phone.get_by_role("button", name="Import 2 clients").click()
    await expect(phone.get_by_text("Done: 2 added, 0 updated, 1 left out.")).to_be_visible()

    await phone.get_by_role("link", name="← Import").click()
    await phone.get_by_label("Calendar (.ics)").set_input_files(str(calendar))
    await phone.get_by_role("button", name="Upload sessions").click()
    await phone.wait_for_url("**/imports/*")
    await expect(phone.get_by_role("heading", name="Who are these with?")).to_be_visible()
    await phone.get_by_label("Consultation Sam Park").select_option(label="Sam Park")
    await phone.get_by_role("button", name="Save choices").click()
    await check(phone, "import-calendar", size, problems)
    await phone.get_by_role("button", name="Book 8 sessions").click()
    await expect(phone.get_by_text("Done: 8 added")).to_be_visible()

    await phone.get_by_role("link", name="Clients", exact=True).click()
    await expect(phone.get_by_role("link", name="Sam Park")).to_be_visible()
    await phone.get_by_role("link", name="Ana Souza").click()
    await expect(phone.get_by_text(f"{next_tuesday:%a %d %b %Y}, 10:00")).to_be_visible()
    await check(phone, "import-client", size, problems)
    assert problems == []
