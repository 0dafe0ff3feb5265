"""The clinician's actions on a charge: retry, waive, refund (and settling a refund with the gateway)."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import charges as rules
from app.domain import fees as fee_rules
from app.domain.appointments import ARCHIVED_CLIENT_OCCURRED
from app.domain.statuses import ChargeStatus as C
from app.models.db import is_unique_violation, transaction
from app.models.tables import Charge, Client, Refund
from app.payments.base import GatewayRefused, GatewayUnavailable, PaymentGateway
from app.services import audit
from app.services.charges.common import charge_job, client_active, stale_payment_jobs, still_owed
from app.services.context import Actor
from app.services.errors import ChargeActionRefused, ChargeNotFound
from app.services.queue import JobQueue, QueuedJob


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
            & still_owed(charge)
            & client_active()
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


WAIVE_REASON_NEEDED = "Say why you waive this fee (the client and the report see it was waived)."


async def waive_charge(
    appointment_id: int,
    *,
    clinician_id: int,
    now: datetime,
    actor: Actor,
    reason: str = "",
    queue: JobQueue | None = None,
) -> Charge:
    """Waive the appointment's charge; a late-cancel or no-show fee needs a reason (R4). A payment still
    waiting for the client's bank is cancelled at the gateway."""
    async with transaction():
        charge = await _charge_for_clinician(appointment_id, clinician_id)
        if charge.kind in fee_rules.FEE_KINDS and not reason.strip():
            raise ChargeActionRefused(WAIVE_REASON_NEEDED)
        stale = await stale_payment_jobs(Charge.id == charge.id)
        waived = (
            await Charge.update(
                {
                    Charge.status: C.WAIVED,
                    Charge.waived_by: actor.user_id,
                    Charge.waived_at: now,
                    Charge.updated_at: now,
                    Charge.waive_reason: reason.strip(),
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
            detail=f"{charge.kind} {charge.status}->waived" + (", with a reason" if reason.strip() else ""),
        )
    if queue is not None:
        await queue.enqueue_all(stale)
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
    await settle_refund(existing.id, now=now, gateway=gateway)
    return await Refund.objects().where(Refund.id == existing.id).first()


async def settle_refund(refund_id: int, *, now: datetime, gateway: PaymentGateway) -> str | None:
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
