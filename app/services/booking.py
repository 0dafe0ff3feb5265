"""Online booking (R2, R5): the practice's booking settings, the public page ``/book/<slug>`` and
booking or cancelling from the client portal.

A public booking is one transaction: lock the practice, re-check the slot, find that clinician's client
with the email (or add one, with a login if none), insert the appointment, write the invitation (if
the login has no password yet) and the confirmation with its ``.ics``. Whatever the email, the visitor
sees the same answer, so the page never tells whether an address is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.domain.availability import WorkingRange, cancel_rule
from app.domain.statuses import AppointmentStatus, BillingType
from app.domain.validation import normalize_email
from app.models.db import transaction
from app.models.tables import Appointment, Client, Clinician, WorkingHours
from app.services import audit, fees, notices, practices, sessions
from app.services.appointments import apply_status_change, client_session, insert_appointment, lock_practice
from app.services.availability import PracticeBooking, practice_by, practice_page, still_free
from app.services.client_accounts import invite_if_no_password
from app.services.clients import NewClient, create_client
from app.services.context import Actor
from app.services.queue import JobQueue

TAKEN = "That time was just taken. Here are the times still free."


class SlotTaken(Exception):
    """The chosen start is no longer free (someone else took it, or it was never offered)."""


class BookingClosed(Exception):
    """The practice does not take this booking online."""


# --- Settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingSettings:
    default_session_minutes: int
    default_fee_minor: int
    buffer_minutes: int
    min_notice_hours: int
    horizon_days: int
    booking_enabled: bool
    new_clients_may_book: bool
    intro_session_minutes: int
    intro_fee_minor: int
    cancellation_window_hours: int
    calendar_feed_enabled: bool
    max_fee_minor: int
    reminder_hours: str  # "48, 2": hours before each session a reminder goes (app.domain.reminders)
    video_link: str  # the practice's video room, offered at check-in (app.domain.checkin)
    evening_summary: bool = True  # tomorrow's sessions by email each evening (app.services.summaries)


async def save_settings(
    clinician_id: int, values: BookingSettings, ranges: list[WorkingRange], *, now: datetime, actor: Actor
) -> None:
    """Replace the booking settings and weekly working hours (one transaction)."""
    async with transaction():
        changed = (
            await Clinician.update({getattr(Clinician, k): v for k, v in values.__dict__.items()})
            .where(Clinician.id == clinician_id)
            .returning(Clinician.user)
        )
        for row in changed:
            sessions.person_changed(row["user"])
        await WorkingHours.delete().where(WorkingHours.clinician == clinician_id)
        if ranges:
            await WorkingHours.insert(
                *[
                    WorkingHours(
                        clinician=clinician_id,
                        weekday=r.weekday,
                        start_minute=r.start_minute,
                        end_minute=r.end_minute,
                    )
                    for r in ranges
                ]
            )
        await practices.keep_practice_in_step(clinician_id)
        await audit.practice_event("booking_settings_changed", clinician_id, actor=actor, at=now)


# --- Booking a slot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    name: str
    email: str
    phone: str = ""
    billing_type: str = BillingType.SELF_PAY.value
    fee_version: str = ""  # the fee policy they ticked "I agree" under (R4)


async def _insert_appointment(
    practice: PracticeBooking,
    client_id: int,
    kind: str,
    length_and_fee: tuple[int, int],
    starts_at: datetime,
    *,
    via: str,
    now: datetime,
    actor: Actor,
) -> int:
    """A session booked online: the practice's currency, audited as booked online (``via``)."""
    return await insert_appointment(
        practice.id,
        client_id,
        kind,
        starts_at,
        length_and_fee,
        currency=practice.currency,
        via=via,
        detail=f"online ({via})",
        now=now,
        actor=actor,
    )


def _session_type(practice: PracticeBooking, kind: str, *, new_client: bool) -> tuple[int, int]:
    types = practice.session_types(new_client=new_client)
    if kind not in types:
        raise BookingClosed(kind)
    return types[kind]


async def book_public(
    slug: str,
    kind: str,
    starts_at: datetime,
    visitor: Visitor,
    *,
    clinician_id: int | None = None,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """A visitor books a slot on a public page; returns the appointment id.

    On a practice's page the visitor picks a clinician (``clinician_id``) or the first one free at
    ``starts_at`` (None): each is tried in turn under their own lock, so the one-winner race holds per
    clinician. Raises ``SlotTaken`` when the start is not (or no longer) free with anyone offered and
    ``BookingClosed`` when the page is off or the session type isn't offered. Visitors book as new clients
    (the intro first, if any)."""
    offered = await practice_page(slug)
    if offered and clinician_id is not None:
        offered = [p for p in offered if p.id == clinician_id]
        if not offered:
            raise BookingClosed(slug)
    if not offered:
        practice = await practice_by(slug=slug)
        if practice is None:
            raise BookingClosed(slug)
        offered = [practice]
    acting = {"now": now, "actor": actor, "settings": settings, "queue": queue}
    if len(offered) == 1:
        return await _book_public_with(offered[0], kind, starts_at, visitor, **acting)
    for practice in offered:
        if kind not in practice.session_types(new_client=True):
            continue
        try:
            return await _book_public_with(practice, kind, starts_at, visitor, **acting)
        except SlotTaken:
            continue
    raise SlotTaken(starts_at)


async def _book_public_with(
    practice: PracticeBooking,
    kind: str,
    starts_at: datetime,
    visitor: Visitor,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Book with one clinician: ``SlotTaken`` unless the start is free in their calendar right now."""
    if not practice.booking_enabled or not practice.new_clients_may_book:
        raise BookingClosed(practice.booking_slug)
    session_type = _session_type(practice, kind, new_client=True)
    address = normalize_email(visitor.email)
    async with transaction():
        await lock_practice(practice.id)
        if not await still_free(practice, starts_at, session_type[0], now):
            raise SlotTaken(starts_at)
        existing = (
            await Client.select(Client.id)
            .where(
                (Client.practice == await practices.practice_of_clinician(practice.id))
                & (Client.email == address)
            )
            .first()
        )
        if existing is not None:  # one record per person in a practice, whichever clinician they book
            client_id = existing["id"]
        else:
            data = NewClient(visitor.name, address, visitor.phone, visitor.billing_type)
            client_id, _ = await create_client(
                practice.id, data, invite=False, now=now, actor=actor, settings=settings
            )
        appointment_id = await _insert_appointment(
            practice, client_id, kind, session_type, starts_at, via="public", now=now, actor=actor
        )
        if visitor.fee_version:
            await fees.agree(
                client_id, visitor.fee_version, now=now, address=actor.ip, via="booking", actor=actor
            )
        jobs = await invite_if_no_password(client_id, now=now, actor=actor, settings=settings)
        jobs.append(await notices.sessions_booked(client_id, [appointment_id], now=now, settings=settings))
    await queue.enqueue_all(jobs)
    return appointment_id


async def portal_records(user_id: int) -> list[int]:
    """This login's current client records (one per practice), oldest first."""
    rows = (
        await Client.select(Client.id)
        .where((Client.user == user_id) & Client.archived_at.is_null())
        .order_by(Client.id)
    )
    return [r["id"] for r in rows]


async def portal_practice(user_id: int, client_id: int) -> tuple[PracticeBooking, Client]:
    """The practice behind one of this login's client records (``LookupError`` when not theirs)."""
    client = await Client.objects().where((Client.id == client_id) & (Client.user == user_id)).first()
    if client is None or client.archived_at is not None:
        raise LookupError(client_id)
    practice = await practice_by(clinician_id=client.clinician)
    if practice is None:
        raise LookupError(client_id)
    return practice, client


async def book_from_portal(
    user_id: int,
    client_id: int,
    kind: str,
    starts_at: datetime,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
    fee_version: str | None = None,
) -> int:
    """A signed-in client books one of the offered slots with their practice (same slot logic), agreeing
    to the fee policy of ``fee_version`` when the page asked them to."""
    practice, client = await portal_practice(user_id, client_id)
    if not practice.booking_enabled:
        raise BookingClosed(client_id)
    session_type = _session_type(practice, kind, new_client=False)
    async with transaction():
        await lock_practice(practice.id)
        if not await still_free(practice, starts_at, session_type[0], now):
            raise SlotTaken(starts_at)
        appointment_id = await _insert_appointment(
            practice, client.id, kind, session_type, starts_at, via="portal", now=now, actor=actor
        )
        if fee_version:
            await fees.agree(
                client.id, fee_version, now=now, address=actor.ip, via="portal booking", actor=actor
            )
        job = await notices.sessions_booked(
            client.id, [appointment_id], now=now, settings=settings, by_client=True
        )
    await queue.enqueue_all([job])
    return appointment_id


# --- Cancelling from the portal -------------------------------------------------------------------


class CancelRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def cancel_from_portal(
    user_id: int, appointment_id: int, *, now: datetime, actor: Actor, settings: Settings, queue: JobQueue
) -> Appointment:
    """The client cancels their own upcoming session outside the cancellation window (status service)."""
    async with transaction():
        appointment = await client_session(user_id, appointment_id)
        window = (
            await Clinician.select(Clinician.cancellation_window_hours)
            .where(Clinician.id == appointment.clinician)
            .first()
        )["cancellation_window_hours"]
        if appointment.status != AppointmentStatus.SCHEDULED.value or appointment.starts_at <= now:
            raise CancelRefused("This session can't be cancelled any more.")
        if not cancel_rule(appointment.starts_at, window, now).allowed:
            raise CancelRefused(
                f"Sessions can be cancelled online up to {window} hours before. "
                "Please contact your clinician."
            )
        jobs = await apply_status_change(
            appointment, AppointmentStatus.CANCELLED.value, now=now, actor=actor, settings=settings
        )
    await queue.enqueue_all(jobs)
    return appointment
