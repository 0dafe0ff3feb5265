"""Superbills and estimates on the web: the client's choice and downloads in the portal, the
clinician's billing details, the client's billing page (readiness, diagnosis with consent, resend,
make again), hostile input, and another person's ids answering 404."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain import estimates as rules
from app.models.tables import (
    Appointment,
    AuditEvent,
    ClientBillingDetails,
    EmailMessage,
    GoodFaithEstimate,
    Superbill,
)
from app.services import estimates, superbills
from app.services.queue import JobQueue
from tests.billing_support import NPI, fill_billing_details, paid_session, pdf_text
from tests.charging_support import add_appointment, make_practice, set_insurance
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_superbills import LAST_MONTH, at_ten


async def _practice(settings, clock, *, ready: bool = True):
    practice = await make_practice(settings, clock.now(), JobQueue(None, settings.queue_name), card=None)
    if ready:
        await fill_billing_details(practice, clock.now(), settings)
    return practice


async def test_client_chooses_monthly_and_downloads_last_months_pdf_but_not_anothers(
    client, other_client, settings, clock
):
    practice = await _practice(settings, clock)
    for day in (2, 9):
        await paid_session(practice, at_ten(LAST_MONTH.replace(day=day)))
    await sign_in(client, practice.client)
    page = await client.get("/portal/insurance")
    assert 'href="/portal/insurance/superbills"' in page.text
    page = await client.get("/portal/insurance/superbills")
    assert "When do you want superbills?" in page.text and "None yet." in page.text

    response = await post_form(
        client, f"/portal/insurance/superbills/{practice.client_id}/frequency", {"frequency": "monthly"}
    )
    assert response.status_code == 303
    page = await client.get("/portal/insurance/superbills")
    assert "1 monthly superbill ready below" in page.text
    (bill,) = await Superbill.objects()
    pdf = await client.get(f"/portal/insurance/superbills/{bill.id}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    assert f"{LAST_MONTH:%B %Y}" in pdf_text(pdf.content)

    refused = await post_form(
        client, f"/portal/insurance/superbills/{practice.client_id}/frequency", {"frequency": "weekly\x00"}
    )
    assert refused.status_code in (303, 200)
    assert (await ClientBillingDetails.objects().first()).superbill_frequency == "monthly"

    stranger = await make_clinician(settings, clock.now(), email="sam@example.test", practice="Quiet Pines")
    other, _ = await make_client(settings, clock.now(), stranger, email="jo@example.test", name="Jo")
    await sign_in(other_client, other)
    assert (await other_client.get(f"/portal/insurance/superbills/{bill.id}/pdf")).status_code == 404
    theirs = await post_form(
        other_client, f"/portal/insurance/superbills/{practice.client_id}/frequency", {"frequency": "none"}
    )
    assert theirs.status_code == 404


async def test_clinician_sees_what_is_missing_fills_it_in_and_can_resend_and_remake(client, settings, clock):
    practice = await _practice(settings, clock, ready=False)
    await sign_in(client, practice.clinician)
    page = await client.get(f"/clients/{practice.client_id}/billing")
    assert "No superbill can be made until these are filled in" in page.text
    assert "Your NPI, 10 digits" in page.text and "The client&#39;s date of birth" in page.text
    assert "No estimate can be issued until these are filled in" in page.text

    bad = await post_form(client, "/account/billing", {"npi": "1234567890", "licence_number": "NY-1"})
    assert bad.status_code == 422 and "10-digit NPI" in bad.text
    nul = await post_form(
        client, "/account/billing", {"npi": NPI, "legal_name": "Calm\x00", "tax_id": "9" * 400}
    )
    assert nul.status_code == 422
    saved = await post_form(
        client,
        "/account/billing",
        {
            "licence_number": "NY-1",
            "npi": NPI,
            "legal_name": "Calm Harbor PLLC",
            "tax_id_kind": "ein",
            "tax_id": "12-3456789",
            "address": "12 Harbor Street, Brooklyn, NY 11201",
            "place_of_service": "10",
        },
    )
    assert saved.status_code == 303
    page = await client.get("/account/billing")
    assert "•••••6789" in page.text and "12-3456789" not in page.text

    codes = await post_form(
        client,
        f"/clients/{practice.client_id}/billing",
        {"date_of_birth": "99999-01-01", "diagnosis_codes": "F41.1, X99.9"},
    )
    assert codes.status_code == 422
    assert "Not in the ICD-10 list: X99.9" in codes.text and "date of birth like" in codes.text
    search = await client.get(f"/clients/{practice.client_id}/billing", params={"q": "generalized anxiety"})
    assert "F41.1" in search.text
    done = await post_form(
        client,
        f"/clients/{practice.client_id}/billing",
        {
            "date_of_birth": "1990-04-12",
            "address": "98 Elm Road",
            "diagnosis_codes": "f411",
            "consented": "on",
        },
    )
    assert done.status_code == 303
    page = await client.get(f"/clients/{practice.client_id}/billing")
    assert "Everything a superbill needs is here." in page.text
    assert "No estimate can be issued" not in page.text

    await paid_session(practice, clock.now() - timedelta(days=3))
    await superbills.sweep(now=clock.now(), settings=settings)
    (bill,) = await Superbill.objects()
    assert "10 Telehealth" in pdf_text(bill.pdf)
    resent = await post_form(client, f"/clients/{practice.client_id}/superbills/{bill.id}/resend")
    assert resent.status_code == 303
    assert await EmailMessage.count().where(EmailMessage.kind == "superbill_ready") == 2
    remade = await post_form(client, f"/clients/{practice.client_id}/superbills/{bill.id}/regenerate")
    assert remade.status_code == 303
    assert (await Superbill.objects().first()).regenerated_at == clock.now()
    download = await client.get(f"/clients/{practice.client_id}/superbills/{bill.id}/pdf")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")


async def test_another_practice_gets_404_for_a_clients_billing(client, settings, clock):
    practice = await _practice(settings, clock)
    await paid_session(practice, clock.now() - timedelta(days=3))
    await superbills.sweep(now=clock.now(), settings=settings)
    (bill,) = await Superbill.objects()
    stranger = await make_clinician(settings, clock.now(), email="sam@example.test", practice="Quiet Pines")
    await sign_in(client, stranger)
    assert (await client.get(f"/clients/{practice.client_id}/billing")).status_code == 404
    assert (await client.get(f"/clients/{practice.client_id}/superbills/{bill.id}/pdf")).status_code == 404
    resend = await post_form(client, f"/clients/{practice.client_id}/superbills/{bill.id}/resend")
    assert resend.status_code == 404


async def test_a_session_takes_the_chosen_code_and_the_default_fee_of_its_service_type(
    client, settings, clock
):
    practice = await _practice(settings, clock)
    await sign_in(client, practice.clinician)
    page = await client.get("/account/billing")
    assert "Default fee per service type" in page.text
    too_much = await post_form(
        client, "/account/billing", {"npi": NPI, "place_of_service": "11", "fee_90837": "99999999999999"}
    )
    assert too_much.status_code == 422
    saved = await post_form(
        client,
        "/account/billing",
        {
            "npi": NPI,
            "licence_number": "NY-1",
            "place_of_service": "11",
            "fee_90837": "200",
            "tax_id_kind": "ein",
            "address": "12 Harbor Street, Brooklyn, NY 11201",
        },
    )
    assert saved.status_code == 303
    assert 'value="200.00"' in (await client.get("/account/billing")).text

    upcoming = await add_appointment(practice.clinician, practice.client_id, clock.now() + timedelta(days=2))
    paid = await paid_session(practice, clock.now() - timedelta(days=3))
    page = await client.get(f"/clients/{practice.client_id}/billing")
    assert "Default: 90834 Psychotherapy, 45 minutes" in page.text

    for appointment_id in (upcoming, paid):
        response = await post_form(
            client,
            f"/clients/{practice.client_id}/sessions/{appointment_id}/codes",
            {"service_code": "90837", "place_of_service": "02"},
        )
        assert response.status_code == 303
    fees = {
        row["id"]: row["fee_minor"] for row in await Appointment.select(Appointment.id, Appointment.fee_minor)
    }
    assert fees[upcoming] == 20000  # still scheduled: the service type's fee
    assert fees[paid] == 15000  # already charged: its fee stays
    refused = await post_form(
        client,
        f"/clients/{practice.client_id}/sessions/{upcoming}/codes",
        {"service_code": "99999\x00", "place_of_service": "02"},
    )
    assert refused.status_code == 303
    assert (await Appointment.objects().where(Appointment.id == upcoming).first()).service_code == "90837"

    await superbills.sweep(now=clock.now(), settings=settings)
    text = pdf_text((await Superbill.objects().first()).pdf)
    assert "90837" in text and "02 Telehealth" in text and "90834" not in text


async def test_a_self_pay_client_asks_for_an_estimate_and_gets_it_within_three_business_days(
    client, other_client, settings, clock
):
    practice = await _practice(settings, clock)
    await sign_in(client, practice.client)
    page = await client.get("/portal/insurance/superbills")
    assert "Ask for a Good Faith Estimate" in page.text

    asked = await post_form(client, f"/portal/insurance/estimates/{practice.client_id}/request")
    assert asked.status_code == 303
    page = await client.get("/portal/insurance/superbills")
    assert "within 3 business days" in page.text  # nothing booked yet: the practice is asked
    today = clock.now().astimezone(ZoneInfo("America/New_York")).date()
    due = rules.add_business_days(today, 3)
    assert f"it is due by {due:%-d %b %Y}" in page.text and "Ask for a Good Faith Estimate" not in page.text
    assert await AuditEvent.count().where(AuditEvent.action == "estimate_requested") == 1

    stranger = await make_clinician(settings, clock.now(), email="sam@example.test", practice="Quiet Pines")
    other, _ = await make_client(settings, clock.now(), stranger, email="jo@example.test", name="Jo")
    await sign_in(other_client, other)
    theirs = await post_form(other_client, f"/portal/insurance/estimates/{practice.client_id}/request")
    assert theirs.status_code == 404

    await sign_in(client, practice.clinician)
    page = await client.get(f"/clients/{practice.client_id}/billing")
    assert (
        f"The client asked for a Good Faith Estimate on {today:%-d %b %Y}: due by {due:%-d %b %Y}"
        in page.text
    )

    await add_appointment(practice.clinician, practice.client_id, clock.now() + timedelta(days=30))
    assert len(await estimates.sweep(now=clock.now(), settings=settings)) == 1
    (estimate,) = await GoodFaithEstimate.objects()
    assert estimate.reason == "request" and estimate.due_by == due
    assert "the client asked for one" in pdf_text(estimate.pdf)
    page = await client.get(f"/clients/{practice.client_id}/billing")
    assert "The client asked for a Good Faith Estimate on" not in page.text
    assert "(the client asked for one)" in page.text


async def test_asking_with_sessions_booked_issues_a_new_version_at_once(client, settings, clock):
    practice = await _practice(settings, clock)
    await add_appointment(practice.clinician, practice.client_id, clock.now() + timedelta(days=30))
    await estimates.sweep(now=clock.now(), settings=settings)
    await sign_in(client, practice.client)
    asked = await post_form(client, f"/portal/insurance/estimates/{practice.client_id}/request")
    assert asked.status_code == 303
    page = await client.get("/portal/insurance/superbills")
    assert "Your Good Faith Estimate is ready below" in page.text and "version 2" in page.text
    latest = await GoodFaithEstimate.objects().order_by(GoodFaithEstimate.version)
    assert [e.reason for e in latest] == ["new", "request"] and latest[0].superseded_at == clock.now()
    assert await EmailMessage.count().where(EmailMessage.kind == "good_faith_estimate") == 2
    assert await ClientBillingDetails.exists().where(ClientBillingDetails.estimate_requested_at.is_null())


async def test_an_insurance_client_is_told_estimates_are_for_self_pay(client, settings, clock):
    practice = await _practice(settings, clock)
    await set_insurance(practice.client_id, 2500)
    await sign_in(client, practice.client)
    assert "Ask for a Good Faith Estimate" not in (await client.get("/portal/insurance/superbills")).text
    refused = await post_form(client, f"/portal/insurance/estimates/{practice.client_id}/request")
    assert refused.status_code == 303
    page = await client.get("/portal/insurance/superbills")
    assert "Good Faith Estimates are for clients paying for themselves" in page.text
    assert await AuditEvent.count().where(AuditEvent.action == "estimate_requested") == 0
