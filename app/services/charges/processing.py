"""Processing: the charge job (claim, attempt, record) and the sweep that is the safety net behind it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from app.config import Settings
from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import Charge, Client, PaymentMethod, Refund
from app.payments.base import GatewayRefused, GatewayUnavailable, PaymentGateway, PaymentResult
from app.services import audit, superbills
from app.services.charges.actions import settle_refund
from app.services.charges.common import charge_job, client_active, not_paused, still_owed
from app.services.charges.scheduling import cancel_where
from app.services.charges.views import view_of
from app.services.context import Actor
from app.services.email import practice_address, queue_email
from app.services.queue import JobQueue, QueuedJob, QueueUnavailable, email_job

log = logging.getLogger("app.services.charges")
SWEEP_BATCH = 1000  # rows a sweep reads per query, and jobs it queues per Redis round trip
SWEEP_INLINE_LIMIT = 100  # attempts resumed, refunds settled, in the sweep's own process per pass


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
            & still_owed(charge)
            & client_active()
            & not_paused()
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
            await cancel_where(
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
        if status == C.SUCCEEDED:
            jobs = [superbills.after_charge_job(charge.id)]
        else:
            jobs = await _failure_emails(charge.id, now=now, settings=settings)
    await queue.enqueue_all(jobs)
    return status.value


async def settle_from_gateway(
    reference: str, *, now: datetime, settings: Settings, gateway: PaymentGateway, queue: JobQueue
) -> str:
    """The gateway says a payment changed (a webhook, or the cardholder back from their bank): record
    the gateway's own current answer for the charge with that reference. Only an attempt in processing
    records any outcome, and one waiting for the cardholder only its success, so a late, repeated or
    reordered notice never takes a charge back; raises ``GatewayUnavailable``."""
    waiting = {C.PROCESSING, *rules.CONFIRMABLE}
    charge = (
        await Charge.objects()
        .where((Charge.gateway_reference == reference) & Charge.status.is_in(list(waiting)))
        .first()
    )
    if charge is None:
        return "nothing_to_do"
    result = await gateway.get_payment(reference)
    if charge.status == C.PROCESSING and result.outcome != "pending":
        return await _record(charge, charge.attempt_no, result, now=now, settings=settings, queue=queue)
    if charge.status in rules.CONFIRMABLE and result.outcome == "succeeded":
        return await _record_confirmed(charge, now=now)
    return "pending"


async def _record_confirmed(charge: Charge, *, now: datetime) -> str:
    """The cardholder confirmed the payment with their bank and the gateway took it: paid."""
    async with transaction():
        moved = (
            await Charge.update(
                {
                    Charge.status: C.SUCCEEDED,
                    Charge.succeeded_at: now,
                    Charge.failure_code: "",
                    Charge.failure_message: "",
                    Charge.updated_at: now,
                }
            )
            .where(
                (Charge.id == charge.id)
                & Charge.status.is_in(list(rules.CONFIRMABLE))
                & (Charge.gateway_reference == charge.gateway_reference)
            )
            .returning(Charge.id)
        )
        if not moved:
            return "already_recorded"
        await audit.charge_event(
            "charge_succeeded",
            charge.id,
            charge.client,
            charge.clinician,
            actor=Actor.system(),
            at=now,
            detail=f"attempt {charge.attempt_no} confirmed by the cardholder",
        )
    return C.SUCCEEDED.value


async def settle_refunds_of(reference: str, *, now: datetime, gateway: PaymentGateway) -> int:
    """The gateway says a payment was refunded: settle our refunds of it still pending. Returns how many."""
    pending = await Refund.select(Refund.id).where(
        (Refund.status == "pending")
        & Refund.charge.is_in(Charge.select(Charge.id).where(Charge.gateway_reference == reference))
    )
    settled = [await settle_refund(row["id"], now=now, gateway=gateway) for row in pending]
    return sum(1 for outcome in settled if outcome is not None)


async def _failure_emails(charge_id: int, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """Tell the client (update your card) and the clinician, through the outbox."""
    view = await view_of(await Charge.objects().where(Charge.id == charge_id).first(), now=now)
    context = {
        "view": view,
        "card_url": f"{settings.base_url}/portal/card",
        "appointment_url": f"{settings.base_url}/calendar?appointment={view.appointment.id}",
        "amount": view.amount_text,
    }
    if view.charge.status in rules.CONFIRMABLE:
        client_id = await confirmation_email(view, now=now, settings=settings)
    else:
        client_id = await queue_email(
            to=view.client.email,
            subject=f"Your payment of {view.amount_text} didn't go through",
            template="charge_failed_client",
            context={**context, "when": view.session_text(view.client_zone)},
            now=now,
            settings=settings,
            reply_to=await practice_address(view.charge.clinician),
        )
    clinician_id = await queue_email(
        to=view.clinician_email,
        subject=f"Charge failed: {view.client.name}, {view.amount_text}",
        template="charge_failed_clinician",
        context={**context, "when": view.session_text(view.clinician_zone)},
        now=now,
        settings=settings,
    )
    return [email_job(client_id), email_job(clinician_id)]


async def confirmation_email(view, *, now: datetime, settings: Settings, reminder: bool = False) -> int:
    """Ask the client to confirm a payment with their bank, with the link to the page that does it."""
    subject = f"Please confirm your payment of {view.amount_text} with your bank"
    return await queue_email(
        to=view.client.email,
        subject=f"Reminder: {subject[0].lower()}{subject[1:]}" if reminder else subject,
        template="charge_needs_confirmation",
        context={
            "view": view,
            "amount": view.amount_text,
            "when": view.session_text(view.client_zone),
            "confirm_url": f"{settings.base_url}/portal/charges/{view.charge.id}/confirm",
            "reminder": reminder,
        },
        now=now,
        settings=settings,
        reply_to=await practice_address(view.charge.clinician),
    )


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
        (Charge.status == C.SCHEDULED) & not_paused(),
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
        if await settle_refund(row["id"], now=now, gateway=gateway) is not None:
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
