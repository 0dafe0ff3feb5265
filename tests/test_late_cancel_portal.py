"""The honest late cancel in the portal (issue 20): inside the window the page states the exact fee
before the client confirms, offers same-week open slots as a move without a fee, and the confirmed late
cancel schedules the fee through the charge machinery."""

from __future__ import annotations

import re
from datetime import timedelta

from app.models.db import transaction
from app.models.tables import Appointment, Charge, Practice
from app.services import fees
from app.services.context import Actor
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_calendar import add_appointment
from tests.test_charges_web import visible
from tests.test_online_booking import practice_with_hours


async def with_policy(settings, clock, *, agreed: bool = True):
    clinician = await practice_with_hours(settings, clock)
    person, client_id = await make_client(settings, clock.now(), clinician)
    await Practice.update({Practice.late_cancel_fee_minor: 7500}).where(
        Practice.id == clinician.user.practice_id
    )
    if agreed:
        practice = await Practice.objects().where(Practice.id == clinician.user.practice_id).first()
        async with transaction():
            await fees.record_agreement(
                client_id, practice, now=clock.now(), address="198.51.100.7", via="invitation", actor=Actor()
            )
    return clinician, person, client_id


async def test_the_client_sees_the_exact_fee_then_late_cancels(client, settings, clock):
    clinician, person, client_id = await with_policy(settings, clock)
    soon = await add_appointment(clinician, client_id, clock.now() + timedelta(hours=30))
    await sign_in(client, person)
    portal = (await client.get("/portal")).text
    assert f'href="/portal/sessions/{soon}/late-cancel">Cancel this session</a>' in portal

    page = visible((await client.get(f"/portal/sessions/{soon}/late-cancel")).text)
    assert (
        "Cancelling now is inside the cancellation window: a late-cancel fee of $75.00 will be charged "
        "to your card on file." in page
    )
    assert "Cancel and pay the $75.00 fee" in page
    done = await post_form(client, f"/portal/sessions/{soon}/late-cancel", follow_redirects=True)
    assert "Cancelled. A late-cancel fee of $75.00 is due." in visible(done.text)
    appointment = await Appointment.objects().where(Appointment.id == soon).first()
    assert appointment.status == "late_cancelled"
    fee = await Charge.objects().where(Charge.appointment == soon).first()
    assert (fee.kind, fee.amount_minor, fee.status) == ("late_cancel_fee", 7500, "scheduled")
    again = await post_form(client, f"/portal/sessions/{soon}/late-cancel")
    assert again.status_code == 404
    assert await Charge.count().where(Charge.appointment == soon) == 1


async def test_a_same_week_move_instead_carries_no_fee(client, settings, clock):
    clinician, person, client_id = await with_policy(settings, clock)
    soon = await add_appointment(clinician, client_id, clock.now() + timedelta(hours=30))
    await sign_in(client, person)
    page = (await client.get(f"/portal/sessions/{soon}/late-cancel")).text
    assert "Or move it this week, with no fee" in page
    slots = re.findall(r'name="slot" value="([^"]+)"', page)
    assert slots
    moved = await post_form(
        client, f"/portal/sessions/{soon}/move", {"slot": slots[0]}, follow_redirects=True
    )
    assert "with no fee." in visible(moved.text)
    appointment = await Appointment.objects().where(Appointment.id == soon).first()
    assert appointment.status == "scheduled" and appointment.starts_at.strftime("%Y-%m-%dT%H:%MZ") == slots[0]
    assert await Charge.count().where(Charge.appointment == soon) == 0
    refused = await post_form(
        client, f"/portal/sessions/{soon}/move", {"slot": "2027-03-01T14:00Z"}, follow_redirects=True
    )
    assert "can't be moved online" in visible(refused.text) or "just taken" in visible(refused.text)


async def test_no_agreement_no_fee_and_no_policy_no_online_late_cancel(client, settings, clock):
    clinician, person, client_id = await with_policy(settings, clock, agreed=False)
    soon = await add_appointment(clinician, client_id, clock.now() + timedelta(hours=30))
    await sign_in(client, person)
    page = visible((await client.get(f"/portal/sessions/{soon}/late-cancel")).text)
    assert "Cancelling now carries no fee." in page
    await post_form(client, f"/portal/sessions/{soon}/late-cancel")
    assert (await Appointment.objects().where(Appointment.id == soon).first()).status == "late_cancelled"
    assert await Charge.count().where(Charge.appointment == soon) == 0

    other = await make_clinician(settings, clock.now(), email="o@example.test", practice="Elsewhere")
    _, theirs = await make_client(settings, clock.now(), other, email="z@example.test", name="Zed")
    their_session = await add_appointment(other, theirs, clock.now() + timedelta(hours=30))
    assert (await client.get(f"/portal/sessions/{their_session}/late-cancel")).status_code == 404
    assert (await post_form(client, f"/portal/sessions/{their_session}/late-cancel")).status_code == 404
