"""Insurance (R6): validation with clear messages and nothing lost, the who-changed-what history on
both sides, the client's coverage self-check (saved, shown to the clinician), the practice's
insurance-questions email, and that each side edits only its own records."""

from __future__ import annotations

from html import unescape

import pytest

from app.domain.insurance import clean_self_check, questions, summary
from app.domain.validation import Form
from app.models.tables import Client, EmailMessage, InsuranceChange, InsurancePolicy
from tests.helpers import make_client, make_clinician, post_form, sign_in

FORM = {
    "billing_type": "insurance",
    "coverage_status": "checking",
    "coverage_note": "",
    "payer": "Aetna",
    "member_id": "W123",
    "group_number": "G-1",
    "subscriber_name": "",
    "subscriber_relationship": "self",
    "copay": "25",
    "plan_notes": "",
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"copay": "-5"}, "copay", "The copay can't be negative."),
        ({"copay": "2500"}, "copay", "looks like a typo"),
        ({"copay": "lots"}, "copay", "Enter the copay as an amount"),
        ({"plan_notes": "p" * 2001}, "plan_notes", "Plan notes must be at most 2000 characters."),
        ({"coverage_note": "c" * 1001}, "coverage_note", "Note must be at most 1000 characters."),
        ({"payer": ""}, "payer", "Enter the insurance company, or choose self-pay billing."),
    ],
)
async def test_clinician_bad_insurance_input_is_explained_and_nothing_is_lost(
    client, settings, clock, changes, field, message
):
    maya = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), maya)
    await sign_in(client, maya)
    response = await post_form(client, f"/clients/{client_id}/insurance", {**FORM, **changes})
    assert response.status_code == 200
    text = unescape(response.text)
    assert f'id="f-{field}-error"' in text and message in text
    for name, value in {**FORM, **changes}.items():
        if value and name not in ("billing_type", "coverage_status", "subscriber_relationship"):
            assert value in text, name  # what was typed is still in the form
    assert await InsurancePolicy.count() == 0 and await InsuranceChange.count() == 0
    assert (await Client.objects().where(Client.id == client_id).first()).billing_type == "self_pay"


async def test_self_pay_needs_no_payer_and_copay_is_stored_in_minor_units(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), maya)
    await sign_in(client, maya)
    saved = await post_form(
        client, f"/clients/{client_id}/insurance", {**FORM, "billing_type": "self_pay", "payer": ""}
    )
    assert saved.status_code == 303
    saved = await post_form(client, f"/clients/{client_id}/insurance", {**FORM, "copay": "27.50"})
    assert saved.status_code == 303
    policy = await InsurancePolicy.objects().first()
    assert policy.copay_minor == 2750 and policy.payer == "Aetna"
    page = await client.get(f"/clients/{client_id}/insurance")
    assert "Copay</strong>: $25.00 → $27.50" in page.text and "by you" in page.text


async def test_client_edits_in_the_portal_and_both_see_who_changed_what(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), maya)
    await Client.update({Client.billing_type: "insurance"}).where(Client.id == client_id)
    await sign_in(client, person)
    portal_form = {
        k: v for k, v in FORM.items() if k not in ("billing_type", "coverage_status", "coverage_note")
    }
    missing = await post_form(client, f"/portal/insurance/{client_id}", {**portal_form, "payer": ""})
    assert "Enter the insurance company" in missing.text and 'value="W123"' in missing.text
    negative = await post_form(client, f"/portal/insurance/{client_id}", {**portal_form, "copay": "-1"})
    assert "The copay can&#39;t be negative." in negative.text
    assert await InsuranceChange.count() == 0
    assert (await post_form(client, f"/portal/insurance/{client_id}", portal_form)).status_code == 303
    mine = await client.get(f"/portal/insurance/{client_id}")
    assert "Insurance company</strong>: — → Aetna" in mine.text and "by you" in mine.text

    await sign_in(other_client, maya)
    await post_form(other_client, f"/clients/{client_id}/insurance", {**FORM, "member_id": "W999"})
    theirs = await other_client.get(f"/clients/{client_id}/insurance")
    assert "Member ID</strong>: W123 → W999" in theirs.text and "by you" in theirs.text
    assert "by Alex Rivera" in theirs.text
    mine = await client.get(f"/portal/insurance/{client_id}")
    assert "Member ID</strong>: W123 → W999" in mine.text and "by Maya Chen" in mine.text


async def test_each_side_edits_only_their_own_insurance(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    sam = await make_clinician(settings, clock.now(), email="sam@example.test", name="Sam", practice="Elm")
    alex, alex_id = await make_client(settings, clock.now(), maya)
    _, kim_id = await make_client(settings, clock.now(), sam, email="kim@example.test", name="Kim")
    await sign_in(client, alex)
    portal_form = {"payer": "Evil", "subscriber_relationship": "self"}
    for url in (f"/portal/insurance/{kim_id}", f"/portal/insurance/{kim_id}/self-check"):
        assert (await client.get(url)).status_code == 404
        assert (await post_form(client, url, portal_form)).status_code == 404
    await sign_in(other_client, sam)
    assert (await other_client.get(f"/clients/{alex_id}/insurance")).status_code == 404
    assert (await post_form(other_client, f"/clients/{alex_id}/insurance", FORM)).status_code == 404
    assert await InsurancePolicy.count() == 0 and await InsuranceChange.count() == 0


def test_self_check_answers_are_cleaned_and_summarised():
    asked = questions("a Licensed Clinical Social Worker (LCSW)", "Calm Harbor")
    form = Form.of(
        {
            "licence_covered": "yes",
            "network": "out",
            "telehealth": "maybe",
            "deductible": "yes",
            "deductible_total": "1500",
            "deductible_left": "1600",
            "cost_share": "coinsurance",
            "coinsurance_percent": "120",
            "copay_amount": "-3",
            "notes": "x" * 1001,
        }
    )
    clean_self_check(form, asked)
    assert set(form.errors) == {
        "telehealth",
        "deductible_left",
        "coinsurance_percent",
        "copay_amount",
        "notes",
    }
    form = Form.of(
        {
            "licence_covered": "yes",
            "network": "out",
            "deductible": "yes",
            "deductible_total": "1,500",
            "deductible_left": "400.50",
            "cost_share": "coinsurance",
            "coinsurance_percent": "20%",
            "oon_reimbursement": "yes",
            "preauth": "unsure",
            "notes": "Ref 7781",
        }
    )
    answers = clean_self_check(form, asked)
    assert form.ok
    assert answers["deductible_total_minor"] == 150000 and answers["deductible_left_minor"] == 40050
    lines = dict(summary(answers, asked))
    assert lines["Does your plan cover sessions with a Licensed Clinical Social Worker (LCSW)?"] == "Yes"
    assert lines["Is Calm Harbor in or out of your plan's network?"] == "Out of network"
    assert lines["Do you have a deductible to meet before coverage starts?"] == "Yes: $1,500.00, $400.50 left"
    assert lines["What do you pay per session?"] == "A percentage (coinsurance): 20%"
    assert lines["Notes"] == "Ref 7781"
    assert "Are telehealth (video) sessions covered?" not in lines


async def test_self_check_in_the_portal_is_shown_to_the_clinician_on_the_checklist(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), maya)
    await sign_in(client, person)
    listing = await client.get("/portal/insurance")
    assert f'href="/portal/insurance/{client_id}/self-check"' in listing.text
    page = await client.get(f"/portal/insurance/{client_id}/self-check")
    assert "Is Calm Harbor in or out of your plan&#39;s network?" in page.text
    assert "mailto:maya@example.test" in page.text
    bad = await post_form(
        client, f"/portal/insurance/{client_id}/self-check", {"telehealth": "yes", "copay_amount": "abc"}
    )
    assert 'id="f-copay_amount-error"' in bad.text and 'value="yes" checked' in bad.text
    saved = await post_form(
        client,
        f"/portal/insurance/{client_id}/self-check",
        {"telehealth": "yes", "cost_share": "copay", "copay_amount": "30", "preauth": "no"},
    )
    assert saved.status_code == 303
    again = await client.get(f"/portal/insurance/{client_id}/self-check")
    assert 'value="30.00"' in again.text and "Last saved" in again.text
    assert await InsuranceChange.count().where(InsuranceChange.field == "self_check") == 1

    await sign_in(other_client, maya)
    checklist = unescape(
        (await other_client.get(f"/checklist/{client_id}", headers={"HX-Request": "true"})).text
    )
    assert "Client's coverage self-check" in checklist
    assert "Are telehealth (video) sessions covered?" in checklist and "A fixed copay: $30.00" in checklist


async def test_the_invitation_email_names_the_insurance_contact(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    await post_form(client, "/checklist/insurance-contact", {"insurance_email": "billing@calm.test"})
    await post_form(
        client, "/clients/new", {"name": "Alex", "email": "alex@example.test", "billing_type": "self_pay"}
    )
    message = await EmailMessage.objects().where(EmailMessage.to_address == "alex@example.test").first()
    assert "Questions about insurance coverage? Email billing@calm.test." in message.text_body
