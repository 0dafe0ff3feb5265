"""At phone size (R14): the owner publishes a consent document from a starter template; a new client,
invited by email (the dev mailbox), signs it, completes the intake and saves a card on their phone; the
clinician sees the first-meeting checklist turn complete and downloads the signed PDF, which holds the
client's name, the signing time and the document's hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pypdf import PdfReader

from app.models.tables import Client, DocumentSignature, DocumentVersion
from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician
from tests.test_clients_web import add_appointment

pytestmark = pytest.mark.browser

CONSENT = """## What therapy involves
We meet weekly for 50 minutes. You may stop at any time.

By signing, I agree to begin therapy with Maya Chen.
"""


async def test_owner_publishes_consent_and_a_new_client_signs_it_on_a_phone(
    live_server, phone, settings, clock
):
    now = clock.now()
    clinician = await make_clinician(settings, now)

    # The owner publishes a consent document, starting from the template.
    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Account").click()
    await phone.get_by_role("link", name="Intake documents").click()
    await phone.get_by_role("link", name="Consent to treatment").click()
    assert "A starter template" in await phone.content()
    await phone.get_by_role("button", name="Publish").click()
    await phone.get_by_text("Replace every [[…]]").first.wait_for()  # the template's blanks are refused
    await phone.get_by_label("Text").fill(CONSENT)
    await phone.get_by_role("button", name="Publish").click()
    await phone.get_by_text("Published. New clients are asked to sign it.").wait_for()
    await assert_fits_phone(phone)
    await screenshot(phone, "paperwork-document")

    # A new client is added; the invitation says what is left.
    await phone.get_by_role("link", name="Clients", exact=True).click()
    await phone.get_by_role("link", name="Add client").click()
    await phone.get_by_label("Name").fill("Alex Rivera")
    await phone.get_by_label("Email").fill("alex@example.test")
    await phone.get_by_role("button", name="Add client").click()
    await phone.wait_for_url("**/clients/*")
    client = await Client.objects().where(Client.email == "alex@example.test").first()
    await add_appointment(clinician, client.id, now - timedelta(hours=2), status="occurred", fee=0)
    await add_appointment(clinician, client.id, now + timedelta(days=7))

    context = await phone.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    client_phone = await context.new_page()
    await client_phone.goto(f"{live_server}/dev/mailbox/")
    await client_phone.get_by_role("link", name="Calm Harbor invited you to Stillwater").click()
    assert "2 forms to complete before your first session" in await client_phone.content()
    await client_phone.locator("a[href*='/invite/']").first.click()
    await client_phone.get_by_label("Choose a password").fill("maple lantern orbit seven")
    await client_phone.get_by_label("Type it again").fill("maple lantern orbit seven")
    await client_phone.get_by_role("button", name="Set password and open my portal").click()
    await client_phone.wait_for_url("**/portal**")
    assert "Calm Harbor: 2 forms to complete before Monday 7 December" in await client_phone.content()

    # The client signs the consent: typed full name and "I agree".
    await client_phone.get_by_role("link", name="Complete my forms").click()
    await client_phone.get_by_role("link", name="Read and sign Consent to treatment").click()
    assert "By signing, I agree to begin therapy with Maya Chen." in await client_phone.content()
    await client_phone.get_by_label("Your full name").fill("Alex Rivera")
    await client_phone.get_by_role("button", name="Sign Consent to treatment").click()
    await client_phone.get_by_text("Tick “I agree” to sign.").wait_for()
    await client_phone.get_by_label("I agree").check()
    await assert_fits_phone(client_phone)
    await screenshot(client_phone, "paperwork-sign")
    await client_phone.get_by_role("button", name="Sign Consent to treatment").click()
    await client_phone.get_by_text("Signed. Your signed copy is below.").wait_for()

    # ... and answers the intake questionnaire.
    await client_phone.get_by_role("link", name="Answer the intake questionnaire").click()
    await client_phone.get_by_label("Date of birth").fill("1990-04-21")
    await client_phone.get_by_label("Emergency contact: name").fill("Sam Rivera")
    await client_phone.get_by_label("Emergency contact: phone").fill("555-0101")
    await client_phone.get_by_label("What brings you to therapy now?").fill("Trouble sleeping since a move.")
    await (
        client_phone.get_by_role("group", name="Have you been in therapy before?").get_by_label("No").check()
    )
    await client_phone.get_by_label("Medications you take").fill("none")
    await client_phone.get_by_role("group", name="In the past month").get_by_label("No", exact=True).check()
    await client_phone.get_by_label("I agree: these answers are true").check()
    await client_phone.get_by_label("Your full name").fill("Alex Rivera")
    await assert_fits_phone(client_phone)
    await client_phone.get_by_role("button", name="Send my answers").click()
    await client_phone.get_by_text("All done. Thank you.").wait_for()
    await screenshot(client_phone, "paperwork-done")

    # ... and saves a card.
    await client_phone.get_by_role("link", name="Card").click()
    await client_phone.get_by_label("Card number").fill("4242 4242 4242 4242")
    await client_phone.get_by_label("Expiry month").fill("12")
    await client_phone.get_by_label("Expiry year").fill(str(now.year + 3))
    await client_phone.get_by_role("button", name="Save card").click()
    await client_phone.get_by_text("Card saved.").wait_for()
    await context.close()

    # The clinician records the coverage talk; the checklist is complete.
    await phone.reload()
    checklist = phone.locator("section.checklist")
    await checklist.get_by_text("1 to do").wait_for()
    coverage = phone.locator(f"#checklist-{client.id}-insurance_discussed")
    await coverage.get_by_label("Coverage status").select_option(label="Self-pay")
    await coverage.get_by_role("button", name="Save coverage").click()
    await checklist.get_by_text("All done").wait_for()
    for key in ("documents_signed", "intake_complete", "card_saved"):
        await phone.locator(f"#checklist-{client.id}-{key}").get_by_text("Done").wait_for()
    await assert_fits_phone(phone)
    await screenshot(phone, "paperwork-checklist-complete")

    # ... and downloads the signed copy.
    await phone.get_by_role("link", name="Answers and signed copies").first.click()
    assert "Trouble sleeping since a move." in await phone.content()
    async with phone.expect_download() as download_info:
        await phone.get_by_role("link", name="Signed copy, version 1 (PDF)").click()
    download = await download_info.value
    text = "\n".join(p.extract_text() for p in PdfReader(await download.path()).pages)
    signature = await DocumentSignature.objects().first()
    version = await DocumentVersion.objects().first()
    assert "Alex Rivera" in text and "By signing, I agree to begin therapy with Maya Chen." in text
    assert signature.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") in text
    assert signature.text_hash == version.text_hash and version.text_hash in text
