"""What the charge modules share: the job that wakes a charge up, and the conditions a charge
must still meet when it is collected or scheduled again."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import charges as rules
from app.domain import fees
from app.models.tables import Appointment, Charge, Client, Dispute
from app.services.queue import QueuedJob

CHARGE_JOB = "charge_appointment"
STALE_JOB = "cancel_stale_payment"
JOB_EXPIRY_EXTRA = 7 * 24 * 3600


def charge_job(charge_id: int, generation: int, due: datetime | None, settings: Settings) -> QueuedJob:
    return QueuedJob(
        CHARGE_JOB,
        (charge_id, generation),
        job_id=rules.job_id(charge_id, generation),
        defer_until=due,
        expires_seconds=settings.charge_delay + JOB_EXPIRY_EXTRA,
    )


def client_active():
    """Archived clients are never charged: a charge whose client was archived is cancelled, not collected."""
    return Charge.client.is_in(Client.select(Client.id).where(Client.archived_at.is_null()))


def not_paused():
    """A client with a dispute the practice owner has not resumed charging after is not charged."""
    return Charge.client.not_in(Dispute.select(Dispute.client).where(Dispute.charging_resumed_at.is_null()))


def still_owed(charge: Charge):
    """The appointment is still in the status that owes this kind of charge (Occurred for a session,
    Late cancelled or No-show for a fee); changed since, the charge is not collected."""
    return Charge.appointment.is_in(
        Appointment.select(Appointment.id).where(
            (Appointment.id == charge.appointment) & (Appointment.status == fees.STATUS_BY_KIND[charge.kind])
        )
    )


def stale_payment_job(charge_id: int) -> QueuedJob:
    return QueuedJob(STALE_JOB, (charge_id,), job_id=f"stale-payment:{charge_id}")


async def stale_payment_jobs(condition) -> list[QueuedJob]:
    """The jobs cancelling at the gateway the payments of charges matching ``condition`` that wait for
    the cardholder (read before the caller waives or cancels them)."""
    rows = await Charge.select(Charge.id).where(
        condition & Charge.status.is_in(list(rules.CONFIRMABLE)) & (Charge.gateway_reference != "")
    )
    return [stale_payment_job(row["id"]) for row in rows]
