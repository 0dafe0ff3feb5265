"""Intake paperwork (R14): publishing documents, signing, new versions, the intake questionnaire, the
signed PDFs (read back with pypdf), the records export, the checklist items and hostile text.
Run on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader

from app.domain import paperwork as rules
from app.domain.checklist import Item
from app.models.db import engine, transaction
from app.models.tables import (
    Appointment,
    DocumentSignature,
    DocumentVersion,
    EmailMessage,
    IntakeResponse,
    PaymentMethod,
)
from app.services import checklist, exports, paperwork
from app.services.context import Actor
from app.services.errors import ClientNotFound, PaperworkNotFound, PaperworkProblem
from tests.helpers import last_email_to, make_client, make_clinician, post_form, sign_in
from tests.test_online_booking import SLUG, practice_with_hours, visitor

CONSENT = "We meet weekly.\n\nBy signing, I agree to begin therapy.\n"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" 名前 😀'
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def actor(person, ip: str = "203.0.113.7", ua: str = PHONE_UA) -> Actor:
    return Actor(person.user.id, person.user.role, person.user.clinician_id, ip, ua)


@pytest.fixture
async def practice(db, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    alex, client_id = await make_client(settings, clock.now(), clinician)
    return clinician, alex, client_id


async def publish(clinician, clock, body=CONSENT, **kw) -> int:
    return await paperwork.publish(
        clinician.user.clinician_id,
        "Consent to treatment",
        body,
        now=clock.now(),
        actor=actor(clinician),
        **kw,
    )


async def sign(alex, client_id, document_id, clock, name="Alex Rivera") -> int:
    doc = await paperwork.document_to_sign(alex.user.id, client_id, document_id, clock.now())
    return await paperwork.sign(
        alex.user.id, client_id, document_id, doc.document.latest.id, name, now=clock.now(), actor=actor(alex)
    )


async def test_a_signature_keeps_name_time_address_device_and_the_hash_of_the_exact_text(practice, clock):
    clinician, alex, client_id = practice
    document_id = await publish(clinician, clock)
    clock.advance(minutes=5)
    await sign(alex, client_id, document_id, clock)

    row = await DocumentSignature.objects().first()
    assert row.signed_name == "Alex Rivera" and row.agreed
    assert row.signed_at == clock.now()
    assert (row.ip, row.user_agent) == ("203.0.113.7", PHONE_UA)
    assert row.text_hash == rules.text_hash(f"Consent to treatment\n\n{CONSENT}")
    status = (await paperwork.status_of([client_id], clock.now()))[client_id]
    assert status.documents[0].signed and status.left == 1  # the intake is still to do


async def test_a_signed_document_cannot_be_altered(practice, clock):
    clinician, alex, client_id = practice
    document_id = await publish(clinician, clock)
    signature_id = await sign(alex, client_id, document_id, clock)

    with pytest.raises(PaperworkProblem, match="already signed"):
        await sign(alex, client_id, document_id, clock, name="Someone Else")
    # Neither the signature nor the text signed can be changed or removed, even by SQL.
    for statement in (
        f"UPDATE document_signature SET signed_name = 'Forged' WHERE id = {signature_id}",
        f"DELETE FROM document_signature WHERE id = {signature_id}",
        "UPDATE document_version SET body = 'Other terms'",
        "DELETE FROM document_version",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with transaction():
                await engine().run_ddl(statement)
    row = await DocumentSignature.objects().get(DocumentSignature.id == signature_id)
    version = await DocumentVersion.objects().first()
    assert row.signed_name == "Alex Rivera" and version.body == CONSENT


async def test_intake_responses_are_append_only(practice, clock):
    _, alex, client_id = practice
    answers = [{"key": "reason", "question": "Why?", "answer": "Sleep"}]
    await paperwork.submit_intake(
        alex.user.id, client_id, answers, "Alex", now=clock.now(), actor=actor(alex)
    )
    with pytest.raises(Exception, match="append-only"):
        async with transaction():
            await engine().run_ddl("UPDATE intake_response SET answers = '[]'")
    assert rules.load_answers((await IntakeResponse.objects().first()).answers) == answers


async def test_a_new_version_asks_for_a_new_signature_unless_told_not_to(practice, clock):
    clinician, alex, client_id = practice
    document_id = await publish(clinician, clock)
    await sign(alex, client_id, document_id, clock)
    old_hash = (await DocumentSignature.objects().first()).text_hash

    clock.advance(days=1)
    await publish(
        clinician, clock, body=CONSENT + "\nTypo fixed.\n", document_id=document_id, needs_new_signature=False
    )
    status = (await paperwork.status_of([client_id], clock.now()))[client_id]
    assert status.documents[0].signed, "a typo fix keeps the earlier signature"

    await publish(clinician, clock, body="New terms.\n", document_id=document_id, needs_new_signature=True)
    status = (await paperwork.status_of([client_id], clock.now()))[client_id]
    assert not status.documents[0].signed and status.documents[0].document.latest.number == 3
    assert (
        (await checklist.for_client(clinician.user.clinician_id, client_id, now=clock.now()))
        .checklist[Item.DOCUMENTS]
        .open
    )

    with pytest.raises(PaperworkProblem, match="updated while you were reading"):
        await paperwork.sign(
            alex.user.id,
            client_id,
            document_id,
            status.documents[0].document.versions[0].id,
            "Alex",
            now=clock.now(),
            actor=actor(alex),
        )
    await sign(alex, client_id, document_id, clock)
    rows = await DocumentSignature.objects().order_by(DocumentSignature.id)
    assert [r.text_hash for r in rows][0] == old_hash, "the first signature still holds the first text"
    assert rows[1].text_hash == rules.text_hash("Consent to treatment\n\nNew terms.\n")
    assert (await paperwork.status_of([client_id], clock.now()))[client_id].documents[0].signed


async def test_publishing_refuses_template_placeholders_and_unchanged_text(practice, clock):
    clinician, _, _ = practice
    template = rules.template_by_key("consent")
    with pytest.raises(PaperworkProblem, match=r"Replace every \[\["):
        await paperwork.publish(
            clinician.user.clinician_id,
            template.title,
            template.body,
            now=clock.now(),
            actor=actor(clinician),
        )
    document_id = await publish(clinician, clock)
    with pytest.raises(PaperworkProblem, match="Nothing changed"):
        await publish(clinician, clock, document_id=document_id)


async def test_the_signed_pdf_holds_the_text_the_name_the_time_and_the_hash(practice, clock):
    clinician, alex, client_id = practice
    document_id = await publish(clinician, clock)
    signature_id = await sign(alex, client_id, document_id, clock)
    row = await DocumentSignature.objects().first()

    for copy in (
        await paperwork.copy_for_client_user(
            alex.user.id, "signature", signature_id, now=clock.now(), actor=actor(alex)
        ),
        await paperwork.copy_for_clinician(
            clinician.user.clinician_id,
            client_id,
            "signature",
            signature_id,
            now=clock.now(),
            actor=actor(clinician),
        ),
    ):
        text = pdf_text(copy.content)
        assert "By signing, I agree to begin therapy." in text
        assert "Alex Rivera" in text and "alex@example.test" in text
        assert clock.now().strftime("%Y-%m-%d %H:%M:%S UTC") in text
        assert row.text_hash in text
        assert "203.0.113.7" in text


async def test_signed_copies_are_only_for_their_client_and_practice(practice, settings, clock):
    clinician, alex, client_id = practice
    signature_id = await sign(alex, client_id, await publish(clinician, clock), clock)
    other = await make_clinician(settings, clock.now(), email="sam@example.test", practice="Other")
    sam, sam_client = await make_client(settings, clock.now(), other, email="sam.client@example.test")
    with pytest.raises(PaperworkNotFound):
        await paperwork.copy_for_client_user(
            sam.user.id, "signature", signature_id, now=clock.now(), actor=actor(sam)
        )
    with pytest.raises(ClientNotFound):
        await paperwork.copy_for_clinician(
            other.user.clinician_id, client_id, "signature", signature_id, now=clock.now(), actor=actor(other)
        )
    with pytest.raises(PaperworkNotFound):
        await paperwork.copy_for_clinician(
            other.user.clinician_id,
            sam_client,
            "signature",
            signature_id,
            now=clock.now(),
            actor=actor(other),
        )
    with pytest.raises(PaperworkNotFound):
        await paperwork.document_to_sign(sam.user.id, client_id, 1, clock.now())


async def test_the_records_export_contains_the_signed_pdfs(practice, clock):
    clinician, alex, client_id = practice
    await sign(alex, client_id, await publish(clinician, clock), clock)
    answers = [{"key": "reason", "question": "What brings you to therapy now?", "answer": "Sleep"}]
    await paperwork.submit_intake(
        alex.user.id, client_id, answers, "Alex Rivera", now=clock.now(), actor=actor(alex)
    )

    for export in (
        await exports.for_client_user(alex.user.id, "UTC", now=clock.now(), actor=actor(alex)),
        await exports.for_clinician(
            clinician.user.clinician_id, client_id, now=clock.now(), actor=actor(clinician)
        ),
    ):
        archive = zipfile.ZipFile(io.BytesIO(export.content))
        pdfs = sorted(n for n in archive.namelist() if n.startswith("signed/"))
        assert len(pdfs) == 2
        texts = [pdf_text(archive.read(n)) for n in pdfs]
        assert any("Consent to treatment" in t and "Alex Rivera" in t for t in texts)
        assert any("What brings you to therapy now?" in t and "Sleep" in t for t in texts)


async def test_the_invitation_says_how_many_forms_are_left(db, settings, clock, client):
    clinician = await make_clinician(settings, clock.now())
    await publish(clinician, clock)
    await sign_in(client, clinician)
    response = await post_form(
        client, "/clients/new", {"name": "Jo Park", "email": "jo@example.test", "billing_type": "self_pay"}
    )
    assert response.status_code == 303, response.text
    message = await last_email_to("jo@example.test")
    assert "2 forms to complete before your first session" in message.text_body


async def test_checklist_items_follow_documents_intake_and_card(practice, clock):
    clinician, alex, client_id = practice
    clinician_id = clinician.user.clinician_id
    found = await checklist.for_client(clinician_id, client_id, now=clock.now())
    assert Item.DOCUMENTS not in [s.item for s in found.checklist.items], "no documents, no item"
    assert found.checklist[Item.INTAKE].open and found.checklist[Item.CARD].open

    document_id = await publish(clinician, clock)
    assert (
        (await checklist.for_client(clinician_id, client_id, now=clock.now())).checklist[Item.DOCUMENTS].open
    )
    await sign(alex, client_id, document_id, clock)
    await paperwork.submit_intake(alex.user.id, client_id, [], "Alex", now=clock.now(), actor=actor(alex))
    async with transaction():
        await PaymentMethod.insert(
            PaymentMethod(
                user=alex.user.id,
                gateway="sandbox",
                method_ref="pm_1",
                brand="visa",
                last4="4242",
                exp_month=1,
                exp_year=2030,
                created_at=clock.now(),
            )
        )
    found = await checklist.for_client(clinician_id, client_id, now=clock.now())
    for item in (Item.DOCUMENTS, Item.INTAKE, Item.CARD):
        assert found.checklist[item].done and found.checklist[item].at == clock.now()


async def test_a_reminder_email_lists_what_is_left(practice, settings, clock, client):
    clinician, alex, client_id = practice
    await publish(clinician, clock)
    async with transaction():
        await Appointment.insert(
            Appointment(
                clinician=clinician.user.clinician_id,
                client=client_id,
                starts_at=clock.now() + timedelta(days=7),
                ends_at=clock.now() + timedelta(days=7, hours=1),
                duration_minutes=50,
                fee_minor=15000,
                created_at=clock.now(),
            )
        )
    await sign_in(client, clinician)
    response = await post_form(client, f"/clients/{client_id}/paperwork/remind")
    assert response.status_code == 303
    message = await last_email_to(alex.email)
    assert message.kind == "paperwork_reminder"
    assert "2 forms to complete before Monday 7 December" in message.text_body
    assert "/portal/forms" in message.text_body


async def test_hostile_text_is_escaped_in_pages_and_printed_as_text_in_the_pdf(
    practice, clock, client, other_client
):
    clinician, alex, client_id = practice
    await sign_in(client, clinician)
    response = await post_form(
        client,
        "/documents/new",
        {"title": "Consent " + HOSTILE, "body": "Terms " + HOSTILE + "\n\n<b>bold</b>"},
    )
    assert response.status_code == 303, response.text
    document_id = int(response.headers["location"].rsplit("/", 1)[1])

    await sign_in(other_client, alex)
    page = await other_client.get(f"/portal/forms/{client_id}/documents/{document_id}")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;alert" in page.text
    version_id = (await DocumentVersion.objects().first()).id
    response = await post_form(
        other_client,
        f"/portal/forms/{client_id}/documents/{document_id}",
        {"version_id": str(version_id), "agree": "yes", "signed_name": "Alex " + HOSTILE[:40]},
    )
    assert response.status_code == 303, response.text

    values = {q.key: "x" for q in rules.STANDARD_INTAKE}
    values |= {"date_of_birth": "1990-04-21", "prior_therapy": "no", "safety": "no"}
    values |= {"reason": HOSTILE + "\nsecond line", "agree": "yes", "signed_name": "Alex Rivera"}
    response = await post_form(other_client, f"/portal/forms/{client_id}/intake", values)
    assert response.status_code == 303, response.text

    for url in (
        f"/clients/{client_id}/paperwork",
        f"/clients/{client_id}",
        f"/checklist/{client_id}",
        "/documents",
    ):
        text = (await client.get(url)).text
        assert "<script>alert" not in text and "<img src=x" not in text, url
    assert "&lt;script&gt;alert" in (await client.get(f"/clients/{client_id}/paperwork")).text
    assert "<script>alert" not in (await other_client.get("/portal/forms")).text

    pw = await paperwork.for_clinician(clinician.user.clinician_id, client_id, now=clock.now())
    signature = pw.documents[0].last_signature
    for url in (
        f"/clients/{client_id}/paperwork/signature/{signature.id}",
        f"/clients/{client_id}/paperwork/intake/{pw.intake.id}",
    ):
        response = await client.get(url)
        assert response.headers["content-type"] == "application/pdf"
        text = pdf_text(response.content)
        assert '<script>alert("x")</script>' in text, "printed literally, as typed"


@pytest.mark.parametrize(
    "value",
    ["\x00", "a" * 5000, str(2**80), "\u202eevil", "\r\nX: 1"],
)
async def test_hostile_answers_get_a_form_error_not_a_500(practice, clock, client, value):
    clinician, alex, client_id = practice
    document_id = await publish(clinician, clock)
    await sign_in(client, alex)
    values = {
        "date_of_birth": value,
        "emergency_name": value,
        "reason": value,
        "agree": "yes",
        "signed_name": value,
    }
    response = await post_form(client, f"/portal/forms/{client_id}/intake", values)
    assert response.status_code == 422 and 'class="error' in response.text
    response = await post_form(
        client,
        f"/portal/forms/{client_id}/documents/{document_id}",
        {"version_id": value, "agree": value, "signed_name": value},
    )
    assert response.status_code == 422 and 'class="error' in response.text
    assert await DocumentSignature.count() == 0 and await IntakeResponse.count() == 0


async def test_another_practice_gets_404_for_paperwork_pages(practice, settings, clock, client):
    clinician, alex, client_id = practice
    signature_id = await sign(alex, client_id, await publish(clinician, clock), clock)
    other = await make_clinician(settings, clock.now(), email="sam@example.test", practice="Other")
    await sign_in(client, other)
    for url in (
        f"/clients/{client_id}/paperwork",
        f"/clients/{client_id}/paperwork/signature/{signature_id}",
        "/documents/1",
    ):
        assert (await client.get(url)).status_code == 404, url
    assert (await post_form(client, f"/clients/{client_id}/paperwork/remind")).status_code == 404
    assert await EmailMessage.count() == 0


async def test_the_invitation_names_the_day_of_the_session_booked_with_a_new_client(
    db, settings, clock, client
):
    clinician = await make_clinician(settings, clock.now())
    await publish(clinician, clock)
    await sign_in(client, clinician)
    response = await post_form(
        client,
        "/appointments",
        {
            "client_id": "new",
            "new_name": "Jo Park",
            "new_email": "jo@example.test",
            "date": "2026-12-07",
            "time": "10:00",
            "minutes": "50",
            "fee": "150",
        },
    )
    assert response.status_code == 303, response.text
    invitation = await EmailMessage.objects().where(EmailMessage.kind == "invitation").first()
    assert invitation.to_address == "jo@example.test"
    assert "2 forms to complete before Monday 7 December" in invitation.text_body


async def test_a_visitor_booking_online_is_invited_with_the_day_of_the_session(db, settings, clock, client):
    clinician = await practice_with_hours(settings, clock)
    await publish(clinician, clock)
    done = await post_form(client, f"/book/{SLUG}", visitor())
    assert done.status_code == 200, done.text
    invitation = await EmailMessage.objects().where(EmailMessage.kind == "invitation").first()
    assert invitation.to_address == "jordan@example.test"
    assert "2 forms to complete before tomorrow" in invitation.text_body  # Tue 1 Dec, booked on Mon 30 Nov
