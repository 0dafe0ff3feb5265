"""Charging (R4): the charge that follows an appointment marked Occurred — at most once, ever.

- The status service calls ``on_status_change`` inside its transaction. Marking Occurred creates or
  re-activates the charge (generation + 1, due = now + CHARGE_DELAY) and returns a deferred job with
  an id unique to that scheduling. Changing the status away cancels a charge that has not reached
  the gateway; one that has (processing, paid) refuses the change until it is refunded.
- ``run_charge`` (the job, and the sweep) claims the charge with one conditional UPDATE (still
  scheduled, this generation, due, appointment still Occurred), commits, then talks to the gateway
  with the key stored by the claim, then records the outcome with another conditional UPDATE.
- A charge left in processing (crash, lost response, outage) is resumed only after its lease
  expired, and always from the gateway's record of the stored reference/key, never as a new charge.
- The database is the schedule; arq jobs are only a wake-up call. ``sweep`` queues the job again for
  every due charge whose job was lost, so all workers share a catch-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.config import Settings
from app.domain import charges as rules
from app.domain.appointments import ARCHIVED_CLIENT_OCCURRED
from app.domain.statuses import AppointmentStatus
from app.domain.statuses import ChargeStatus as C
from app.models.db import is_unique_violation, transaction
from app.models.tables import (
    Appointment,
    Charge,
    Client,
    Clinician,
    PaymentMethod,
    Refund,
    User,
)
from app.payments.base import GatewayRefused, GatewayUnavailable, PaymentGateway, PaymentResult
from app.services import audit
from app.services.context import Actor
from app.services.email import queue_email
from app.services.errors import ChargeNotFound, StatusChangeRefused
from app.services.queue import JobQueue, QueuedJob, QueueUnavailable, email_job

log = logging.getLogger(__name__)
CHARGE_JOB = "charge_appointment"
JOB_EXPIRY_EXTRA = 7 * 24 * 3600
SWEEP_BATCH = 1000  # rows a sweep reads per query, and jobs it queues per Redis round trip
SWEEP_INLINE_LIMIT = 100  # attempts resumed, refunds settled, in the sweep's own process per pass


class ChargeActionRefused(Exception):
    """A waive, retry or refund that the charge's state does not allow; ``message`` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def charge_job(charge_id: int, generation: int, due: datetime | None, settings: Settings) -> QueuedJob:
    return QueuedJob(
        CHARGE_JOB,
        (charge_id, generation),
        job_id=rules.job_id(charge_id, generation),
        defer_until=due,
        expires_seconds=settings.charge_delay + JOB_EXPIRY_EXTRA,
    )


def _client_active():
    """Archived clients are never charged: a charge whose client was archived is cancelled, not collected."""
    return Charge.client.is_in(Client.select(Client.id).where(Client.archived_at.is_null()))


def _still_occurred(appointment_id: int):
    return Charge.appointment.is_in(
        Appointment.select(Appointment.id).where(
            (Appointment.id == appointment_id) & (Appointment.status == AppointmentStatus.OCCURRED)
        )
    )


# --- scheduling (inside the status service's transaction) -------------------------------------


async def on_status_change(
    appointment: Appointment,
    old_status: str,
    new_status: str,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
) -> list[QueuedJob]:
    """React to a status change of ``appointment`` (as read in the caller's transaction) inside that
    transaction; returns jobs to enqueue after commit."""
    if new_status == AppointmentStatus.OCCURRED:
        return await _schedule(appointment, now=now, actor=actor, settings=settings)
    if old_status == AppointmentStatus.OCCURRED:
        await _cancel_for_unmarked(appointment.id, now=now, actor=actor)
    return []


BILLING_SQL = (
    "SELECT c.billing_type, p.copay_minor FROM client c "
    "LEFT JOIN insurance_policy p ON p.client = c.id WHERE c.id = {}"
)


async def amount_for(appointment: Appointment) -> int:
    """What the client pays for the session: the fee, or their copay when insurance bills (one query)."""
    rows = await Client.raw(BILLING_SQL, appointment.client)
    billing = rows[0] if rows else {"billing_type": "self_pay", "copay_minor": None}
    return rules.charge_amount(billing["billing_type"], appointment.fee_minor, billing["copay_minor"])


async def _schedule(
    appointment: Appointment, *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    appointment_id = appointment.id
    amount = await amount_for(appointment)
    due = rules.due_at(now, settings.charge_delay)
    existing = await Charge.objects().where(Charge.appointment == appointment_id).first()
    if existing is None:
        if amount <= 0:
            return []
        rows = await Charge.insert(
            Charge(
                appointment=appointment_id,
                client=appointment.client,
                clinician=appointment.clinician,
                amount_minor=amount,
                currency=appointment.currency,
                status=C.SCHEDULED,
                due_at=due,
                generation=1,
                attempt_no=0,
                created_at=now,
                updated_at=now,
            )
        ).returning(Charge.id, Charge.generation)
    else:
        if existing.status not in rules.RESCHEDULABLE or amount <= 0:
            return []
        rows = (
            await Charge.update(
                {
                    Charge.status: C.SCHEDULED,
                    Charge.generation: Charge.generation + 1,
                    Charge.due_at: due,
                    Charge.amount_minor: amount,
                    Charge.currency: appointment.currency,
                    Charge.failure_code: "",
                    Charge.failure_message: "",
                    Charge.updated_at: now,
                }
            )
            .where((Charge.id == existing.id) & Charge.status.is_in(list(rules.RESCHEDULABLE)))
            .returning(Charge.id, Charge.generation)
        )
        if not rows:
            return []
    charge_id, generation = rows[0]["id"], rows[0]["generation"]
    await audit.charge_event(
        "charge_scheduled",
        charge_id,
        appointment.client,
        appointment.clinician,
        actor=actor,
        at=now,
        detail=f"generation {generation}",
    )
    return [charge_job(charge_id, generation, due, settings)]


async def _cancel_where(condition, *, now: datetime, actor: Actor, detail: str = "") -> int:
    """Cancel every still-collectable charge matching ``condition`` (compare-and-set, so a charge a
    worker has just claimed is left alone); one audit row each. Returns how many were cancelled."""
    cancelled = (
        await Charge.update({Charge.status: C.CANCELLED, Charge.updated_at: now})
        .where(condition & Charge.status.is_in(list(rules.CANCELLABLE)))
        .returning(Charge.id, Charge.client, Charge.clinician)
    )
    for row in cancelled:
        await audit.charge_event(
            "charge_cancelled", row["id"], row["client"], row["clinician"], actor=actor, at=now, detail=detail
        )
    return len(cancelled)


async def cancel_pending_for_client(client_id: int, *, clinician_id: int, now: datetime, actor: Actor) -> int:
    """Archiving a client: charges not yet collected are cancelled (inside the caller's transaction)."""
    return await _cancel_where(
        (Charge.client == client_id) & (Charge.clinician == clinician_id),
        now=now,
        actor=actor,
        detail="archived",
    )


async def _cancel_for_unmarked(appointment_id: int, *, now: datetime, actor: Actor) -> None:
    if await _cancel_where(Charge.appointment == appointment_id, now=now, actor=actor):
        return
    charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
    if charge is not None and charge.status in rules.BLOCKS_UNMARKING:
        raise StatusChangeRefused(
            "This session's charge has been paid or is being processed. "
            "Refund it in full before changing the status."
        )


# --- processing (the job and the sweep) -----------------------------------------------------------


async def card_on_file(user_id: int) -> PaymentMethod | None:
    """The person's current card (the newest one not removed), or None."""
    return (
        await PaymentMethod.objects()
        .where((PaymentMethod.user == user_id) & PaymentMethod.removed_at.is_null())
        .order_by(PaymentMethod.id, ascending=False)
        .first()
    )


async def _card_for_client(client_id: int) -> PaymentMethod | None:
    client = await Client.objects().where(Client.id == client_id).first()
    if client is None or client.user is None:
        return None
    return await card_on_file(client.user)


async def _claim(charge: Charge, *, now: datetime, settings: Settings) -> bool:
    """The one conditional update that lets exactly one runner start this attempt."""
    card = await _card_for_client(charge.client)
    attempt = charge.attempt_no + 1
    claimed = (
        await Charge.update(
            {
                Charge.status: C.PROCESSING,
                Charge.attempt_no: attempt,
                Charge.idempotency_key: rules.idempotency_key(charge.id, attempt),
                Charge.gateway_reference: None,
                Charge.payment_method: card.id if card else None,
                Charge.failure_code: "",
                Charge.failure_message: "",
                Charge.processing_started_at: now,
                Charge.claimed_until: now + timedelta(seconds=settings.charge_lease),
                Charge.updated_at: now,
            }
        )
        .where(
            (Charge.id == charge.id)
            & (Charge.status == C.SCHEDULED)
            & (Charge.generation == charge.generation)
            & (Charge.attempt_no == charge.attempt_no)
            & (Charge.due_at <= now)
            & _still_occurred(charge.appointment)
            & _client_active()
        )
        .returning(Charge.id)
    )
    return bool(claimed)


async def _take_over(charge: Charge, *, now: datetime, settings: Settings) -> bool:
    """Resume an attempt left in processing once its runner's lease has run out (or was released)."""
    lease_free = Charge.claimed_until.is_null() | (Charge.claimed_until <= now)
    taken = (
        await Charge.update({Charge.claimed_until: now + timedelta(seconds=settings.charge_lease)})
        .where(
            (Charge.id == charge.id)
            & (Charge.status == C.PROCESSING)
            & (Charge.attempt_no == charge.attempt_no)
            & lease_free
        )
        .returning(Charge.id)
    )
    return bool(taken)


async def _cancel_if_client_archived(charge: Charge, *, now: datetime) -> bool:
    """At charge time: a due charge of a client archived meanwhile is cancelled (audited), never collected."""
    async with transaction():
        return bool(
            await _cancel_where(
                (Charge.id == charge.id)
                & (Charge.generation == charge.generation)
                & (Charge.status == C.SCHEDULED)
                & Charge.client.is_in(Client.select(Client.id).where(Client.archived_at.is_not_null())),
                now=now,
                actor=Actor.system(),
                detail="archived",
            )
        )


async def run_charge(
    charge_id: int,
    generation: int | None,
    *,
    now: datetime,
    settings: Settings,
    gateway: PaymentGateway,
    queue: JobQueue,
) -> str:
    """Charge one due charge (or resume an unfinished attempt). Safe to run any number of times.

    Returns what happened (for logs): 'succeeded', 'failed', 'requires_action', or why nothing was
    done. Raises ``GatewayUnavailable`` when the gateway could not be reached (retry later).
    """
    charge = await Charge.objects().where(Charge.id == charge_id).first()
    if charge is None or (generation is not None and charge.generation != generation):
        return "stale"
    if charge.status == C.SCHEDULED:
        if not await _claim(charge, now=now, settings=settings):
            if await _cancel_if_client_archived(charge, now=now):
                return "cancelled:archived"
            return "not_claimed"
    elif charge.status == C.PROCESSING:
        if not await _take_over(charge, now=now, settings=settings):
            return "busy"
    else:
        return f"nothing_to_do:{charge.status}"
    return await _attempt(charge_id, now=now, settings=settings, gateway=gateway, queue=queue)


async def _attempt(
    charge_id: int, *, now: datetime, settings: Settings, gateway: PaymentGateway, queue: JobQueue
) -> str:
    charge = await Charge.objects().where(Charge.id == charge_id).first()
    attempt = charge.attempt_no
    card = (
        await PaymentMethod.objects().where(PaymentMethod.id == charge.payment_method).first()
        if charge.payment_method
        else None
    )
    if card is None:
        result = PaymentResult("failed", "", "no_card")
    else:
        try:
            reference = charge.gateway_reference
            if not reference:
                reference = await gateway.create_payment(
                    amount_minor=charge.amount_minor,
                    currency=charge.currency,
                    customer_ref=card.customer_ref,
                    method_ref=card.method_ref,
                    idempotency_key=f"{charge.idempotency_key}:create",
                    charge_id=charge.id,
                )
                await Charge.update({Charge.gateway_reference: reference}).where(
                    (Charge.id == charge.id)
                    & (Charge.status == C.PROCESSING)
                    & (Charge.attempt_no == attempt)
                )
            result = await gateway.get_payment(reference)
            if result.outcome == "pending":
                result = await gateway.confirm_payment(
                    reference, idempotency_key=f"{charge.idempotency_key}:confirm"
                )
            if result.outcome == "pending":
                raise GatewayUnavailable("the gateway has not settled the payment yet")
        except GatewayUnavailable:
            # Release the lease so a retry (or the sweep) resumes this attempt from the gateway's record.
            await Charge.update({Charge.claimed_until: None}).where(
                (Charge.id == charge.id) & (Charge.status == C.PROCESSING) & (Charge.attempt_no == attempt)
            )
            raise
        except GatewayRefused as exc:
            log.warning("charge %s: gateway refused the request: %s", charge.id, exc)
            result = PaymentResult("failed", charge.gateway_reference or "", "processing_error")
    return await _record(charge, attempt, result, now=now, settings=settings, queue=queue)


async def _record(
    charge: Charge, attempt: int, result: PaymentResult, *, now: datetime, settings: Settings, queue: JobQueue
) -> str:
    status = {"succeeded": C.SUCCEEDED, "requires_action": C.REQUIRES_ACTION}.get(result.outcome, C.FAILED)
    values = {
        Charge.status: status,
        Charge.claimed_until: None,
        Charge.updated_at: now,
        Charge.failure_code: result.failure_code if status != C.SUCCEEDED else "",
        Charge.failure_message: (rules.failure_reason(result.failure_code) if status != C.SUCCEEDED else "")[
            :255
        ],
    }
    if result.reference:
        values[Charge.gateway_reference] = result.reference
    if status == C.SUCCEEDED:
        values[Charge.succeeded_at] = now
    jobs: list[QueuedJob] = []
    async with transaction():
        recorded = (
            await Charge.update(values)
            .where(
                (Charge.id == charge.id) & (Charge.status == C.PROCESSING) & (Charge.attempt_no == attempt)
            )
            .returning(Charge.id)
        )
        if not recorded:
            return "already_recorded"
        await audit.charge_event(
            f"charge_{status.value}",
            charge.id,
            charge.client,
            charge.clinician,
            actor=Actor.system(),
            at=now,
            outcome="success" if status == C.SUCCEEDED else "failure",
            detail=f"attempt {attempt} {result.failure_code}".strip(),
        )
        if status != C.SUCCEEDED:
            jobs = await _failure_emails(charge.id, now=now, settings=settings)
    await queue.enqueue_all(jobs)
    return status.value


async def _failure_emails(charge_id: int, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """Tell the client (update your card) and the clinician, through the outbox."""
    view = await _view(await Charge.objects().where(Charge.id == charge_id).first(), now=now)
    context = {
        "view": view,
        "card_url": f"{settings.base_url}/portal/card",
        "appointment_url": f"{settings.base_url}/calendar?appointment={view.appointment.id}",
        "amount": view.amount_text,
    }
    client_id = await queue_email(
        to=view.client.email,
        subject=f"Your payment of {view.amount_text} didn't go through",
        template="charge_failed_client",
        context={**context, "when": view.session_text(view.client_zone)},
        now=now,
    )
    clinician_id = await queue_email(
        to=view.clinician_email,
        subject=f"Charge failed: {view.client.name}, {view.amount_text}",
        template="charge_failed_clinician",
        context={**context, "when": view.session_text(view.clinician_zone)},
        now=now,
    )
    return [email_job(client_id), email_job(clinician_id)]


async def _due_batches(condition, *, now: datetime, size: int) -> AsyncIterator[list[dict]]:
    """Charges matching ``condition`` and due by ``now``, oldest first, at most ``size`` rows a query:
    keyset pages on (due_at, id), each a range scan of the (status, due_at) index from the last row."""
    after: tuple[datetime, int] | None = None
    while True:
        where = condition & (Charge.due_at <= now)
        if after is not None:
            due, last_id = after
            where &= (Charge.due_at >= due) & ((Charge.due_at > due) | (Charge.id > last_id))
        rows = (
            await Charge.select(Charge.id, Charge.generation, Charge.due_at)
            .where(where)
            .order_by(Charge.due_at, Charge.id)
            .limit(size)
        )
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = rows[-1]["due_at"], rows[-1]["id"]


async def _queue_due(
    *, now: datetime, settings: Settings, queue: JobQueue, size: int, until: float, counts: dict[str, int]
) -> list[dict]:
    """Queue the job of every due charge and every released attempt, ``size`` rows at a time, until the
    monotonic time ``until``. Returns the rows whose job a worker has taken although still unclaimed."""
    taken = []
    waiting = (
        Charge.status == C.SCHEDULED,
        (Charge.status == C.PROCESSING) & Charge.claimed_until.is_null(),
    )
    for condition in waiting:
        async for rows in _due_batches(condition, now=now, size=size):
            counts["due"] += len(rows)
            jobs = [charge_job(row["id"], row["generation"], None, settings) for row in rows]
            queued, running = await queue.enqueue_missing(jobs)
            counts["queued"] += queued
            taken += [row for row, job in zip(rows, jobs, strict=True) if job.job_id in running]
            if time.monotonic() >= until:
                return taken
    return taken


async def sweep(
    *,
    now: datetime,
    settings: Settings,
    gateway: PaymentGateway,
    queue: JobQueue,
    batch_size: int = SWEEP_BATCH,
    budget_seconds: float = 40,  # under the cron's minute, so one pass ends before the next begins
    inline_limit: int = SWEEP_INLINE_LIMIT,
) -> dict[str, int]:
    """The safety net behind the jobs (the worker's cron, every minute). Returns counts for the log.

    - An attempt whose runner's lease ran out (the worker died) is resumed here, from the gateway's
      record; so is a due charge whose job a worker took but never claimed. Not as jobs: arq keeps a
      dead worker's job "in progress" for its timeout (130 s), which holds back the same job id; and
      there are few (at most the jobs the workers hold); the claim lets only one runner through.
    - A refund left pending (lost response) is settled here: there is no refund job, and they are few.
    - Every due charge, and every attempt its runner released (gateway unavailable), gets its normal
      charge job (``charge:{id}:{generation}``) queued, ``batch_size`` rows at a time, so every worker
      shares a catch-up (after Redis lost its queue). A job arq already holds (queued, waiting out a
      retry's backoff, running) is left as it is. After ``budget_seconds`` the pass stops queueing; the
      next one carries on.
    """
    started = time.monotonic()
    counts = {"due": 0, "queued": 0, "resumed": 0, "refunds": 0, "unavailable": 0}

    async def run_inline(rows) -> None:
        for row in rows:
            if time.monotonic() - started >= budget_seconds:
                return
            try:
                outcome = await run_charge(
                    row["id"], row["generation"], now=now, settings=settings, gateway=gateway, queue=queue
                )
            except GatewayUnavailable:
                counts["unavailable"] += 1
                continue
            if outcome in {C.SUCCEEDED, C.FAILED, C.REQUIRES_ACTION}:
                counts["resumed"] += 1

    await run_inline(
        await Charge.select(Charge.id, Charge.generation)
        .where((Charge.status == C.PROCESSING) & (Charge.claimed_until <= now))
        .order_by(Charge.claimed_until)
        .limit(inline_limit)
    )
    stale = now - timedelta(seconds=settings.charge_lease)
    pending = (
        await Refund.select(Refund.id)
        .where((Refund.status == "pending") & (Refund.created_at <= stale))
        .order_by(Refund.id)
        .limit(inline_limit)
    )
    for row in pending:
        if await _settle_refund(row["id"], now=now, gateway=gateway) is not None:
            counts["refunds"] += 1
    taken: list[dict] = []
    try:
        taken = await _queue_due(
            now=now,
            settings=settings,
            queue=queue,
            size=batch_size,
            until=started + budget_seconds,
            counts=counts,
        )
    except QueueUnavailable as exc:
        log.warning("charge sweep: could not queue jobs, the next pass will: %s", exc)
    # Still unclaimed although a worker took its job: that worker is (nearly always) dead, and arq
    # would only run the job again after its timeout. The claim decides if it is alive after all.
    await run_inline(taken[:inline_limit])
    return counts


# --- clinician actions: retry, waive, refund --------------------------------------------------------


async def _charge_for_clinician(appointment_id: int, clinician_id: int) -> Charge:
    charge = (
        await Charge.objects()
        .where((Charge.appointment == appointment_id) & (Charge.clinician == clinician_id))
        .first()
    )
    if charge is None:
        raise ChargeNotFound(appointment_id)
    return charge


async def _reschedule_now(
    charge: Charge, *, now: datetime, actor: Actor, settings: Settings
) -> QueuedJob | None:
    """Start a new attempt of a failed charge right away (new card, or "Retry charge")."""
    rows = (
        await Charge.update(
            {
                Charge.status: C.SCHEDULED,
                Charge.generation: Charge.generation + 1,
                Charge.due_at: now,
                Charge.updated_at: now,
            }
        )
        .where(
            (Charge.id == charge.id)
            & Charge.status.is_in(list(rules.RETRYABLE))
            & _still_occurred(charge.appointment)
            & _client_active()
        )
        .returning(Charge.generation)
    )
    if not rows:
        return None
    await audit.charge_event("charge_retry", charge.id, charge.client, charge.clinician, actor=actor, at=now)
    return charge_job(charge.id, rows[0]["generation"], None, settings)


async def retry_charge(
    appointment_id: int,
    *,
    clinician_id: int,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> Charge:
    async with transaction():
        charge = await _charge_for_clinician(appointment_id, clinician_id)
        job = await _reschedule_now(charge, now=now, actor=actor, settings=settings)
        if job is None:
            if await Client.exists().where((Client.id == charge.client) & Client.archived_at.is_not_null()):
                raise ChargeActionRefused(ARCHIVED_CLIENT_OCCURRED)
            raise ChargeActionRefused("Only a failed charge can be retried.")
    await queue.enqueue_all([job])
    return charge


async def retry_failed_for_user(
    user_id: int, *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    """Inside the caller's transaction: retry every failed charge of this client (a new card was saved)."""
    client_ids = [row["id"] for row in await Client.select(Client.id).where(Client.user == user_id)]
    if not client_ids:
        return []
    failed = await Charge.objects().where(
        Charge.client.is_in(client_ids) & Charge.status.is_in(list(rules.RETRYABLE))
    )
    jobs = []
    for charge in failed:
        job = await _reschedule_now(charge, now=now, actor=actor, settings=settings)
        if job:
            jobs.append(job)
    return jobs


async def waive_charge(appointment_id: int, *, clinician_id: int, now: datetime, actor: Actor) -> Charge:
    async with transaction():
        charge = await _charge_for_clinician(appointment_id, clinician_id)
        waived = (
            await Charge.update(
                {
                    Charge.status: C.WAIVED,
                    Charge.waived_by: actor.user_id,
                    Charge.waived_at: now,
                    Charge.updated_at: now,
                }
            )
            .where((Charge.id == charge.id) & Charge.status.is_in(list(rules.WAIVABLE)))
            .returning(Charge.id)
        )
        if not waived:
            raise ChargeActionRefused("This charge can no longer be waived.")
        await audit.charge_event(
            "charge_waived",
            charge.id,
            charge.client,
            charge.clinician,
            actor=actor,
            at=now,
            detail=f"{charge.status}->waived",
        )
    return charge


async def refund_charge(
    appointment_id: int,
    amount_minor: int | None,
    request_id: str,
    *,
    clinician_id: int,
    now: datetime,
    actor: Actor,
    gateway: PaymentGateway,
) -> Refund:
    """Refund part or all of a paid charge; ``request_id`` (from the form) makes a double submit one."""
    key = f"refund:{appointment_id}:{request_id}"
    existing = await Refund.objects().where(Refund.idempotency_key == key).first()
    if existing is None:
        try:
            async with transaction():
                charge = await _charge_for_clinician(appointment_id, clinician_id)
                problem = rules.refund_problem(
                    charge.status, charge.amount_minor, charge.refunded_minor, amount_minor
                )
                if problem:
                    raise ChargeActionRefused(problem)
                reserved = (
                    await Charge.update(
                        {Charge.refunded_minor: Charge.refunded_minor + amount_minor, Charge.updated_at: now}
                    )
                    .where(
                        (Charge.id == charge.id)
                        & Charge.status.is_in(list(rules.REFUNDABLE))
                        & (Charge.refunded_minor == charge.refunded_minor)
                    )
                    .returning(Charge.id)
                )
                if not reserved:
                    raise ChargeActionRefused("The charge changed meanwhile. Reload and try again.")
                await Refund.insert(
                    Refund(
                        charge=charge.id,
                        amount_minor=amount_minor,
                        idempotency_key=key,
                        status="pending",
                        created_at=now,
                        created_by=actor.user_id,
                    )
                )
                await audit.charge_event(
                    "refund_requested",
                    charge.id,
                    charge.client,
                    charge.clinician,
                    actor=actor,
                    at=now,
                    detail=f"{amount_minor}",
                )
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
        existing = await Refund.objects().where(Refund.idempotency_key == key).first()
        if existing is None:  # pragma: no cover - inserted above or by the concurrent twin
            raise ChargeActionRefused("The refund could not be started. Try again.")
    await _settle_refund(existing.id, now=now, gateway=gateway)
    return await Refund.objects().where(Refund.id == existing.id).first()


async def _settle_refund(refund_id: int, *, now: datetime, gateway: PaymentGateway) -> str | None:
    refund = await Refund.objects().where(Refund.id == refund_id).first()
    if refund is None or refund.status != "pending":
        return None
    charge = await Charge.objects().where(Charge.id == refund.charge).first()
    try:
        result = await gateway.refund(
            charge.gateway_reference or "",
            amount_minor=refund.amount_minor,
            idempotency_key=refund.idempotency_key,
        )
        outcome, reference = result.outcome, result.reference
    except GatewayUnavailable:
        return None
    except GatewayRefused:
        outcome, reference = "failed", None
    if outcome == "pending":
        return None
    async with transaction():
        moved = (
            await Refund.update({Refund.status: outcome, Refund.gateway_reference: reference})
            .where((Refund.id == refund.id) & (Refund.status == "pending"))
            .returning(Refund.id)
        )
        if not moved:
            return None
        if outcome == "succeeded":
            fresh = await Charge.objects().where(Charge.id == charge.id).first()
            settled = await Refund.select(Refund.amount_minor).where(
                (Refund.charge == charge.id) & (Refund.status == "succeeded")
            )
            total = sum(row["amount_minor"] for row in settled)
            await Charge.update(
                {Charge.status: rules.status_after_refund(fresh.amount_minor, total), Charge.updated_at: now}
            ).where(Charge.id == charge.id)
        else:
            await Charge.update({Charge.refunded_minor: Charge.refunded_minor - refund.amount_minor}).where(
                Charge.id == charge.id
            )
        await audit.charge_event(
            f"refund_{outcome}",
            charge.id,
            charge.client,
            charge.clinician,
            actor=Actor.system(),
            at=now,
            outcome="success" if outcome == "succeeded" else "failure",
            detail=f"{refund.amount_minor}",
        )
    return outcome


# --- reading: the appointment panel, the portal, receipts ------------------------------------------


@dataclass
class ChargeView:
    """A charge with what screens and emails show about it."""

    charge: Charge
    appointment: Appointment
    client: Client
    clinician_email: str
    clinician_zone: str
    client_zone: str
    practice_name: str
    card: PaymentMethod | None
    refunds: list[Refund] = field(default_factory=list)
    now: datetime | None = None

    @property
    def status(self) -> C:
        return C(self.charge.status)

    @property
    def amount_text(self) -> str:
        from app.domain.practice import format_money

        return format_money(self.charge.amount_minor, self.charge.currency)

    @property
    def countdown(self) -> str:
        if self.status == C.PROCESSING:
            return rules.countdown_text(0)
        return rules.countdown(self.charge.due_at, self.now).text if self.now else ""

    @property
    def refresh_seconds(self) -> int | None:
        """How soon a screen showing this charge should ask again (None: it won't change by itself)."""
        return rules.refresh_seconds(self.charge.status, self.charge.due_at, self.now) if self.now else None

    @property
    def card_text(self) -> str:
        """ "Visa ending 4242": the card this charge was (or will be) paid with."""
        return f"{self.card.brand} ending {self.card.last4}" if self.card else "the card on file"

    @property
    def refundable_minor(self) -> int:
        return rules.refundable_minor(self.charge.amount_minor, self.charge.refunded_minor)

    @property
    def can_waive(self) -> bool:
        return self.status in rules.WAIVABLE

    @property
    def can_retry(self) -> bool:
        return self.status in rules.RETRYABLE

    @property
    def can_refund(self) -> bool:
        return self.status in rules.REFUNDABLE and self.refundable_minor > 0

    @property
    def has_receipt(self) -> bool:
        return self.charge.succeeded_at is not None

    def session_text(self, zone: str) -> str:
        from zoneinfo import ZoneInfo

        return self.appointment.starts_at.astimezone(ZoneInfo(zone or "UTC")).strftime("%a %d %b %Y, %H:%M")


async def _view(charge: Charge, *, now: datetime | None = None) -> ChargeView:
    return (await _views([charge], now=now))[0]


async def _views(charge_rows: list[Charge], *, now: datetime | None = None) -> list[ChargeView]:
    """Screen views of many charges with a fixed number of queries (no query per charge)."""
    if not charge_rows:
        return []

    async def by_id(table, ids) -> dict:
        ids = list({i for i in ids if i is not None})
        return {row.id: row for row in await table.objects().where(table.id.is_in(ids))} if ids else {}

    appointments = await by_id(Appointment, [c.appointment for c in charge_rows])
    clients = await by_id(Client, [c.client for c in charge_rows])
    clinicians = await by_id(Clinician, [c.clinician for c in charge_rows])
    users = await by_id(User, [c.user for c in clients.values()] + [c.user for c in clinicians.values()])
    methods = await by_id(PaymentMethod, [c.payment_method for c in charge_rows])
    current_cards: dict[int, PaymentMethod] = {}
    client_user_ids = [c.user for c in clients.values() if c.user is not None]
    if client_user_ids:
        for method in (
            await PaymentMethod.objects()
            .where(PaymentMethod.user.is_in(client_user_ids) & PaymentMethod.removed_at.is_null())
            .order_by(PaymentMethod.id)
        ):
            current_cards[method.user] = method  # ascending ids: the newest wins
    refunds: dict[int, list[Refund]] = {}
    for refund in (
        await Refund.objects().where(Refund.charge.is_in([c.id for c in charge_rows])).order_by(Refund.id)
    ):
        refunds.setdefault(refund.charge, []).append(refund)
    views = []
    for charge in charge_rows:
        client = clients[charge.client]
        clinician = clinicians[charge.clinician]
        client_user = users.get(client.user) if client.user else None
        views.append(
            ChargeView(
                charge=charge,
                appointment=appointments[charge.appointment],
                client=client,
                clinician_email=users[clinician.user].email,
                clinician_zone=clinician.time_zone,
                client_zone=client_user.time_zone if client_user else clinician.time_zone,
                practice_name=clinician.practice_name,
                card=methods.get(charge.payment_method) or current_cards.get(client.user),
                refunds=refunds.get(charge.id, []),
                now=now,
            )
        )
    return views


async def panel_for_clinician(
    appointment_id: int, *, clinician_id: int, now: datetime
) -> tuple[Appointment, ChargeView | None]:
    """The appointment and its charge (None before it is marked Occurred) for the appointment panel."""
    appointment = (
        await Appointment.objects()
        .where((Appointment.id == appointment_id) & (Appointment.clinician == clinician_id))
        .first()
    )
    if appointment is None:
        raise ChargeNotFound(appointment_id)
    charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
    return appointment, (await _view(charge, now=now) if charge else None)


async def for_client_user(user_id: int, *, now: datetime) -> list[ChargeView]:
    """Every charge of this client (all their practices), newest session first: for the portal."""
    client_ids = [row["id"] for row in await Client.select(Client.id).where(Client.user == user_id)]
    if not client_ids:
        return []
    charges = (
        await Charge.objects().where(Charge.client.is_in(client_ids)).order_by(Charge.due_at, ascending=False)
    )
    return await _views(list(charges), now=now)


async def receipt_for_clinician(charge_id: int, *, clinician_id: int) -> ChargeView:
    charge = (
        await Charge.objects().where((Charge.id == charge_id) & (Charge.clinician == clinician_id)).first()
    )
    if charge is None or charge.succeeded_at is None:
        raise ChargeNotFound(charge_id)
    return await _view(charge)


async def receipt_for_client(charge_id: int, *, user_id: int) -> ChargeView:
    client_ids = [row["id"] for row in await Client.select(Client.id).where(Client.user == user_id)]
    charge = (
        await Charge.objects().where((Charge.id == charge_id) & Charge.client.is_in(client_ids)).first()
        if client_ids
        else None
    )
    if charge is None or charge.succeeded_at is None:
        raise ChargeNotFound(charge_id)
    return await _view(charge)
