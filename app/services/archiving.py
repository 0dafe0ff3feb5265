"""Archiving a client and restoring them: one use case that calls the session and charge services.

Archiving cancels the client's future sessions through the status service (one email tells the client,
with an ``.ics`` that removes them from their calendar), cancels charges not yet collected and kills
open invitation links, after the clinician has confirmed exactly that plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.domain import charges as charge_rules
from app.domain.statuses import AppointmentStatus
from app.models.db import transaction
from app.models.tables import AccountToken, Appointment, Charge, Client
from app.services import appointments, audit, charges
from app.services.clients import own_client
from app.services.context import Actor
from app.services.queue import JobQueue


@dataclass(frozen=True)
class ArchivePlan:
    """Exactly what archiving will do, shown before the clinician confirms."""

    client: Client
    future_sessions: list[Appointment]
    pending_charges: list[Charge]

    @property
    def fingerprint(self) -> str:
        """Changes when the plan changes, so a stale confirmation is shown again instead of applied."""
        return ",".join(str(a.id) for a in self.future_sessions)


async def archive_plan(clinician_id: int, client_id: int, *, now: datetime) -> ArchivePlan:
    client = await own_client(clinician_id, client_id)
    future = (
        await Appointment.objects()
        .where(
            (Appointment.client == client_id)
            & (Appointment.clinician == clinician_id)
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at >= now)
        )
        .order_by(Appointment.starts_at)
    )
    pending = await Charge.objects().where(
        (Charge.client == client_id)
        & (Charge.clinician == clinician_id)
        & Charge.status.is_in(list(charge_rules.CANCELLABLE))
    )
    return ArchivePlan(client, future, pending)


async def archive_client(
    clinician_id: int,
    client_id: int,
    *,
    confirmed_plan: str,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> ArchivePlan | None:
    """Archive after confirmation: cancel future sessions through the status service, cancel charges
    not yet collected, kill open invitation links. Returns the fresh plan instead if it changed meanwhile."""
    async with transaction():
        plan = await archive_plan(clinician_id, client_id, now=now)
        if plan.client.archived_at is not None:
            return None
        if plan.fingerprint != confirmed_plan:
            return plan
        jobs = await appointments.cancel_together(
            client_id, plan.future_sessions, now=now, actor=actor, settings=settings
        )
        await charges.cancel_pending_for_client(client_id, clinician_id=clinician_id, now=now, actor=actor)
        await Client.update({Client.archived_at: now}).where(Client.id == client_id)
        await AccountToken.update({AccountToken.revoked_at: now}).where(
            (AccountToken.client == client_id)
            & (AccountToken.used_at.is_null())
            & (AccountToken.revoked_at.is_null())
        )
        await audit.client_event(
            "client_archived",
            client_id,
            clinician_id,
            actor=actor,
            at=now,
            detail=f"cancelled={len(plan.future_sessions)} charges={len(plan.pending_charges)}",
        )
    await queue.enqueue_all(jobs)
    return None


async def restore_client(clinician_id: int, client_id: int, *, now: datetime, actor: Actor) -> None:
    async with transaction():
        await own_client(clinician_id, client_id)
        await Client.update({Client.archived_at: None}).where(
            (Client.id == client_id) & (Client.clinician == clinician_id)
        )
        await audit.client_event("client_restored", client_id, clinician_id, actor=actor, at=now)
