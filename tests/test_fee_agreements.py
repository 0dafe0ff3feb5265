"""Clients agree to the fee policy's words (issue 20): on the public booking page, when accepting the
invitation, and in the portal before their next booking once the words change. What they saw is stored
with the time and the address; no fee is charged under words they did not agree to."""

from __future__ import annotations

from app.domain.statuses import ChargeKind as K
from app.models.tables import Appointment, Client, EmailMessage, FeeAgreement, Practice
from app.services import fees
from tests.helpers import PASSWORD, link_in, post_form
from tests.test_online_booking import SLUG, practice_with_hours, text, visitor

LATER = "2026-12-04T14:00Z"


async def set_fee(clinician, late_cancel_fee_minor: int) -> None:
    await Practice.update(
        {Practice.late_cancel_fee_minor: late_cancel_fee_minor, Practice.no_show_fee_percent: 100}
    ).where(Practice.id == clinician.user.practice_id)


async def agreements() -> list[tuple[str, str, str]]:
    rows = await FeeAgreement.select(FeeAgreement.via, FeeAgreement.address, FeeAgreement.text).order_by(
        FeeAgreement.id
    )
    return [(row["via"], row["address"], row["text"]) for row in rows]


async def test_a_client_agrees_when_booking_accepting_and_again_after_a_change(
    client, other_client, settings, clock
):
    clinician = await practice_with_hours(settings, clock)
    await set_fee(clinician, 7500)
    page = text(await client.get(f"/book/{SLUG}"))
    assert "Cancelling later costs $75.00" in page and "I agree to this cancellation and fee policy." in page
    version = (await fees.words_for_clinician(clinician.user.clinician_id))[1]

    refused = await post_form(client, f"/book/{SLUG}", visitor(agree="", fee_version=version))
    assert refused.status_code == 422 and 'id="f-agree-error">Please agree' in refused.text
    stale = await post_form(client, f"/book/{SLUG}", visitor(fee_version="0" * 16))
    assert stale.status_code == 422 and "The fee policy changed while this page was open." in text(stale)
    booked = await post_form(client, f"/book/{SLUG}", visitor(fee_version=version))
    assert "Thank you" in booked.text
    ((via, address, words),) = await agreements()
    assert (via, address) == ("booking", "127.0.0.1") and "Cancelling later costs $75.00" in words

    # the words change before the invitation is accepted: the client agrees to the new ones there
    await set_fee(clinician, 9000)
    invitation = await EmailMessage.objects().where(EmailMessage.kind == "invitation").first()
    path = link_in(invitation.text_body, "/invite/")
    invite_page = text(await other_client.get(path))
    assert "Cancelling later costs $90.00" in invite_page
    new_version = invite_page.split('name="fee_version" value="')[1][:16]
    password = {"password": PASSWORD, "password_confirm": PASSWORD, "fee_version": new_version}
    missing = await post_form(other_client, path, password)
    assert 'id="f-agree_fees-error">Please agree to the fee policy to continue.' in missing.text
    accepted = await post_form(other_client, path, password | {"agree_fees": "on"})
    assert accepted.status_code == 303
    assert [(v, w.split(";")[0][-6:]) for v, _, w in await agreements()] == [
        ("booking", "$75.00"),
        ("invitation", "$90.00"),
    ]

    # changed again: the portal asks before the next booking, and books once they agree
    await set_fee(clinician, 6000)
    record = await Client.objects().where(Client.email == "jordan@example.test").first()
    form = {"practice": str(record.id), "kind": "regular", "slot": LATER}
    book_page = text(await other_client.get(f"/portal/book?practice={record.id}"))
    assert "Cancelling later costs $60.00" in book_page
    unagreed = await post_form(other_client, "/portal/book", form)
    assert unagreed.status_code == 422 and 'id="f-agree_fees-error"' in unagreed.text
    assert await Appointment.count().where(Appointment.client == record.id) == 1

    # until they agree, a late cancel owes no fee
    intro = await Appointment.objects().where(Appointment.client == record.id).first()
    decision = await fees.decide(intro, K.LATE_CANCEL_FEE)
    assert (decision.amount_minor, decision.reason) == (
        0,
        "No fee: the client has not agreed to the current fee policy.",
    )

    current = (await fees.words_to_agree(record.id))[1]
    done = await post_form(other_client, "/portal/book", form | {"agree_fees": "on", "fee_version": current})
    assert done.status_code == 303
    assert [via for via, _, _ in await agreements()] == ["booking", "invitation", "portal booking"]
    assert (
        "I agree to this fee policy"
        not in (await other_client.get(f"/portal/book?practice={record.id}")).text
    )
    assert (await fees.decide(intro, K.LATE_CANCEL_FEE)).amount_minor == 6000


async def test_no_policy_nothing_to_agree_to(client, settings, clock):
    await practice_with_hours(settings, clock)
    page = text(await client.get(f"/book/{SLUG}"))
    assert (
        "fee_version" not in page and "I agree to the cancellation policy: cancel at least 48 hours" in page
    )
    assert "Thank you" in (await post_form(client, f"/book/{SLUG}", visitor())).text
    assert await agreements() == []
