"""Scheduling (inside the status service's transaction): marking a session Occurred creates or
re-activates its charge; changing the status away cancels one that has not reached the gateway."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import charges as rules
from app.domain import fees as fee_rules
from app.domain.statuses import ChargeKind
from app.domain.statuses import ChargeStatus as C
from app.models.tables import Appointment, Charge, Client
from app.services import audit, fees
from app.services.charges.common import charge_job, stale_payment_jobs
from app.services.context import Actor
from app.services.errors import StatusChangeRefused
from app.services.queue import QueuedJob


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
    transaction; returns jobs to enqueue after commit. Occurred owes the session charge, Late cancelled
    and No-show a fee under the agreed policy; leaving one of them cancels what it owed (and cancels at
    the gateway a payment still waiting for the cardholder)."""
    stale: list[QueuedJob] = []
    if fee_rules.kind_for_status(old_status) is not None:
        stale = await _cancel_for_unmarked(appointment.id, now=now, actor=actor)
    kind = fee_rules.kind_for_status(new_status)
    if kind == ChargeKind.SESSION:
        amount = await amount_for(appointment)
    elif kind is not None:
        decision = await fees.decide(appointment, kind)
        if not decision.charged:
            if decision.reason:
                await _no_fee(appointment, decision, now=now, actor=actor)
            return stale
        amount = decision.amount_minor
    else:
        return stale
    return stale + await _schedule(appointment, kind, amount, now=now, actor=actor, settings=settings)


async def _no_fee(appointment: Appointment, decision, *, now: datetime, actor: Actor) -> None:
    """A late cancel or no-show that owes no fee says why in the audit trail."""
    await audit.record(
        "fee_not_charged",
        actor=actor,
        at=now,
        object_type="appointment",
        object_id=appointment.id,
        client_id=appointment.client,
        clinician_id=appointment.clinician,
        detail=decision.reason or "",
    )


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
    appointment: Appointment,
    kind: ChargeKind,
    amount: int,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
) -> list[QueuedJob]:
    appointment_id = appointment.id
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
                kind=kind,
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
                    Charge.kind: kind,
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
        detail=f"{kind.label}, generation {generation}",
    )
    return [charge_job(charge_id, generation, due, settings)]


async def cancel_where(condition, *, now: datetime, actor: Actor, detail: str = "") -> int:
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
    return await cancel_where(
        (Charge.client == client_id) & (Charge.clinician == clinician_id),
        now=now,
        actor=actor,
        detail="archived",
    )


async def _cancel_for_unmarked(appointment_id: int, *, now: datetime, actor: Actor) -> list[QueuedJob]:
    stale = await stale_payment_jobs(Charge.appointment == appointment_id)
    if await cancel_where(Charge.appointment == appointment_id, now=now, actor=actor):
        return stale
    charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
    if charge is not None and charge.status in rules.BLOCKS_UNMARKING:
        raise StatusChangeRefused(
            "This session's charge has been paid or is being processed. "
            "Refund it in full before changing the status."
        )
    return []
