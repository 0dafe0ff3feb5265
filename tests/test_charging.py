"""Charging (R4) on a real database and Redis: scheduled on Occurred, charged once after the delay,
cancelled when un-marked, visible failures with emails, retries, waivers, refunds and the sweep."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from app.domain.statuses import ChargeStatus as C
from app.models.db import is_unique_violation, transaction
from app.models.tables import Appointment, AuditEvent, Charge, Client, EmailMessage, Refund
from app.payments.base import GatewayUnavailable
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.appointments import StatusChangeRefused
from app.services.queue import JobQueue
from tests.charging_support import (
    DECLINE,
    NEEDS_AUTH,
    VISA,
    add_appointment,
    fast_forward,
    gateway_charges,
    make_practice,
    mark,
    save_card,
    set_insurance,
    the_charge,
)

DAY = 24 * 3600


@pytest.fixture
def queue(arq_pool, settings):
    return JobQueue(arq_pool, settings.queue_name)


async def run(charge: Charge, clock, settings, queue, gateway=None, generation=None):
    return await charges.run_charge(
        charge.id,
        charge.generation if generation is None else generation,
        now=clock.now(),
        settings=settings,
        gateway=gateway or SandboxGateway(),
        queue=queue,
    )


async def sweep(clock, settings, queue, gateway=None):
    return await charges.sweep(
        now=clock.now(), settings=settings, gateway=gateway or SandboxGateway(), queue=queue
    )


async def test_the_whole_path_nothing_before_due_then_charged_once_by_the_job(
    db, redis, settings, clock, queue, run_worker
):
    practice = await make_practice(settings, clock.now(), queue)
    marked_at = clock.now()
    await mark(practice, "occurred", marked_at, settings, queue)
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.SCHEDULED and charge.amount_minor == 15000
    assert charge.due_at == marked_at + timedelta(seconds=settings.charge_delay)
    job_key = f"charge:{charge.id}:1"
    score = await redis.zscore(settings.queue_name, job_key)
    assert score == pytest.approx(charge.due_at.timestamp() * 1000, abs=1000)  # deferred to the due time

    clock.advance(hours=47, minutes=59)
    await sweep(clock, settings, queue)
    await redis.zadd(settings.queue_name, {job_key: int(time.time() * 1000)})  # the job fires early
    await run_worker()
    assert (await the_charge(practice.appointment_id)).status == C.SCHEDULED
    assert await gateway_charges() == 0

    clock.advance(minutes=1)
    await queue.enqueue_all([charges.charge_job(charge.id, 1, None, settings)])
    await fast_forward(redis, settings)
    await run_worker()
    done = await the_charge(practice.appointment_id)
    assert done.status == C.SUCCEEDED and done.succeeded_at == clock.now()
    assert done.idempotency_key == f"charge:{charge.id}:attempt:1"
    assert await gateway_charges() == 1

    await sweep(clock, settings, queue)
    await queue.enqueue_all([charges.charge_job(charge.id, 1, None, settings)])
    await run_worker()
    assert await gateway_charges() == 1
    actions = [row["action"] for row in await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)]
    assert "charge_scheduled" in actions and actions.count("charge_succeeded") == 1


async def test_a_due_charge_of_a_client_archived_meanwhile_is_cancelled_by_the_worker_not_collected(
    db, redis, settings, clock, queue, run_worker
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    charge = await the_charge(practice.appointment_id)
    # archived by a path that did not cancel the charge (an older release, a restore from backup)
    await Client.update({Client.archived_at: clock.now()}).where(Client.id == practice.client_id)
    clock.advance(seconds=settings.charge_delay)
    await fast_forward(redis, settings)
    await run_worker()
    assert (await the_charge(practice.appointment_id)).status == C.CANCELLED
    assert await gateway_charges() == 0
    cancelled = await AuditEvent.objects().where(AuditEvent.action == "charge_cancelled").first()
    assert cancelled.object_id == charge.id and cancelled.detail == "archived"
    assert await run(charge, clock, settings, queue) == "nothing_to_do:cancelled"
    await sweep(clock, settings, queue)
    assert await gateway_charges() == 0


async def test_a_failed_charge_of_an_archived_client_is_never_retried(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue, card=DECLINE)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    assert await run(await the_charge(practice.appointment_id), clock, settings, queue) == C.FAILED
    await Client.update({Client.archived_at: clock.now()}).where(Client.id == practice.client_id)
    with pytest.raises(charges.ChargeActionRefused, match="archived clients are never charged"):
        await charges.retry_charge(
            practice.appointment_id,
            clinician_id=practice.clinician.user.clinician_id,
            now=clock.now(),
            actor=practice.clinician_actor,
            settings=settings,
            queue=queue,
        )
    await save_card(practice, VISA, clock.now(), settings, queue)  # a new card retries failed charges
    assert (await the_charge(practice.appointment_id)).status == C.FAILED
    assert await gateway_charges() == 0


async def test_occurred_cancelled_occurred_gives_one_charge_due_from_the_last_marking(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(minutes=3)
    await mark(practice, "cancelled", clock.now(), settings, queue)
    assert (await the_charge(practice.appointment_id)).status == C.CANCELLED
    clock.advance(minutes=2)
    last = clock.now()
    await mark(practice, "occurred", last, settings, queue)
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.SCHEDULED and charge.generation == 2
    assert charge.due_at == last + timedelta(seconds=settings.charge_delay)
    assert await Charge.count() == 1

    clock.advance(seconds=settings.charge_delay - 60)  # the first marking's due time has passed
    assert await run(charge, clock, settings, queue, generation=1) == "stale"
    assert await run(charge, clock, settings, queue) == "not_claimed"
    clock.advance(seconds=60)
    assert await run(charge, clock, settings, queue) == "succeeded"
    assert await run(charge, clock, settings, queue) == "nothing_to_do:succeeded"
    assert await gateway_charges() == 1


async def test_two_workers_running_the_same_charge_at_once_make_one_gateway_charge(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    outcomes = await asyncio.gather(*(run(charge, clock, settings, queue) for _ in range(4)))
    assert sorted(outcomes).count("succeeded") == 1
    assert await gateway_charges() == 1
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED


async def test_a_lost_gateway_response_is_reconciled_without_a_second_charge(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    with pytest.raises(GatewayUnavailable):
        await run(charge, clock, settings, queue, gateway=SandboxGateway(["lose_response"]))
    in_doubt = await the_charge(practice.appointment_id)
    assert in_doubt.status == C.PROCESSING and in_doubt.claimed_until is None
    assert await gateway_charges() == 1  # the processor took the money; we did not hear back
    assert await run(charge, clock, settings, queue) == "succeeded"
    assert await gateway_charges() == 1


async def test_a_crashed_attempt_is_resumed_by_the_sweep_only_after_its_lease(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    assert await charges._claim(charge, now=clock.now(), settings=settings)  # then the worker dies
    await sweep(clock, settings, queue)
    assert (await the_charge(practice.appointment_id)).status == C.PROCESSING
    clock.advance(seconds=settings.charge_lease)
    assert (await sweep(clock, settings, queue))["resumed"] == 1
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED
    assert await gateway_charges() == 1


async def test_redis_flushed_before_due_the_sweep_still_charges_once(
    db, redis, settings, clock, queue, run_worker
):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    await redis.flushdb()
    clock.advance(seconds=settings.charge_delay)
    assert (await sweep(clock, settings, queue))["queued"] == 1
    assert (await sweep(clock, settings, queue))["queued"] == 0
    assert await gateway_charges() == 0  # queued for the workers, not charged in the sweep
    await run_worker()
    assert await gateway_charges() == 1
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED


async def test_transient_gateway_errors_retry_with_backoff_and_the_same_key(
    db, redis, settings, clock, queue, run_worker, monkeypatch
):
    practice = await make_practice(settings, clock.now(), queue)
    instant = replace(settings, charge_delay=0)
    await mark(practice, "occurred", clock.now(), instant, queue)
    charge = await the_charge(practice.appointment_id)
    job_key = f"charge:{charge.id}:1"
    await fast_forward(redis, settings)
    monkeypatch.setenv("SANDBOX_FAULT", "unavailable")
    await run_worker(worker_settings=instant, max_jobs=1)
    retry_at = await redis.zscore(settings.queue_name, job_key)
    assert retry_at > time.time() * 1000 + 5000  # re-queued with a delay, not dropped
    counts = await sweep(clock, instant, queue)  # the released attempt's job is waiting out its backoff
    assert counts["due"] == 1 and counts["queued"] == 0 and counts["resumed"] == 0
    assert await redis.zscore(settings.queue_name, job_key) == retry_at
    key = (await the_charge(practice.appointment_id)).idempotency_key
    monkeypatch.delenv("SANDBOX_FAULT")
    await redis.zadd(settings.queue_name, {job_key: int(time.time() * 1000)})
    await run_worker(worker_settings=instant)
    done = await the_charge(practice.appointment_id)
    assert done.status == C.SUCCEEDED and done.idempotency_key == key and done.attempt_no == 1
    assert await gateway_charges() == 1


@pytest.mark.parametrize(
    ("card", "status", "code"),
    [
        (DECLINE, C.FAILED, "card_declined"),
        (NEEDS_AUTH, C.REQUIRES_ACTION, "authentication_required"),
        (None, C.FAILED, "no_card"),
    ],
)
async def test_a_failed_charge_is_visible_emails_both_and_a_new_card_retries_it(
    db, redis, settings, clock, queue, card, status, code, run_worker
):
    practice = await make_practice(settings, clock.now(), queue, card=card)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    assert await run(charge, clock, settings, queue) == status
    failed = await the_charge(practice.appointment_id)
    assert failed.status == status and failed.failure_code == code and failed.failure_message
    to_client = await EmailMessage.objects().where(EmailMessage.to_address == practice.client.email).first()
    if status == C.REQUIRES_ACTION:  # nothing failed: the client is asked to confirm with their bank
        assert to_client is not None and "Please confirm your payment" in to_client.subject
        assert f"{settings.base_url}/portal/charges/{charge.id}/confirm" in to_client.text_body
    else:
        assert to_client is not None and "didn't go through" in to_client.subject
        assert f"{settings.base_url}/portal/card" in to_client.text_body
        assert failed.failure_message in to_client.text_body
    to_clinician = (
        await EmailMessage.objects().where(EmailMessage.to_address == practice.clinician.email).first()
    )
    assert to_clinician is not None and practice.client.user.name in to_clinician.text_body
    assert await gateway_charges() == 0

    clock.advance(hours=2)
    await save_card(practice, VISA, clock.now(), settings, queue)
    retried = await the_charge(practice.appointment_id)
    assert retried.status == C.SCHEDULED and retried.due_at == clock.now()
    await fast_forward(redis, settings)
    await run_worker()
    paid = await the_charge(practice.appointment_id)
    assert paid.status == C.SUCCEEDED and paid.attempt_no == 2
    assert await gateway_charges() == 1


async def test_retry_button_after_a_decline_and_refusals(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue, card=DECLINE)
    await mark(practice, "occurred", clock.now(), settings, queue)
    cid = practice.clinician.user.clinician_id
    with pytest.raises(charges.ChargeActionRefused):
        await charges.retry_charge(
            practice.appointment_id,
            clinician_id=cid,
            now=clock.now(),
            actor=practice.clinician_actor,
            settings=settings,
            queue=queue,
        )
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    assert await run(charge, clock, settings, queue) == C.FAILED
    await charges.retry_charge(
        practice.appointment_id,
        clinician_id=cid,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    again = await the_charge(practice.appointment_id)
    assert again.status == C.SCHEDULED
    assert (
        await run(again, clock, settings, queue) == C.FAILED
    )  # same declining card: a new attempt, declined
    assert (await the_charge(practice.appointment_id)).attempt_no == 2
    with pytest.raises(charges.ChargeNotFound):
        await charges.retry_charge(
            practice.appointment_id,
            clinician_id=cid + 99,
            now=clock.now(),
            actor=practice.clinician_actor,
            settings=settings,
            queue=queue,
        )


async def test_waived_before_due_is_never_charged_and_is_audited(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    await charges.waive_charge(
        practice.appointment_id,
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
    )
    clock.advance(seconds=settings.charge_delay)
    await sweep(clock, settings, queue)
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.WAIVED and charge.waived_by == practice.clinician.user.id
    assert await gateway_charges() == 0
    audit = await AuditEvent.objects().where(AuditEvent.action == "charge_waived").first()
    assert audit.actor_id == practice.clinician.user.id and audit.object_id == charge.id


async def test_a_paid_session_cannot_be_unmarked_until_refunded_in_full(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    await run(await the_charge(practice.appointment_id), clock, settings, queue)
    with pytest.raises(StatusChangeRefused, match="Refund"):
        await mark(practice, "cancelled", clock.now(), settings, queue)
    cid = practice.clinician.user.clinician_id
    actor = practice.clinician_actor
    gateway = SandboxGateway()
    first = await charges.refund_charge(
        practice.appointment_id,
        5000,
        "req-1",
        clinician_id=cid,
        now=clock.now(),
        actor=actor,
        gateway=gateway,
    )
    twice = await charges.refund_charge(
        practice.appointment_id,
        5000,
        "req-1",
        clinician_id=cid,
        now=clock.now(),
        actor=actor,
        gateway=gateway,
    )
    assert first.id == twice.id and first.status == "succeeded"
    partly = await the_charge(practice.appointment_id)
    assert partly.status == C.PARTIALLY_REFUNDED and partly.refunded_minor == 5000
    with pytest.raises(charges.ChargeActionRefused, match="more than"):
        await charges.refund_charge(
            practice.appointment_id,
            10001,
            "req-2",
            clinician_id=cid,
            now=clock.now(),
            actor=actor,
            gateway=gateway,
        )
    with pytest.raises(StatusChangeRefused):
        await mark(practice, "cancelled", clock.now(), settings, queue)
    await charges.refund_charge(
        practice.appointment_id,
        10000,
        "req-3",
        clinician_id=cid,
        now=clock.now(),
        actor=actor,
        gateway=gateway,
    )
    refunded = await the_charge(practice.appointment_id)
    assert refunded.status == C.REFUNDED and refunded.refunded_minor == 15000
    assert await Refund.count() == 2
    await mark(practice, "cancelled", clock.now(), settings, queue)
    await mark(practice, "occurred", clock.now(), settings, queue)  # a refunded charge is not re-charged
    assert (await the_charge(practice.appointment_id)).status == C.REFUNDED


async def test_a_refund_whose_response_was_lost_is_settled_by_the_sweep(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    await run(await the_charge(practice.appointment_id), clock, settings, queue)
    refund = await charges.refund_charge(
        practice.appointment_id,
        15000,
        "req-x",
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        gateway=SandboxGateway(["lose_response"]),
    )
    assert refund.status == "pending"
    clock.advance(seconds=settings.charge_lease)
    assert (await sweep(clock, settings, queue))["refunds"] == 1
    assert (await the_charge(practice.appointment_id)).status == C.REFUNDED


async def test_insurance_clients_are_charged_the_copay(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await set_insurance(practice.client_id, 2500)
    await mark(practice, "occurred", clock.now(), settings, queue)
    assert (await the_charge(practice.appointment_id)).amount_minor == 2500


async def test_a_second_charge_row_for_an_appointment_is_impossible(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    charge = await the_charge(practice.appointment_id)
    with pytest.raises(Exception) as raised:  # noqa: B017 - engine-specific class, checked below
        async with transaction():
            await Charge.insert(
                Charge(
                    appointment=practice.appointment_id,
                    client=charge.client,
                    clinician=charge.clinician,
                    amount_minor=100,
                    status=C.SUCCEEDED,
                    due_at=clock.now(),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    assert is_unique_violation(raised.value)
    assert await Charge.count() == 1


async def test_unmarking_races_the_claim_never_charges_a_session_that_is_not_occurred(
    db, redis, settings, clock, queue
):
    instant = replace(settings, charge_delay=0)
    no_jobs = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    outcomes = {"charged": 0, "cancelled": 0}
    for i in range(200):
        appointment_id = await add_appointment(
            practice.clinician, practice.client_id, clock.now() - timedelta(hours=1)
        )
        practice.appointment_id = appointment_id
        await mark(practice, "occurred", clock.now(), instant, no_jobs)
        charge = await the_charge(appointment_id)

        async def unmark():
            with contextlib.suppress(StatusChangeRefused):
                await mark(practice, "cancelled", clock.now(), instant, no_jobs)

        async def claim(charge=charge):
            await run(charge, clock, instant, no_jobs)

        if i % 10 == 0:  # now and then one side clearly first, so both outcomes are exercised
            await claim()
            await unmark()
        elif i % 10 == 1:
            await unmark()
            await claim()
        else:
            await asyncio.gather(unmark(), claim()) if i % 2 else await asyncio.gather(claim(), unmark())
        final = await the_charge(appointment_id)
        appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
        if final.status == C.SUCCEEDED:
            assert appointment.status == "occurred"
            outcomes["charged"] += 1
        else:
            assert final.status == C.CANCELLED and appointment.status == "cancelled"
            outcomes["cancelled"] += 1
    assert await gateway_charges() == outcomes["charged"]
    assert outcomes["charged"] and outcomes["cancelled"], outcomes  # both orders really happened
