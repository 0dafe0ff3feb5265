"""The client's honest late cancel (R4): inside the practice's cancellation window the portal
says the exact fee before the client confirms, and offers the clinician's open slots in the same week as a
move without a fee when the practice allows it. Outside the window cancelling stays free (booking.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.domain import fees as rules
from app.domain.availability import cancel_rule
from app.domain.statuses import AppointmentStatus
from app.domain.statuses import ChargeKind as K
from app.models.db import transaction
from app.models.tables import Appointment, Practice
from app.services import fees
from app.services.appointments import apply_status_change, client_session, lock_practice, move_appointment
from app.services.availability import open_slots, practice_by, still_free
from app.services.context import Actor
from app.services.errors import StatusChangeRefused
from app.services.queue import JobQueue


@dataclass(frozen=True)
class LateCancel:
    """What the cancel screen shows for one of the client's sessions inside the window."""

    appointment: Appointment
    practice: Practice
    notice: str
    fee_minor: int
    free_moves: list[datetime]


async def late_cancellable(appointment: Appointment, now: datetime) -> Practice | None:
    """The practice when the client may late-cancel this session online: Scheduled, not started, inside
    the window, and the practice has a fee policy (without one, the client contacts the practice)."""
    practice = await fees.practice_of(appointment)
    if practice is None or fees.current_text(practice) is None:
        return None
    if appointment.status != AppointmentStatus.SCHEDULED.value or appointment.starts_at <= now:
        return None
    if cancel_rule(appointment.starts_at, practice.cancellation_window_hours, now).allowed:
        return None
    return practice


async def free_moves(appointment: Appointment, practice: Practice, now: datetime) -> list[datetime]:
    """The clinician's open starts in the session's week, offered instead of the fee when allowed."""
    booking = await practice_by(clinician_id=appointment.clinician)
    if not practice.fee_free_reschedule or booking is None:
        return []
    slots = await open_slots(booking, appointment.duration_minutes, now)
    return rules.few_per_day(rules.same_week_slots(slots, appointment.starts_at, now), practice.time_zone)


async def preview(user_id: int, appointment_id: int, *, now: datetime) -> LateCancel:
    """The portal's cancel screen; ``LookupError`` when the session isn't theirs or can't be
    late-cancelled online."""
    return await preview_of(await client_session(user_id, appointment_id), now=now)


async def preview_of(appointment: Appointment, *, now: datetime) -> LateCancel:
    """The cancel screen (portal or reminder link): the exact fee (or why none) and the free moves;
    ``LookupError`` when the session can't be late-cancelled online."""
    practice = await late_cancellable(appointment, now)
    if practice is None:
        raise LookupError(appointment.id)
    decision = await fees.decide(appointment, K.LATE_CANCEL_FEE)
    notice = rules.cancel_notice(decision, practice.currency)
    if decision.reason and not decision.charged:
        notice = f"{notice} {decision.reason}"
    moves = await free_moves(appointment, practice, now)
    return LateCancel(appointment, practice, notice, decision.amount_minor, moves)


async def late_cancel(
    user_id: int, appointment_id: int, *, now: datetime, actor: Actor, settings: Settings, queue: JobQueue
) -> Appointment:
    """The client confirmed in the portal: the session is Late cancelled and its fee (if any) scheduled."""
    async with transaction():
        appointment = await client_session(user_id, appointment_id)
        jobs = await late_cancel_jobs(appointment, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return appointment


async def late_cancel_jobs(
    appointment: Appointment, *, now: datetime, actor: Actor, settings: Settings
) -> list:
    """Marks the session Late cancelled (inside the caller's transaction); the fee rides the charge."""
    if await late_cancellable(appointment, now) is None:
        raise StatusChangeRefused("This session can't be cancelled online any more.")
    return await apply_status_change(
        appointment,
        AppointmentStatus.LATE_CANCELLED.value,
        now=now,
        actor=actor,
        settings=settings,
        client_late_cancel=True,
    )


async def move_free(
    user_id: int,
    appointment_id: int,
    starts_at: datetime | None,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> Appointment:
    """The client takes one of the offered same-week slots in the portal instead of cancelling: no fee."""
    async with transaction():
        appointment = await client_session(user_id, appointment_id)
        jobs = await move_free_jobs(appointment, starts_at, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return appointment


async def move_free_jobs(
    appointment: Appointment, starts_at: datetime | None, *, now: datetime, actor: Actor, settings: Settings
) -> list:
    """Moves the session to an offered same-week slot (inside the caller's transaction, under the
    practice's lock), with no fee."""
    practice = await late_cancellable(appointment, now)
    if practice is None or not practice.fee_free_reschedule:
        raise StatusChangeRefused("This session can't be moved online any more.")
    await lock_practice(appointment.clinician)
    booking = await practice_by(clinician_id=appointment.clinician)
    if starts_at is None:
        raise StatusChangeRefused("Choose one of the times offered.")
    if starts_at not in await free_moves(appointment, practice, now) or not await still_free(
        booking, starts_at, appointment.duration_minutes, now
    ):
        raise StatusChangeRefused("That time was just taken. Here are the times still open.")
    return await move_appointment(
        appointment, starts_at, appointment.duration_minutes, now=now, actor=actor, settings=settings
    )
