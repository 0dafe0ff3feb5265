"""Disputes (``charge.dispute.created`` / ``closed``): a cardholder disputes a paid charge with their bank.

The webhook job records the gateway's current answer (never the event's snapshot), once per dispute and
only moving forward; the first time a dispute is seen the practice owner is emailed and the client's
automatic charging pauses (``charges.common.not_paused``) until the owner taps "Resume charging"
(audited).
"""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import disputes as rules
from app.domain.members import Ability, MemberRole
from app.domain.practice import format_money
from app.models.db import is_unique_violation, transaction
from app.models.tables import Charge, Clinician, Dispute, Membership
from app.payments.base import DisputeInfo, PaymentGateway
from app.services import audit, practices
from app.services.charges.views import view_of
from app.services.context import Actor, CurrentUser
from app.services.email import queue_email
from app.services.errors import ChargeNotFound
from app.services.queue import JobQueue, email_job


async def record_dispute(
    reference: str, *, now: datetime, settings: Settings, gateway: PaymentGateway, queue: JobQueue
) -> str:
    """Record the gateway's current state of a dispute (safe to repeat, in any order); what happened."""
    info = await gateway.get_dispute(reference)
    charge = await Charge.objects().where(Charge.gateway_reference == info.payment_reference).first()
    if charge is None:
        return "dispute of an unknown payment"
    existing = await Dispute.objects().where(Dispute.gateway_reference == info.reference).first()
    if existing is not None:
        return await _update(existing, info, now=now)
    try:
        async with transaction():
            await Dispute.insert(_new_dispute(charge, info, now=now))
            await audit.charge_event(
                "charge_disputed",
                charge.id,
                charge.client,
                charge.clinician,
                actor=Actor.system(),
                at=now,
                detail=f"{info.reason} {info.status}"[:100],
            )
            email_id = await _tell_owner(charge, info, now=now, settings=settings)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        return "dispute already recorded"
    await queue.enqueue_all([email_job(email_id)])
    return f"dispute {info.status}"


def _new_dispute(charge: Charge, info: DisputeInfo, *, now: datetime) -> Dispute:
    return Dispute(
        charge=charge.id,
        client=charge.client,
        gateway_reference=info.reference[:120],
        amount_minor=info.amount_minor,
        currency=info.currency[:3],
        reason=info.reason[:64],
        status=info.status[:32],
        respond_by=info.respond_by,
        opened_at=now,
        updated_at=now,
    )


async def _update(existing: Dispute, info: DisputeInfo, *, now: datetime) -> str:
    if not rules.moves_forward(existing.status, info.status):
        return f"dispute already {existing.status}"
    await Dispute.update(
        {
            Dispute.status: info.status[:32],
            Dispute.amount_minor: info.amount_minor,
            Dispute.respond_by: info.respond_by,
            Dispute.updated_at: now,
        }
    ).where((Dispute.id == existing.id) & (Dispute.status == existing.status))
    return f"dispute {info.status}"


async def _owner_email(clinician_id: int) -> str:
    """The practice owner's address (the clinician's own when the practice has no owner on record)."""
    practice = await Clinician.select(Clinician.practice).where(Clinician.id == clinician_id).first()
    owner = (
        await Membership.select(Membership.user.email.as_alias("email"))
        .where(
            (Membership.practice == practice["practice"])
            & (Membership.role == MemberRole.OWNER.value)
            & Membership.removed_at.is_null()
        )
        .first()
        if practice and practice["practice"]
        else None
    )
    if owner:
        return owner["email"]
    row = (
        await Clinician.select(Clinician.user.email.as_alias("email"))
        .where(Clinician.id == clinician_id)
        .first()
    )
    return row["email"] if row else ""


async def _tell_owner(charge: Charge, info: DisputeInfo, *, now: datetime, settings: Settings) -> int:
    view = await view_of(charge, now=now)
    amount = format_money(info.amount_minor, info.currency)
    return await queue_email(
        to=await _owner_email(charge.clinician),
        subject=f"Payment disputed: {view.client.name}, {amount}",
        template="charge_disputed",
        context={
            "view": view,
            "amount": amount,
            "reason": rules.reason_text(info.reason),
            "respond_by": info.respond_by.strftime("%d %b %Y") if info.respond_by else "",
            "when": view.session_text(view.clinician_zone),
            "appointment_url": f"{settings.base_url}/calendar?appointment={view.appointment.id}",
        },
        now=now,
        settings=settings,
    )


async def resume_charging(appointment_id: int, *, member: CurrentUser, now: datetime, actor: Actor) -> int:
    """The owner resumes automatic charging for the client of this appointment's disputed charge."""
    charge = (
        await Charge.objects()
        .where((Charge.appointment == appointment_id) & (Charge.clinician == member.clinician_id))
        .first()
    )
    if charge is None:
        raise ChargeNotFound(appointment_id)
    practices.require(member, Ability.CHANGE_PRACTICE_SETTINGS)
    async with transaction():
        resumed = (
            await Dispute.update({Dispute.charging_resumed_at: now, Dispute.charging_resumed_by: member.id})
            .where((Dispute.client == charge.client) & Dispute.charging_resumed_at.is_null())
            .returning(Dispute.id)
        )
        if resumed:
            await audit.charge_event(
                "charging_resumed",
                charge.id,
                charge.client,
                charge.clinician,
                actor=actor,
                at=now,
                detail=f"after {len(resumed)} dispute(s)",
            )
    return len(resumed)
