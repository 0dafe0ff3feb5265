"""The one-tap link in a reminder: the client confirms or cancels a session without signing in.

The address is ``/s/<appointment id>/<token>``; the token is an HMAC (the app's secret) of the session
and the start time it was sent for, so it can't be guessed and dies when the session moves. Opening the
link changes nothing (mail scanners open links); the page's buttons do. Cancelling goes through the
status service under the practice's cancellation window, as in the portal; outside it the client may
also move the session to one of the practice's open times that week (the public booking's slots).
On the day, from 30 minutes before, the client checks in here ("I'm here", or "Join" the practice's
video link, shown only then; ``app.domain.checkin``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain.availability import CancelRule, cancel_rule
from app.domain.checkin import check_in_open
from app.domain.statuses import AppointmentStatus
from app.models.db import transaction
from app.models.tables import Appointment
from app.services import audit, late_cancel
from app.services.appointments import apply_status_change, lock_practice, move_appointment
from app.services.availability import open_slots, practice_by, still_free
from app.services.context import Actor
from app.services.errors import AppointmentNotFound, StatusChangeRefused
from app.services.queue import JobQueue


def _token(settings: Settings, appointment_id: int, starts_at: datetime) -> str:
    message = f"session-link:{appointment_id}:{starts_at.timestamp():.0f}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def link(settings: Settings, appointment_id: int, starts_at: datetime) -> str:
    return f"{settings.base_url}/s/{appointment_id}/{_token(settings, appointment_id, starts_at)}"


@dataclass(frozen=True)
class SessionLink:
    """What the link's page shows: the session as it is now and what the client may do."""

    appointment_id: int
    token: str
    starts_at: datetime
    ends_at: datetime
    status: str
    confirmed_at: datetime | None
    practice_name: str
    contact_email: str
    zone: str
    cancel: CancelRule
    user_id: int | None
    upcoming: bool
    clinician_id: int
    minutes: int
    checked_in_at: datetime | None
    check_in_open: bool
    video_link: str  # the practice's video room, only while check-in is open

    @property
    def can_check_in(self) -> bool:
        return self.scheduled and self.check_in_open and self.checked_in_at is None

    @property
    def scheduled(self) -> bool:
        return self.status == AppointmentStatus.SCHEDULED.value

    @property
    def can_act(self) -> bool:
        return self.scheduled and self.upcoming


async def open_link(appointment_id: int, token: str, *, settings: Settings, now: datetime) -> SessionLink:
    """The session behind a link; ``AppointmentNotFound`` for a wrong or outdated token."""
    row = (
        await Appointment.select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.confirmed_at,
            Appointment.checked_in_at,
            Appointment.duration_minutes,
            Appointment.clinician.id.as_alias("clinician_id"),
            Appointment.client.user.as_alias("user_id"),
            Appointment.client.user.time_zone.as_alias("client_zone"),
            Appointment.clinician.time_zone.as_alias("practice_zone"),
            Appointment.clinician.practice_name.as_alias("practice_name"),
            Appointment.clinician.insurance_email.as_alias("insurance_email"),
            Appointment.clinician.user.email.as_alias("clinician_email"),
            Appointment.clinician.cancellation_window_hours.as_alias("window"),
            Appointment.clinician.video_link.as_alias("video_link"),
        )
        .where(Appointment.id == appointment_id)
        .first()
    )
    expected = _token(settings, appointment_id, row["starts_at"]) if row else ""
    if row is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise AppointmentNotFound(appointment_id)
    open_now = check_in_open(row["starts_at"], row["ends_at"], now)
    return SessionLink(
        appointment_id=row["id"],
        token=token,
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        status=row["status"],
        confirmed_at=row["confirmed_at"],
        practice_name=row["practice_name"],
        contact_email=row["insurance_email"] or row["clinician_email"],
        zone=row["client_zone"] or row["practice_zone"] or "UTC",
        cancel=cancel_rule(row["starts_at"], row["window"], now),
        user_id=row["user_id"],
        upcoming=now < row["starts_at"],
        clinician_id=row["clinician_id"],
        minutes=row["duration_minutes"],
        checked_in_at=row["checked_in_at"],
        check_in_open=open_now,
        video_link=row["video_link"] if open_now else "",
    )


def _client(page: SessionLink, actor: Actor) -> Actor:
    return Actor(user_id=page.user_id, role="client", ip=actor.ip, user_agent=actor.user_agent)


async def confirm(
    appointment_id: int, token: str, *, settings: Settings, now: datetime, actor: Actor
) -> SessionLink:
    """The client says they'll come (once; a second tap changes nothing)."""
    async with transaction():
        page = await open_link(appointment_id, token, settings=settings, now=now)
        if not page.can_act:
            raise StatusChangeRefused("This session can't be confirmed any more.")
        confirmed = (
            await Appointment.update({Appointment.confirmed_at: now})
            .where(
                (Appointment.id == appointment_id)
                & (Appointment.starts_at == page.starts_at)
                & (Appointment.status == AppointmentStatus.SCHEDULED.value)
                & Appointment.confirmed_at.is_null()
            )
            .returning(Appointment.id)
        )
        if confirmed:
            row = (
                await Appointment.select(Appointment.client, Appointment.clinician)
                .where(Appointment.id == appointment_id)
                .first()
            )
            await audit.appointment_event(
                "appointment_confirmed",
                appointment_id,
                row["client"],
                row["clinician"],
                actor=_client(page, actor),
                at=now,
            )
    return await open_link(appointment_id, token, settings=settings, now=now)


async def check_in(
    appointment_id: int, token: str, *, settings: Settings, now: datetime, actor: Actor
) -> SessionLink:
    """The client is here (or joining by video): recorded once, from 30 minutes before until the end."""
    async with transaction():
        page = await open_link(appointment_id, token, settings=settings, now=now)
        if not page.scheduled or not page.check_in_open:
            raise StatusChangeRefused("Check-in opens 30 minutes before the session and closes at its end.")
        checked_in = (
            await Appointment.update({Appointment.checked_in_at: now})
            .where(
                (Appointment.id == appointment_id)
                & (Appointment.starts_at == page.starts_at)
                & (Appointment.status == AppointmentStatus.SCHEDULED.value)
                & Appointment.checked_in_at.is_null()
            )
            .returning(Appointment.client, Appointment.clinician)
        )
        if checked_in:
            await audit.appointment_event(
                "appointment_checked_in",
                appointment_id,
                checked_in[0]["client"],
                checked_in[0]["clinician"],
                actor=_client(page, actor),
                at=now,
            )
    return await open_link(appointment_id, token, settings=settings, now=now)


async def check_in_from_portal(
    user_id: int, appointment_id: int, *, settings: Settings, now: datetime, actor: Actor
) -> SessionLink:
    """The same check-in from the client's portal, for a session of one of their own client records
    (``AppointmentNotFound`` for anyone else's)."""
    row = (
        await Appointment.select(Appointment.starts_at)
        .where((Appointment.id == appointment_id) & (Appointment.client.user == user_id))
        .first()
    )
    if row is None:
        raise AppointmentNotFound(appointment_id)
    token = _token(settings, appointment_id, row["starts_at"])
    return await check_in(appointment_id, token, settings=settings, now=now, actor=actor)


async def late_offer(page: SessionLink, *, now: datetime) -> late_cancel.LateCancel | None:
    """Inside the window, the portal's late-cancel screen for this session (the exact fee, or why none,
    and the free same-week moves); None outside it or when the practice has no fee policy."""
    if not page.can_act or page.cancel.allowed:
        return None
    appointment = await Appointment.objects().where(Appointment.id == page.appointment_id).first()
    try:
        return await late_cancel.preview_of(appointment, now=now)
    except LookupError:
        return None


def _contact(page: SessionLink, verb: str) -> StatusChangeRefused:
    return StatusChangeRefused(
        f"Sessions can be {verb} online up to {page.cancel.window_hours} hours before. "
        f"Please contact {page.practice_name} at {page.contact_email}."
    )


async def cancel(
    appointment_id: int, token: str, *, settings: Settings, now: datetime, actor: Actor, queue: JobQueue
) -> SessionLink:
    """The client cancels (status service: history, audit, email): free outside the cancellation window;
    inside it, when the practice has a fee policy, a late cancel as in the portal (R4)."""
    async with transaction():
        page = await open_link(appointment_id, token, settings=settings, now=now)
        if not page.can_act:
            raise StatusChangeRefused("This session can't be cancelled any more.")
        appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
        client = _client(page, actor)
        if page.cancel.allowed:
            jobs = await apply_status_change(
                appointment, AppointmentStatus.CANCELLED.value, now=now, actor=client, settings=settings
            )
        elif await late_cancel.late_cancellable(appointment, now) is not None:
            jobs = await late_cancel.late_cancel_jobs(appointment, now=now, actor=client, settings=settings)
        else:
            raise _contact(page, "cancelled")
    await queue.enqueue_all(jobs)
    return await open_link(appointment_id, token, settings=settings, now=now)


async def open_times(page: SessionLink, *, now: datetime) -> list[datetime]:
    """The practice's open starts (UTC) for this session's length in the session's week (Monday to
    Sunday, the client's zone); none inside the cancellation window."""
    if not (page.can_act and page.cancel.allowed):
        return []
    practice = await practice_by(clinician_id=page.clinician_id)
    if practice is None:
        return []
    zone = ZoneInfo(page.zone)
    monday = page.starts_at.astimezone(zone).date() - timedelta(
        days=page.starts_at.astimezone(zone).weekday()
    )
    week = {monday + timedelta(days=n) for n in range(7)}
    slots = await open_slots(practice, page.minutes, now)
    return [slot for slot in slots if slot.astimezone(zone).date() in week and slot != page.starts_at]


async def move(
    appointment_id: int,
    token: str,
    starts_at: datetime,
    *,
    settings: Settings,
    now: datetime,
    actor: Actor,
    queue: JobQueue,
) -> str:
    """The client moves the session to an open time (re-checked under the practice's lock): outside the
    cancellation window any open time that week; inside it one of the late-cancel screen's free moves.
    Returns the link for the new time (this one dies with the old time)."""
    async with transaction():
        page = await open_link(appointment_id, token, settings=settings, now=now)
        appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
        if not page.can_act or not (
            page.cancel.allowed or await late_cancel.late_cancellable(appointment, now)
        ):
            raise _contact(page, "moved")
        if not page.cancel.allowed:
            jobs = await late_cancel.move_free_jobs(
                appointment, starts_at, now=now, actor=_client(page, actor), settings=settings
            )
        else:
            await lock_practice(page.clinician_id)
            practice = await practice_by(clinician_id=page.clinician_id)
            if practice is None or not await still_free(practice, starts_at, page.minutes, now):
                raise StatusChangeRefused("That time was just taken. Here are the times still open.")
            jobs = await move_appointment(
                appointment, starts_at, page.minutes, now=now, actor=_client(page, actor), settings=settings
            )
    await queue.enqueue_all(jobs)
    return link(settings, appointment_id, starts_at)
