"""Appointments: the one service that changes an appointment's status (R3).

Every status change goes through ``apply_status_change``: it checks the rule, updates the row only if
nobody changed it meanwhile, writes the status history and the audit log, and asks the charging
service what to do — all in the caller's transaction. ``change_status`` is that, as one transaction,
with the resulting jobs enqueued after commit.
"""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain.appointments import transition_problem
from app.models.db import transaction
from app.models.tables import Appointment, StatusChange
from app.services import audit, charges
from app.services.context import Actor
from app.services.queue import JobQueue, QueuedJob


class AppointmentNotFound(Exception):
    """No such appointment for this clinician (answer 404; never reveal another practice's data)."""


class StatusChangeRefused(Exception):
    """The status change breaks a rule; ``message`` is for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def get_for_clinician(appointment_id: int, clinician_id: int) -> Appointment:
    appointment = (
        await Appointment.objects()
        .where((Appointment.id == appointment_id) & (Appointment.clinician == clinician_id))
        .first()
    )
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    return appointment


async def apply_status_change(
    appointment: Appointment, new_status: str, *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    """Change the status inside the caller's transaction; returns jobs to enqueue after commit."""
    old_status = appointment.status
    problem = transition_problem(old_status, new_status, starts_at=appointment.starts_at, now=now)
    if problem:
        raise StatusChangeRefused(problem)
    changed = (
        await Appointment.update({Appointment.status: new_status, Appointment.status_changed_at: now})
        .where((Appointment.id == appointment.id) & (Appointment.status == old_status))
        .returning(Appointment.id)
    )
    if not changed:
        raise StatusChangeRefused("Someone else changed this appointment just now. Reload and try again.")
    await StatusChange.insert(
        StatusChange(
            appointment=appointment.id,
            from_status=old_status,
            to_status=new_status,
            changed_by=actor.user_id,
            changed_at=now,
        )
    )
    await audit.record(
        "appointment_status_changed",
        actor=actor,
        at=now,
        object_type="appointment",
        object_id=appointment.id,
        client_id=appointment.client,
        clinician_id=appointment.clinician,
        detail=f"{old_status}->{new_status}",
    )
    appointment.status = new_status
    appointment.status_changed_at = now
    return await charges.on_status_change(
        appointment.id, old_status, new_status, now=now, actor=actor, settings=settings
    )


async def change_status(
    appointment_id: int,
    new_status: str,
    *,
    clinician_id: int,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> Appointment:
    """Change one appointment's status for its clinician (one transaction), then enqueue follow-ups."""
    async with transaction():
        appointment = await get_for_clinician(appointment_id, clinician_id)
        jobs = await apply_status_change(appointment, new_status, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return appointment
