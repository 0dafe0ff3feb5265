"""A group practice at phone size (390×844), issue 17's "done when": the owner invites a clinician and a
front-desk member by email; both join from the link in the dev mailbox; the front desk books a new client
for the new clinician from the practice's day; the new clinician marks the session Occurred on
their phone; the owner finds it in the practice report under that clinician; the front desk can't open
the client's insurance page or refund."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from app.models.tables import Appointment, Client, Clinician, WorkingHours
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician

pytestmark = pytest.mark.browser

NEW_YORK = ZoneInfo("America/New_York")  # make_clinician's zone


async def sign_out(phone) -> None:
    await phone.get_by_role("button", name="Sign out").click()
    await phone.wait_for_url("**/login?notice=signed-out")


async def invite(phone, name: str, email: str, role: str) -> None:
    await phone.get_by_label("Name").fill(name)
    await phone.get_by_label("Email").fill(email)
    await phone.get_by_label("Role").select_option(label=role)
    await phone.get_by_role("button", name="Send invitation", exact=True).click()
    await phone.get_by_text(f"Invitation sent to {email}.").wait_for()


async def join_from_the_mailbox(phone, live_server: str, email: str, password: str) -> None:
    await phone.goto(f"{live_server}/dev/mailbox/")
    await phone.locator("li", has_text=f"to {email}").get_by_role("link").click()
    await phone.locator("a[href*='/join/']").first.click()
    await phone.wait_for_url("**/join/*")
    assert "Join Calm Harbor" in await phone.content()
    await phone.get_by_label("Choose a password").fill(password)
    await phone.get_by_label("Type it again").fill(password)
    await assert_fits_phone(phone)
    await phone.get_by_role("button", name="Set password and join").click()
    await phone.wait_for_url("**/calendar")


async def test_a_practice_invites_books_marks_and_reports_on_a_phone(live_server, phone, settings, clock):
    now = clock.now()
    owner = await make_clinician(settings, now)
    today = now.astimezone(NEW_YORK).date()

    # The owner invites a clinician and a front-desk member from Account → Members.
    await sign_in(phone, live_server, owner.email, PASSWORD)
    await phone.get_by_role("link", name="Account").click()
    await phone.get_by_role("link", name="Members").click()
    await phone.wait_for_url("**/practice/members")
    await invite(phone, "Noor Haddad", "noor@example.test", "Clinician")
    await invite(phone, "Sky Moreno", "sky@example.test", "Front desk")
    assert (await phone.content()).count(">Invited<") == 2
    await assert_fits_phone(phone)
    await screenshot(phone, "practice-members-phone")
    await sign_out(phone)

    # Both join from their emails.
    await join_from_the_mailbox(phone, live_server, "noor@example.test", "maple lantern orbit seven")
    noor_seat = (await Clinician.objects().where(Clinician.user.email == "noor@example.test").first()).id
    await WorkingHours.insert(
        *[
            WorkingHours(clinician=noor_seat, weekday=d, start_minute=7 * 60, end_minute=17 * 60)
            for d in range(5)
        ]
    )
    await sign_out(phone)
    await join_from_the_mailbox(phone, live_server, "sky@example.test", "quiet harbor desk lamp")

    # The front desk opens the practice's day, taps Noor's column and books a new client, earlier today.
    await phone.get_by_role("link", name="All clinicians").click()
    await phone.wait_for_url("**/calendar/practice*")
    await assert_fits_phone(phone)
    await screenshot(phone, "practice-day-phone")
    await phone.locator(".cal-dayhead button", has_text="Noor Haddad").click()
    await phone.get_by_text("You're working in Noor Haddad's calendar.").wait_for()
    await phone.get_by_role("link", name="New appointment").click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="New appointment").wait_for()
    await dialog.get_by_label("New client's name").fill("Jordan Park")
    await dialog.get_by_label("New client's email").fill("jordan@example.test")
    await dialog.get_by_label("Start").fill("07:00")
    await assert_fits_phone(phone)
    await dialog.get_by_role("button", name="Book").click()
    await dialog.get_by_text(f"Booked {today:%a %-d %b}").wait_for()
    session = await Appointment.objects().first()
    jordan = await Client.objects().where(Client.email == "jordan@example.test").first()
    assert session.clinician == noor_seat and jordan.clinician == noor_seat

    # The front desk sees the client's contact details, never their insurance, and can't refund.
    await phone.goto(f"{live_server}/calendar")
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Jordan Park").click()
    await phone.wait_for_url(f"**/clients/{jordan.id}")
    page = await phone.content()
    assert "jordan@example.test" in page and "Insurance" not in page and "Edit insurance" not in page
    refused = await phone.goto(f"{live_server}/clients/{jordan.id}/insurance")
    assert refused.status == 403
    token = next(c["value"] for c in await phone.context.cookies() if c["name"] == "csrftoken")
    refund = await phone.request.post(
        f"{live_server}/appointments/{session.id}/charge/refund",
        form={"amount": "10.00", "_csrf_token": token},
        headers={"x-csrftoken": token},
    )
    assert refund.status == 403
    await screenshot(phone, "front-desk-client-phone")
    await phone.goto(f"{live_server}/calendar")
    await sign_out(phone)

    # Noor marks it Occurred from her phone.
    await sign_in(phone, live_server, "noor@example.test", "maple lantern orbit seven")
    cell = phone.locator(f"#appt-{session.id}")
    await cell.click()
    panel = phone.locator("#appointment-dialog")
    await panel.get_by_role("heading", name="Jordan Park").wait_for()
    await panel.get_by_role("button", name="Occurred", exact=True).click()
    await panel.get_by_text("Scheduled → Occurred").wait_for()
    await screenshot(phone, "new-clinician-occurred-phone")
    await panel.get_by_role("button", name="Close").click()
    await sign_out(phone)

    # The owner finds it in the practice report under Noor.
    await sign_in(phone, live_server, owner.email, PASSWORD)
    await phone.get_by_role("link", name="Report").click()
    await phone.locator(".clinician-totals").wait_for()
    noor_row = phone.locator(".clinician-totals tr", has_text="Noor Haddad")
    assert (await noor_row.inner_text()).split() == ["Noor", "Haddad", "1", "1", "$150.00"]
    await phone.get_by_label("Clinician", exact=True).select_option(label="Noor Haddad")
    await phone.wait_for_load_state("networkidle")
    await phone.get_by_role("button", name="Show report").click()
    await phone.wait_for_url(f"**clinician={noor_seat}*")
    sessions = phone.locator(".report-table tbody")
    assert "Jordan Park" in await sessions.inner_text() and "Occurred" in await sessions.inner_text()
    await assert_fits_phone(phone)
    await screenshot(phone, "practice-report-phone")
