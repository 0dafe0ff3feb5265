"""Appointments: the calendar's data, booking and rescheduling, and the one status service (R3).

Every status change goes through ``apply_status_change``: it checks the rule, updates the row only if
nobody changed it meanwhile, writes the status history and the audit log, and asks the charging
service what to do — all in the caller's transaction. ``change_status`` is that, as one transaction,
with the resulting jobs enqueued after commit.

Reads for the calendar cost a constant number of queries whatever the number of appointments: one
for the clinician, one for the visible range (client names joined), one for the "needs a status" count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain.appointments import (
    KINDS,
    OCCUPIES_SLOT,
    Notice,
    clash_message,
    client_late_cancel_problem,
    status_notice,
    transition_problem,
)
from app.domain.calendar import (
    MAX_SESSION_MINUTES,
    View,
    VisibleRange,
    booking_window_problem,
    parse_day,
    visible_range,
)
from app.domain.checkin import NO_SHOW_AFTER, awaiting_check_ins, no_show_suggested
from app.domain.members import Ability
from app.domain.statuses import AppointmentStatus
from app.domain.validation import FieldProblem
from app.models.db import engine, transaction
from app.models.tables import Appointment, Client, Clinician, StatusChange
from app.models.tables import Practice as PracticeTable
from app.services import audit, charges, notices, practices
from app.services.availability import overlapping
from app.services.client_accounts import invite_if_no_password
from app.services.clients import NewClient, create_client
from app.services.context import Actor, CurrentUser
from app.services.errors import AppointmentNotFound, ClientError, StatusChangeRefused
from app.services.queue import JobQueue, QueuedJob


async def get_for_clinician(appointment_id: int, clinician_id: int) -> Appointment:
    appointment = (
        await Appointment.objects()
        .where((Appointment.id == appointment_id) & (Appointment.clinician == clinician_id))
        .first()
    )
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    return appointment


async def _client_archived(client_id: int) -> bool:
    return await Client.exists().where((Client.id == client_id) & Client.archived_at.is_not_null())


async def apply_status_change(
    appointment: Appointment,
    new_status: str,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    tell_client: bool = True,
    client_late_cancel: bool = False,
) -> list[QueuedJob]:
    """Change the status inside the caller's transaction; returns jobs to enqueue after commit.

    The client is emailed when the session is called off or back on (``tell_client=False``: the caller
    changes several and writes one email for all of them with ``notices.sessions_changed``).
    ``client_late_cancel``: the client cancels inside the window, before the start (R4)."""
    old_status = appointment.status
    client_archived = new_status == AppointmentStatus.OCCURRED and await _client_archived(appointment.client)
    problem = (
        client_late_cancel_problem(old_status, starts_at=appointment.starts_at, now=now)
        if client_late_cancel
        else transition_problem(
            old_status, new_status, starts_at=appointment.starts_at, now=now, client_archived=client_archived
        )
    )
    if problem:
        raise StatusChangeRefused(problem)
    changed = (
        await Appointment.update(
            {
                Appointment.status: new_status,
                Appointment.status_changed_at: now,
                Appointment.sequence: Appointment.sequence + 1,
            }
        )
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
    await audit.appointment_event(
        "appointment_status_changed",
        appointment.id,
        appointment.client,
        appointment.clinician,
        actor=actor,
        at=now,
        detail=f"{old_status}->{new_status}",
    )
    appointment.status = new_status
    appointment.status_changed_at = now
    jobs = await charges.on_status_change(
        appointment, old_status, new_status, now=now, actor=actor, settings=settings
    )
    notice = status_notice(old_status, new_status)
    if notice and tell_client:
        jobs += await notices.sessions_changed(
            appointment.client, [appointment.id], notice, now=now, settings=settings
        )
    return jobs


async def client_session(user_id: int, appointment_id: int) -> Appointment:
    """The client's own session (by their login) (``LookupError`` for anyone else's)."""
    appointment = (
        await Appointment.objects()
        .where(
            (Appointment.id == appointment_id)
            & Appointment.client.is_in(Client.select(Client.id).where(Client.user == user_id))
        )
        .first()
    )
    if appointment is None:
        raise LookupError(appointment_id)
    return appointment


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


# --- Reading the calendar -------------------------------------------------------------------------

CALENDAR_COLUMNS = (
    Appointment.id,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.duration_minutes,
    Appointment.status,
    Appointment.kind,
    Appointment.fee_minor,
    Appointment.currency,
    Appointment.checked_in_at,
    Appointment.client.id.as_alias("client_id"),
    Appointment.client.name.as_alias("client_name"),
)


@dataclass
class Practice:
    """The clinician settings the calendar and booking need."""

    id: int
    time_zone: str
    currency: str
    default_fee_minor: int
    default_session_minutes: int
    intro_fee_minor: int
    intro_session_minutes: int
    max_fee_minor: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone or "UTC")

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def defaults_for(self, kind: str) -> tuple[int, int]:
        """(minutes, fee) for a new session of ``kind``."""
        if kind == "intro":
            return self.intro_session_minutes, self.intro_fee_minor
        return self.default_session_minutes, self.default_fee_minor


async def practice_of(clinician_id: int) -> Practice:
    row = (
        await Clinician.select(
            Clinician.id,
            Clinician.time_zone,
            Clinician.currency,
            Clinician.default_fee_minor,
            Clinician.default_session_minutes,
            Clinician.intro_fee_minor,
            Clinician.intro_session_minutes,
            Clinician.max_fee_minor,
        )
        .where(Clinician.id == clinician_id)
        .first()
    )
    if row is None:
        raise AppointmentNotFound(clinician_id)
    return Practice(**row)


@dataclass
class CalendarData:
    practice: Practice
    range: VisibleRange
    appointments: list[dict[str, Any]]
    needs_status_count: int
    today: date
    message: str | None = None
    awaiting_check_in: bool = False  # a session shown may be checked in soon: the page keeps asking


async def calendar(clinician_id: int, view: View, day_text: str | None, *, now: datetime) -> CalendarData:
    """The appointments of one calendar page (only the visible range), in three queries."""
    practice = await practice_of(clinician_id)
    today = practice.today(now)
    anchor, message = parse_day(day_text, today=today)
    shown = visible_range(view, anchor, practice.zone)
    appointments = await appointments_between(clinician_id, shown.starts_at, shown.ends_at)
    count = await needs_status_count(clinician_id, now=now)
    waiting = awaiting_check_ins(appointments, now)
    return CalendarData(practice, shown, appointments, count, today, message, waiting)


# The calendar's two queries in SQL (the same text on PostgreSQL and SQLite): Piccolo builds a join
# query anew on every call, and building it cost more CPU than running it (a third of a week page).
CALENDAR_SQL = (
    "SELECT a.id, a.starts_at, a.ends_at, a.duration_minutes, a.status, a.kind, a.fee_minor, a.currency, "
    "a.checked_in_at, c.id AS client_id, c.name AS client_name "
    "FROM appointment a JOIN client c ON c.id = a.client "
    # overlapping(): the lower bound on starts_at lets the (clinician, starts_at) index read the range
    "WHERE a.clinician = {} AND a.starts_at > {} AND a.starts_at < {} AND a.ends_at > {} "
    "ORDER BY a.starts_at, a.id"
)
NEEDS_STATUS_SQL = (
    "SELECT COUNT(*) AS n FROM appointment "
    "WHERE clinician = {} AND status = {} AND (ends_at <= {} OR (starts_at <= {} AND checked_in_at IS NULL))"
)


async def appointments_between(clinician_id: int, starts_at: datetime, ends_at: datetime) -> list[dict]:
    """Every appointment of the clinician that shares time with [starts_at, ends_at) (see
    ``availability.overlapping``), with client names, by start time."""
    earliest = starts_at - timedelta(minutes=MAX_SESSION_MINUTES)
    return await Appointment.raw(CALENDAR_SQL, clinician_id, earliest, ends_at, starts_at)


def _needs_status_filter(clinician_id: int, now: datetime):
    """Still Scheduled and either ended, or started 15 minutes ago with no check-in (No-show suggested)."""
    no_check_in = (Appointment.starts_at <= now - NO_SHOW_AFTER) & Appointment.checked_in_at.is_null()
    return (
        (Appointment.clinician == clinician_id)
        & (Appointment.status == AppointmentStatus.SCHEDULED.value)
        & ((Appointment.ends_at <= now) | no_check_in)
    )


async def needs_status_count(clinician_id: int, *, now: datetime) -> int:
    """How many sessions need a status (shown in the navigation): ``_needs_status_filter``'s rows."""
    rows = await Appointment.raw(
        NEEDS_STATUS_SQL, clinician_id, AppointmentStatus.SCHEDULED.value, now, now - NO_SHOW_AFTER
    )
    return int(rows[0]["n"])


async def needs_status(clinician_id: int, *, now: datetime, limit: int = 200) -> list[dict]:
    """Sessions that need a status, oldest first, each saying whether No-show is suggested."""
    rows = (
        await Appointment.select(*CALENDAR_COLUMNS)
        .where(_needs_status_filter(clinician_id, now))
        .order_by(Appointment.starts_at)
        .limit(limit)
    )
    return [
        {**row, "no_show_suggested": no_show_suggested(row["starts_at"], row["checked_in_at"], now)}
        for row in rows
    ]


@dataclass
class AppointmentDetail:
    """What the appointment panel shows: the session, its client, its status history."""

    appointment: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def time_zone(self) -> str:
        return self.appointment["time_zone"]


async def detail(appointment_id: int, clinician_id: int) -> AppointmentDetail:
    """One appointment of this clinician with its history; ``AppointmentNotFound`` otherwise."""
    row = (
        await Appointment.select(
            *Appointment.all_columns(),
            Appointment.client.name.as_alias("client_name"),
            Appointment.client.email.as_alias("client_email"),
            Appointment.clinician.time_zone.as_alias("time_zone"),
        )
        .where((Appointment.id == appointment_id) & (Appointment.clinician == clinician_id))
        .first()
    )
    if row is None:
        raise AppointmentNotFound(appointment_id)
    history = (
        await StatusChange.select(
            StatusChange.from_status,
            StatusChange.to_status,
            StatusChange.changed_at,
            StatusChange.changed_by.name.as_alias("changed_by_name"),
        )
        .where(StatusChange.appointment == appointment_id)
        .order_by(StatusChange.changed_at, ascending=False)
        .order_by(StatusChange.id, ascending=False)
    )
    return AppointmentDetail(row, history)


async def bookable_clients(clinician_id: int, query: str = "", *, limit: int = 50) -> list[dict]:
    """The clinician's current clients whose name or email contains ``query``, by name."""
    condition = (Client.clinician == clinician_id) & Client.archived_at.is_null()
    text = query.strip()
    if text:
        pattern = f"%{text}%"
        # SQLite's LIKE is already case-insensitive (and Piccolo warns about ILIKE there).
        match = "ilike" if engine().engine_type == "postgres" else "like"
        condition = condition & (getattr(Client.name, match)(pattern) | getattr(Client.email, match)(pattern))
    return (
        await Client.select(Client.id, Client.name, Client.email)
        .where(condition)
        .order_by(Client.name)
        .limit(limit)
    )


# --- Booking and rescheduling ---------------------------------------------------------------------


class BookingProblem(FieldProblem):
    """A booking or reschedule can't be saved; ``field`` names the form field the message belongs to."""


@dataclass(frozen=True)
class Booking:
    """A single appointment to book: an existing client, or a new one added inline."""

    starts_at: datetime
    kind: str = "regular"
    minutes: int | None = None
    fee_minor: int | None = None
    client_id: int | None = None
    new_client: NewClient | None = None
    allow_overlap: bool = False


async def lock_practice(clinician_id: int) -> None:
    """Serialise bookings of one clinician so two at once can't both pass the overlap check.

    SQLite write transactions are already exclusive (IMMEDIATE); PostgreSQL locks the clinician row.
    """
    if engine().engine_type == "postgres":
        await Clinician.select(Clinician.id).where(Clinician.id == clinician_id).lock_rows("UPDATE")


async def find_clashes(
    clinician_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    exclude_id: int | None = None,
    exclude_ids: tuple[int, ...] = (),
) -> list[tuple[str, datetime, datetime]]:
    """The clinician's appointments holding a slot that overlaps [starts_at, ends_at); touching is fine.

    ``exclude_ids``: appointments moving in the same change (a series edit), which can't be in the way.
    """
    condition = (
        (Appointment.clinician == clinician_id)
        & Appointment.status.is_in([status.value for status in OCCUPIES_SLOT])
        & overlapping(starts_at, ends_at)
    )
    if exclude_id is not None:
        condition = condition & (Appointment.id != exclude_id)
    if exclude_ids:
        condition = condition & Appointment.id.not_in(list(exclude_ids))
    rows = (
        await Appointment.select(
            Appointment.client.name.as_alias("client_name"), Appointment.starts_at, Appointment.ends_at
        )
        .where(condition)
        .order_by(Appointment.starts_at)
    )
    return [(row["client_name"], row["starts_at"], row["ends_at"]) for row in rows]


def _check_length(minutes: int) -> None:
    if minutes <= 0:
        raise BookingProblem("minutes", "The length must be more than 0 minutes.")
    if minutes > MAX_SESSION_MINUTES:
        raise BookingProblem("minutes", f"The length must be at most {MAX_SESSION_MINUTES} minutes.")


async def book_appointment(
    clinician_id: int,
    booking: Booking,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Book one appointment (adding the client first when new) in one transaction; returns its id.

    Refuses, with a ``BookingProblem`` naming the field, a start too far away, a bad length, a client
    who isn't this clinician's, and an overlap with another session unless ``allow_overlap``.
    """
    if booking.kind not in KINDS:
        raise BookingProblem("kind", "Choose a session type.")
    problem = booking_window_problem(booking.starts_at, now)
    if problem:
        raise BookingProblem("date", problem)
    if booking.fee_minor is not None and booking.fee_minor < 0:
        raise BookingProblem("fee", "The fee can't be negative.")
    async with transaction():
        await lock_practice(clinician_id)
        practice = await practice_of(clinician_id)
        default_minutes, default_fee = practice.defaults_for(booking.kind)
        minutes = booking.minutes if booking.minutes is not None else default_minutes
        _check_length(minutes)
        fee = booking.fee_minor if booking.fee_minor is not None else default_fee
        ends_at = booking.starts_at + timedelta(minutes=minutes)
        clashes = await find_clashes(clinician_id, booking.starts_at, ends_at)
        if clashes and not booking.allow_overlap:
            raise BookingProblem("overlap", clash_message(clashes, practice.zone))
        jobs: list[QueuedJob] = []
        if booking.new_client is not None:
            try:
                client_id, _ = await create_client(
                    clinician_id, booking.new_client, invite=False, now=now, actor=actor, settings=settings
                )
            except ClientError as error:
                raise BookingProblem(f"new_{error.field}", error.message) from error
        else:
            client_id = booking.client_id
            if client_id is None or not await Client.exists().where(
                (Client.id == client_id) & (Client.clinician == clinician_id) & Client.archived_at.is_null()
            ):
                raise BookingProblem("client_id", "Choose one of your clients, or add a new one.")
        appointment_id = await insert_appointment(
            clinician_id,
            client_id,
            booking.kind,
            booking.starts_at,
            (minutes, fee),
            currency=practice.currency,
            via="clinician",
            detail="overlap allowed" if clashes else "",
            now=now,
            actor=actor,
        )
        if booking.new_client is not None:
            jobs = await invite_if_no_password(client_id, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return appointment_id


async def cancel_together(
    client_id: int, sessions: list[Appointment], *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    """Cancel several of a client's sessions in the caller's transaction, with one email for all of them."""
    jobs: list[QueuedJob] = []
    for appointment in sessions:
        jobs += await apply_status_change(
            appointment,
            AppointmentStatus.CANCELLED.value,
            now=now,
            actor=actor,
            settings=settings,
            tell_client=False,
        )
    jobs += await notices.sessions_changed(
        client_id, [a.id for a in sessions], Notice.CANCELLED, now=now, settings=settings
    )
    return jobs


async def insert_appointment(
    clinician_id: int,
    client_id: int,
    kind: str,
    starts_at: datetime,
    length_and_fee: tuple[int, int],
    *,
    currency: str,
    via: str,
    detail: str,
    now: datetime,
    actor: Actor,
) -> int:
    """Add one scheduled session and its audit row, inside the caller's transaction; returns its id."""
    minutes, fee = length_and_fee
    rows = await Appointment.insert(
        Appointment(
            clinician=clinician_id,
            client=client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            duration_minutes=minutes,
            fee_minor=fee,
            currency=currency,
            kind=kind,
            status=AppointmentStatus.SCHEDULED.value,
            booked_via=via,
            created_at=now,
            created_by=actor.user_id,
        )
    ).returning(Appointment.id)
    appointment_id = rows[0]["id"]
    await audit.appointment_event(
        "appointment_booked", appointment_id, client_id, clinician_id, actor=actor, at=now, detail=detail
    )
    return appointment_id


async def reschedule(
    appointment_id: int,
    clinician_id: int,
    *,
    starts_at: datetime,
    minutes: int,
    allow_overlap: bool,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> Appointment:
    """Move a Scheduled appointment to a new start and length, with the same overlap check as booking;
    the client gets the new time with an ``.ics`` that moves the event in their calendar."""
    problem = booking_window_problem(starts_at, now)
    if problem:
        raise BookingProblem("date", problem)
    _check_length(minutes)
    async with transaction():
        await lock_practice(clinician_id)
        appointment = await get_for_clinician(appointment_id, clinician_id)
        if appointment.status != AppointmentStatus.SCHEDULED:
            label = AppointmentStatus(appointment.status).label
            raise BookingProblem(
                "form", f"This session is {label}; set it back to Scheduled before moving it."
            )
        ends_at = starts_at + timedelta(minutes=minutes)
        clashes = await find_clashes(clinician_id, starts_at, ends_at, exclude_id=appointment_id)
        if clashes and not allow_overlap:
            practice = await practice_of(clinician_id)
            raise BookingProblem("overlap", clash_message(clashes, practice.zone))
        jobs = await move_appointment(
            appointment, starts_at, minutes, now=now, actor=actor, settings=settings
        )
    await queue.enqueue_all(jobs)
    return appointment


@dataclass(frozen=True)
class PracticeDay:
    """One day of the practice: a column of sessions per clinician shown (owner and front desk)."""

    day: date
    today: date
    time_zone: str
    columns: list[tuple[practices.Colleague, list[dict]]]
    colleagues: list[practices.Colleague]
    message: str | None = None


async def practice_day(
    member: CurrentUser, day_text: str | None, shown: list[int], *, now: datetime
) -> PracticeDay:
    """The sessions of a day in each clinician's calendar (``shown``: the clinicians filtered to, all when
    empty), in the practice's zone; for members who see every calendar."""
    practices.require(member, Ability.SEE_EVERY_CALENDAR)
    colleagues = await practices.clinicians_of(member.practice_id)
    practice = await PracticeTable.objects().where(PracticeTable.id == member.practice_id).first()
    zone = ZoneInfo(practice.time_zone)
    today = now.astimezone(zone).date()
    day, message = parse_day(day_text, today=today)
    bounds = visible_range(View.DAY, day, zone)
    picked = [c for c in colleagues if not shown or c.clinician_id in shown]
    columns = [
        (c, await appointments_between(c.clinician_id, bounds.starts_at, bounds.ends_at)) for c in picked
    ]
    return PracticeDay(day, today, practice.time_zone, columns, colleagues, message)


async def move_appointment(
    appointment: Appointment,
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
) -> list[QueuedJob]:
    """Move a Scheduled appointment (caller's transaction, after the caller's checks): a new SEQUENCE,
    the client's confirmation dropped, the audit line and the client's email. Returns jobs to enqueue."""
    ends_at = starts_at + timedelta(minutes=minutes)
    old_start = appointment.starts_at
    changed = (
        await Appointment.update(
            {
                Appointment.starts_at: starts_at,
                Appointment.ends_at: ends_at,
                Appointment.duration_minutes: minutes,
                Appointment.changed_from_series: appointment.series is not None,
                Appointment.sequence: Appointment.sequence + 1,
                Appointment.confirmed_at: None,  # a confirmation was for the old time
                Appointment.checked_in_at: None,  # and so was a check-in
            }
        )
        .where((Appointment.id == appointment.id) & (Appointment.status == AppointmentStatus.SCHEDULED.value))
        .returning(Appointment.id)
    )
    if not changed:
        raise BookingProblem("form", "Someone else changed this appointment just now. Reload and retry.")
    await audit.appointment_event(
        "appointment_rescheduled",
        appointment.id,
        appointment.client,
        appointment.clinician,
        actor=actor,
        at=now,
        detail=f"{old_start:%Y-%m-%dT%H:%MZ}->{starts_at:%Y-%m-%dT%H:%MZ} {minutes}min",
    )
    appointment.starts_at, appointment.ends_at, appointment.duration_minutes = starts_at, ends_at, minutes
    return await notices.sessions_changed(
        appointment.client, [appointment.id], Notice.MOVED, now=now, settings=settings
    )
