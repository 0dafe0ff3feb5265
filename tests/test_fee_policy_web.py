"""The owner's fee policy screen (issue 20): reached from the practice page, bad input shown beside its
field, saved as a new version of the words clients agree to, audited; other members can't change it."""

from __future__ import annotations

from datetime import timedelta

from app.domain import fees as rules
from app.domain.statuses import ChargeKind
from app.models.tables import Appointment, AuditEvent, Practice
from app.services import fees
from tests.helpers import make_client, make_clinician, make_member, post_form, sign_in
from tests.test_calendar import add_appointment
from tests.test_charges_web import visible

POLICY = {
    "late_cancel_fee": "75",
    "no_show_fee": "100%",
    "free_late_cancels": "1",
    "fee_policy_note": "Call us if something comes up.",
    "fee_free_reschedule": "on",
}


async def test_the_owner_sets_the_fee_policy_from_the_practice_page(app, client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    await sign_in(client, owner)
    home = (await client.get("/practice")).text
    assert 'href="/practice/fees">Fee policy</a>' in home
    page = visible((await client.get("/practice/fees")).text)
    assert "No fees: there is nothing to agree to." in page

    saved = await post_form(client, "/practice/fees", POLICY, follow_redirects=True)
    page = visible(saved.text)
    assert "Fee policy saved (version" in page
    assert (
        "Cancelling later costs $75.00; missing a session without cancelling costs 100% of the session fee."
        in page
    )
    assert "Your first late cancel in any 12 months carries no fee." in page
    assert "Call us if something comes up." in page
    assert "0 client(s) agreed to it." in page
    practice = await Practice.objects().where(Practice.id == owner.user.practice_id).first()
    assert (practice.late_cancel_fee_minor, practice.no_show_fee_percent, practice.free_late_cancels) == (
        7500,
        100,
        1,
    )
    first = (
        await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "fee_policy_changed").first()
    )
    assert first["detail"].startswith("version none -> ")

    # new words, new version
    await post_form(client, "/practice/fees", POLICY | {"late_cancel_fee": "90.00"})
    details = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "fee_policy_changed")
    old, new = details[-1]["detail"].removeprefix("version ").split(" -> ")
    assert old != new and old == first["detail"].split(" -> ")[1]


async def test_bad_fees_are_shown_beside_their_fields(app, client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    await sign_in(client, owner)
    bad = POLICY | {
        "late_cancel_fee": "150%",
        "no_show_fee": "lots\x00",
        "free_late_cancels": "99999999999",
    }
    response = await post_form(client, "/practice/fees", bad)
    assert response.status_code == 400
    assert 'id="f-late_cancel_fee-error">A percentage must be between 0 and 100.' in response.text
    assert 'id="f-no_show_fee-error">' in response.text
    assert 'id="f-free_late_cancels-error">Free late cancels must be at most 12.' in response.text
    over = await post_form(client, "/practice/fees", POLICY | {"late_cancel_fee": "99999999"})
    assert 'id="f-late_cancel_fee-error">The fee can' in over.text
    assert await AuditEvent.count().where(AuditEvent.action == "fee_policy_changed") == 0


async def test_only_the_owner_changes_the_fee_policy(app, client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    colleague = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    await sign_in(client, colleague)
    assert 'href="/practice/fees"' not in (await client.get("/practice")).text
    assert (await client.get("/practice/fees")).status_code in (403, 404)
    refused = await post_form(client, "/practice/fees", POLICY)
    assert refused.status_code in (403, 404)
    practice = await Practice.objects().where(Practice.id == owner.user.practice_id).first()
    assert practice.late_cancel_fee_minor == 0


def test_a_fee_is_an_amount_or_a_share_of_the_session_fee():
    assert rules.parse_fee("75", 200000) == (rules.FeeRule(amount_minor=7500), None)
    assert rules.parse_fee(" 50 % ", 200000) == (rules.FeeRule(percent=50), None)
    assert rules.parse_fee("", 200000) == (rules.FeeRule(amount_minor=0), None)
    assert rules.parse_fee("0%", 200000) == (rules.FeeRule(), None)
    assert rules.parse_fee("-5", 200000)[1] == "The fee can't be negative."
    assert rules.parse_fee("x%", 200000)[1] == "Enter a whole percentage like 50%, up to 100%."
    assert rules.fee_field(rules.FeeRule(percent=50)) == "50%"
    assert rules.fee_field(rules.FeeRule(amount_minor=7500)) == "75.00"


async def test_the_clinician_exempts_a_client_with_a_reason(app, client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), owner)
    await sign_in(client, owner)
    edit = {"name": "Alex Rivera", "billing_type": "self_pay", "reminders": "on"}
    assert 'name="fee_exemption"' in (await client.get(f"/clients/{client_id}/edit")).text
    saved = await post_form(client, f"/clients/{client_id}/edit", edit | {"fee_exemption": "Medicaid plan"})
    assert saved.status_code == 303
    page = visible((await client.get(f"/clients/{client_id}")).text)
    assert "Fees No late-cancel or no-show fees: Medicaid plan" in page
    appointment = await add_appointment(owner, client_id, clock.now() - timedelta(hours=1))
    await Practice.update({Practice.late_cancel_fee_minor: 7500}).where(Practice.id == owner.user.practice_id)
    row = await Appointment.objects().where(Appointment.id == appointment).first()
    decision = await fees.decide(row, ChargeKind.LATE_CANCEL_FEE)
    assert (decision.amount_minor, decision.reason) == (0, "No fee: the client is exempt (Medicaid plan).")

    too_long = await post_form(client, f"/clients/{client_id}/edit", edit | {"fee_exemption": "x" * 201})
    assert 'id="f-fee_exemption-error">Fee exemption must be at most 200 characters.' in too_long.text
    await post_form(client, f"/clients/{client_id}/edit", edit | {"fee_exemption": ""})
    rows = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "fee_exemption_changed")
    assert [row["detail"] for row in rows] == ["set", "removed"]
    assert "No late-cancel or no-show fees" not in (await client.get(f"/clients/{client_id}")).text
