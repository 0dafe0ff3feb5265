"""At phone size: a clinician completes the first-meeting checklist for a new client from the client's
page (the client sets their password from the invitation in between; the intake and the card are marked
not applicable, as for a practice that does both on paper; tests/browser/test_intake_paperwork_journey.py
has the client do them)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.models.tables import Client
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician
from tests.test_clients_web import add_appointment

pytestmark = pytest.mark.browser


async def test_clinician_completes_the_first_meeting_checklist_from_the_client_page(
    live_server, phone, settings, clock
):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Add client").click()
    await phone.get_by_label("Name").fill("Alex Rivera")
    await phone.get_by_label("Email").fill("alex@example.test")
    await phone.get_by_role("button", name="Add client").click()
    await phone.wait_for_url("**/clients/*")
    checklist = phone.locator("section.checklist")
    await checklist.get_by_text("6 to do").wait_for()
    assert await phone.locator("#new-clients-count").text_content() == "1 with checklist items to do"
    client = await Client.objects().where(Client.email == "alex@example.test").first()
    item = lambda key: phone.locator(f"#checklist-{client.id}-{key}")  # noqa: E731

    # 1. Portal access: resend the invite, then the client sets a password from the newest link.
    await item("portal_access").get_by_role("button", name="Resend invite").click()
    await checklist.get_by_text("A new invitation is on its way").wait_for()
    await assert_fits_phone(phone)
    await screenshot(phone, "checklist-new-client")
    other = await phone.context.browser.new_context(viewport={"width": 390, "height": 844})
    client_page = await other.new_page()
    await client_page.goto(f"{live_server}/dev/mailbox/")
    await client_page.get_by_role("link", name="Calm Harbor invited you to Stillwater").first.click()
    await client_page.locator("a[href*='/invite/']").first.click()
    await client_page.get_by_label("Choose a password").fill("maple lantern orbit seven")
    await client_page.get_by_label("Type it again").fill("maple lantern orbit seven")
    await client_page.get_by_role("button", name="Set password and open my portal").click()
    await client_page.wait_for_url("**/portal**")
    await other.close()

    # 2. The intro session has started: mark it Occurred from the checklist.
    intro = await add_appointment(clinician, client.id, now - timedelta(minutes=10), fee=0)
    await phone.reload()
    await item("portal_access").get_by_text("Done").wait_for()
    await item("intro_occurred").get_by_role("button", name="Mark Occurred").click()
    await item("intro_occurred").get_by_text("Done").wait_for()
    assert "by Maya Chen" in await item("intro_occurred").inner_text()

    # 3. Book the next session: the checklist offers "Book next" with a weekly series; here the
    # session is booked with the booking form.
    book_next = item("next_booked").get_by_role("link", name="Book weekly sessions")
    assert await book_next.get_attribute("href") == f"/appointments/{intro}/book-next?count=6&every=1"
    next_week = (now + timedelta(days=7)).astimezone(ZoneInfo("America/New_York"))
    await phone.goto(f"{live_server}/appointments/new")
    await phone.get_by_label("Client", exact=True).select_option(value=str(client.id))
    await phone.get_by_label("Date").fill(next_week.strftime("%Y-%m-%d"))
    await phone.get_by_label("Start").fill("07:05")
    await phone.get_by_role("button", name="Book").click()
    await phone.get_by_text("Booked ").first.wait_for()
    await phone.goto(f"{live_server}/clients/{client.id}")
    await item("next_booked").get_by_text("Done").wait_for()

    # The practice takes the intake on paper and bills by invoice: those two items don't apply.
    for key, reason in (("intake_complete", "Paper intake in the office"), ("card_saved", "Pays by invoice")):
        await item(key).get_by_text("Not applicable?").click()
        await item(key).get_by_label("Why doesn't this apply?").fill(reason)
        await item(key).get_by_role("button", name="Mark not applicable").click()
        await item(key).get_by_role("button", name="Put back on the checklist").wait_for()

    # 4. Discuss insurance: record the outcome with a note.
    coverage = item("insurance_discussed")
    await coverage.get_by_label("Coverage status").select_option(label="Covered")
    await coverage.get_by_label("Note").fill("Aetna PPO, in network; $25 copay")
    await coverage.get_by_role("button", name="Save coverage").click()
    await checklist.get_by_text("All done").wait_for()
    text = await checklist.inner_text()
    assert "Covered" in text and "Aetna PPO, in network; $25 copay" in text
    assert await phone.locator("#new-clients-count").text_content() == "0 with checklist items to do"
    await assert_fits_phone(phone)
    await screenshot(phone, "checklist-all-done")
    await phone.get_by_role("link", name="New clients").click()
    await phone.get_by_text("Every client's checklist is done").wait_for()
