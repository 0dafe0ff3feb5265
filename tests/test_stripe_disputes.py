"""Disputes against the local Stripe stub: a cardholder disputes a paid charge with their bank; the signed
``charge.dispute.*`` webhooks (repeated, out of order) leave one dispute in its latest state, shown on the
charge with amount, reason and deadline; the owner is emailed once; that client is not charged again
until the owner taps "Resume charging" (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.statuses import ChargeStatus as C
from app.models.tables import AuditEvent, Dispute, EmailMessage, StripeEvent
from app.services import appointments, charges, disputes
from app.services.errors import ChargeNotFound
from app.services.queue import JobQueue
from tests import test_stripe_webhooks as webhook_tests
from tests.charging_support import add_appointment, the_charge
from tests.helpers import actor_for, make_member, post_form, sign_in
from tests.test_stripe_webhooks import charged_practice, deliver, gateway

stub = webhook_tests.stub  # the local Stripe stub, and settings that point the app and workers at it
settings = webhook_tests.settings


async def paid_practice(stub, settings, clock):
    practice, queue = await charged_practice(stub, settings, clock)
    charge = await the_charge(practice.appointment_id)
    outcome = await charges.run_charge(
        charge.id, charge.generation, now=clock.now(), settings=settings, gateway=gateway(stub), queue=queue
    )
    assert outcome == C.SUCCEEDED
    return practice, queue, (await the_charge(practice.appointment_id)).gateway_reference


async def another_session_due(practice, settings, clock, queue: JobQueue):
    """A second session of the same client, marked Occurred, whose charge is due now."""
    appointment_id = await add_appointment(practice.clinician, practice.client_id, clock.now())
    clock.advance(hours=2)
    await appointments.change_status(
        appointment_id,
        "occurred",
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    clock.advance(seconds=settings.charge_delay)
    return await the_charge(appointment_id)


async def test_a_dispute_shows_on_the_charge_emails_the_owner_and_pauses_charging_until_resumed(
    app, client, settings, clock, stub, run_worker
):
    practice, queue, intent = await paid_practice(stub, settings, clock)
    stub.dispute(intent, reason="fraudulent")
    for _ in range(3):
        for event in stub.events_of("charge.dispute.created"):
            assert (await deliver(client, event)).status_code == 200
    await run_worker()
    assert await Dispute.count() == 1
    owner_mail = await EmailMessage.objects().where(EmailMessage.subject.like("Payment disputed%"))
    assert [m.to_address for m in owner_mail] == [practice.clinician.email]
    assert "$150.00" in owner_mail[0].text_body and "Resume" not in owner_mail[0].subject

    await sign_in(client, practice.clinician)
    panel = (await client.get(f"/appointments/{practice.appointment_id}/charge")).text
    assert "Disputed" in panel and "$150.00" in panel
    assert "didn&#39;t make this payment" in panel and "respond in your Stripe dashboard by" in panel
    assert "Automatic charging for Alex Rivera is paused" in panel and "Resume charging" in panel
    day = (await the_charge(practice.appointment_id)).succeeded_at.date() - timedelta(days=3)
    report = await client.get(f"/report?preset=custom&start={day}&end={day + timedelta(days=6)}")
    assert "Paid (disputed)" in report.text

    second = await another_session_due(practice, settings, clock, queue)
    held = await charges.run_charge(
        second.id, second.generation, now=clock.now(), settings=settings, gateway=gateway(stub), queue=queue
    )
    counts = await charges.sweep(now=clock.now(), settings=settings, gateway=gateway(stub), queue=queue)
    assert held == "not_claimed" and counts["due"] == 0 and stub.charges() == 1
    assert (await the_charge(second.appointment)).status == C.SCHEDULED

    await sign_in(client, practice.clinician)  # two days later: signed out for inactivity meanwhile
    resumed = await post_form(client, f"/appointments/{practice.appointment_id}/charge/resume", htmx=True)
    assert "Automatic charging resumed." in resumed.text and "is paused" not in resumed.text
    assert await AuditEvent.count().where(AuditEvent.action == "charging_resumed") == 1
    again = await charges.run_charge(
        second.id, second.generation, now=clock.now(), settings=settings, gateway=gateway(stub), queue=queue
    )
    assert again == C.SUCCEEDED and stub.charges() == 2


async def test_dispute_events_three_times_and_out_of_order_leave_one_decided_dispute(
    app, client, settings, clock, stub, run_worker
):
    practice, _, intent = await paid_practice(stub, settings, clock)
    opened = stub.dispute(intent, reason="product_not_received")
    stub.close_dispute(opened["id"], "won")
    disputed = stub.events_of("charge.dispute.created") + stub.events_of("charge.dispute.closed")
    for event in reversed(disputed * 3):
        await deliver(client, event)
        await run_worker()
    dispute = await Dispute.objects().first()
    assert await Dispute.count() == 1 and dispute.status == "won" and dispute.amount_minor == 15000
    assert await AuditEvent.count().where(AuditEvent.action == "charge_disputed") == 1
    assert await EmailMessage.count().where(EmailMessage.subject.like("Payment disputed%")) == 1
    assert await StripeEvent.count().where(StripeEvent.processed_at.is_null()) == 0
    await sign_in(client, practice.clinician)
    panel = (await client.get(f"/appointments/{practice.appointment_id}/charge")).text
    assert "Won: the money stays with the practice" in panel and "respond in your" not in panel


async def test_a_colleague_cannot_resume_charging_the_owner_can(app, settings, clock, stub):
    practice, _, intent = await paid_practice(stub, settings, clock)
    stub.dispute(intent)
    queue = JobQueue(None, settings.queue_name)
    outcome = await disputes.record_dispute(
        stub.events[-1]["data"]["object"]["id"],
        now=clock.now(),
        settings=settings,
        gateway=gateway(stub),
        queue=queue,
    )
    assert outcome == "dispute needs_response"
    colleague = await make_member(
        settings, clock.now(), practice.clinician, email="sam@example.test", name="Sam Lee", role="clinician"
    )
    with pytest.raises(ChargeNotFound):  # not their session (test_authorization_matrix checks every role)
        await disputes.resume_charging(
            practice.appointment_id, member=colleague.user, now=clock.now(), actor=actor_for(colleague)
        )
    assert await Dispute.count().where(Dispute.charging_resumed_at.is_null()) == 1
    clock.advance(minutes=1)
    assert (
        await disputes.resume_charging(
            practice.appointment_id,
            member=practice.clinician.user,
            now=clock.now(),
            actor=actor_for(practice.clinician),
        )
        == 1
    )
