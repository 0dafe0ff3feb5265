"""Accessibility sweep: every main page, as each role, on a phone (390×844) and a laptop (1280×800).

axe-core (vendored for tests, ``tests/vendor/``) runs in the real page; a serious or critical violation
fails the sweep, and so does anything wider than the phone's screen. Every page is saved as a
screenshot under ``test-artifacts/a11y-*.png``. One test per size: one browser, one server, the demo
practice seeded once.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.models.tables import Appointment, Client, Clinician, PracticeDocument
from app.services import demo
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in

pytestmark = pytest.mark.browser

AXE = (Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
BLOCKING = ("serious", "critical")

# axe as an evaluated expression: Runtime.evaluate is not subject to the page's CSP, so the app's
# policy (no inline scripts) stays on while the sweep runs.
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


# The page has loaded and htmx has finished the requests it makes on load (counts, checklists, charges).
SETTLED = (
    "() => document.readyState === 'complete' && window.htmx && !document.querySelector('.htmx-request')"
)


async def check(page, name: str, size: str, problems: list[str]) -> None:
    """Run axe on what the page shows now; note violations and phone overflow; save a screenshot."""
    await page.wait_for_function(SETTLED)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE)
    for violation in await page.evaluate(RUN_AXE):
        problems.append(
            f"{name} ({size}): {violation['impact']} {violation['id']} — {violation['help']}: "
            f"{violation['targets']}"
        )
    if size == "phone":
        try:
            await assert_fits_phone(page)
        except AssertionError as error:
            problems.append(f"{name} (phone): {error}")
    await screenshot(page, f"a11y-{name}-{size}")


async def visit(page, base_url: str, path: str, name: str, size: str, problems: list[str]) -> None:
    response = await page.goto(base_url + path)
    if response is None or response.status != 200:
        problems.append(f"{name} ({size}): {path} answered {response.status if response else 'nothing'}")
        return
    await check(page, name, size, problems)


@pytest.mark.parametrize("size", SIZES)  # one test per size, so two test processes can share the sweep
async def test_every_main_page_passes_axe_at_phone_and_desktop_size(
    live_server, phone, settings, clock, size
):
    now = clock.now()
    await demo.seed(settings, now)
    maya = await Clinician.objects().where(Clinician.user.email == demo.CLINICIAN_EMAIL).first()
    alex = await Client.objects().where(Client.email == demo.CLIENT_EMAIL).first()
    consent = await PracticeDocument.objects().where(PracticeDocument.clinician == maya.id).first()
    this_week = (
        await Appointment.select(Appointment.id)
        .where(
            (Appointment.clinician == maya.id)
            & (Appointment.starts_at >= now - timedelta(days=3))
            & (Appointment.starts_at <= now + timedelta(days=3))
        )
        .order_by(Appointment.starts_at)
        .first()
    )
    any_appointment = this_week or await Appointment.select(Appointment.id).first()
    appointment_id = any_appointment["id"]

    clinician_pages = [
        ("calendar-day", "/calendar?view=day"),
        ("calendar-week", "/calendar?view=week"),
        ("calendar-month", "/calendar?view=month"),
        ("appointment", f"/appointments/{appointment_id}"),
        ("appointment-new", "/appointments/new"),
        ("needs-status", "/calendar/needs-status"),
        ("clients", "/clients"),
        ("client", f"/clients/{alex.id}"),
        ("client-new", "/clients/new"),
        ("new-clients", "/new-clients"),
        ("report", "/report"),
        ("account", "/account"),
        ("security", "/account/security"),
        ("audit", "/audit"),
        ("booking-settings", "/settings/booking"),
        ("billing-setup", "/account/billing"),
        ("client-billing", f"/clients/{alex.id}/billing?q=anxiety"),
        ("documents", "/documents"),
        ("document-template", "/documents/new?template=consent"),
        ("document", f"/documents/{consent.id}"),
        ("client-forms", f"/clients/{alex.id}/paperwork"),
    ]
    client_pages = [
        ("portal", "/portal"),
        ("portal-card", "/portal/card"),
        ("portal-insurance", "/portal/insurance"),
        ("portal-self-check", f"/portal/insurance/{alex.id}/self-check"),
        ("portal-superbills", "/portal/insurance/superbills"),
        ("portal-profile", "/portal/profile"),
        ("portal-book", "/portal/book"),
        ("portal-forms", "/portal/forms"),
        ("portal-sign", f"/portal/forms/{alex.id}/documents/{consent.id}"),
        ("portal-intake", f"/portal/forms/{alex.id}/intake"),
        ("client-account", "/account"),
    ]
    public_pages = [
        ("login", "/login"),
        ("signup", "/signup"),
        ("forgot-password", "/password/forgot"),
        ("public-booking", f"/book/{maya.booking_slug}"),
    ]

    problems: list[str] = []

    is_phone = size == "phone"
    for email, pages in (
        (None, public_pages),
        (demo.CLINICIAN_EMAIL, clinician_pages),
        (demo.CLIENT_EMAIL, client_pages),
    ):
        context = await phone.context.browser.new_context(
            viewport=SIZES[size], is_mobile=is_phone, has_touch=is_phone, device_scale_factor=1
        )
        page = await context.new_page()
        page.set_default_timeout(10_000)
        if email:
            await sign_in(page, live_server, email, settings.demo_password)
        for name, path in pages:
            await visit(page, live_server, path, name, size, problems)
        if email == demo.CLINICIAN_EMAIL:
            await open_panel(page, live_server, appointment_id, size, problems)
            await form_with_errors(page, live_server, size, problems)
        await context.close()

    assert not problems, "accessibility problems:\n" + "\n".join(problems)


async def open_panel(page, base_url: str, appointment_id: int, size: str, problems: list[str]) -> None:
    """The appointment panel as a clinician sees it: opened from the week view, over the calendar."""
    await page.goto(f"{base_url}/calendar?view=week")
    cell = page.locator(f"#appt-{appointment_id}")
    if not await cell.count():
        problems.append(f"appointment-panel ({size}): appointment {appointment_id} is not in this week")
        return
    await cell.click()
    await page.locator("#appointment-dialog[open] h2").first.wait_for()
    await check(page, "appointment-panel", size, problems)


async def form_with_errors(page, base_url: str, size: str, problems: list[str]) -> None:
    """A form sent back with messages next to its fields (nothing filled in)."""
    await page.goto(f"{base_url}/clients/new")
    await page.get_by_role("button", name="Add client").click()
    await page.locator("[aria-invalid=true]").first.wait_for()
    await check(page, "client-new-errors", size, problems)
