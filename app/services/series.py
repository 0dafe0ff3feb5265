"""Weekly series (R5, R9): "Book next" from an appointment, the preview that flags every clash, and
edits or cancellations of "this occurrence" or "this and following".

Each occurrence is its own appointment (own status, own charge) pointing at the ``AppointmentSeries``
that remembers the rule. An occurrence changed on its own (``changed_from_series``) keeps its change
when later occurrences are edited together; a session that has started is never moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from app.config import Settings
from app.domain.appointments import Notice, clash_message
from app.domain.availability import within_working_hours
from app.domain.calendar import MAX_SESSION_MINUTES, booking_window_problem
from app.domain.recurrence import (
    DateCheck,
    PreviewSummary,
    SeriesRule,
    expand,
    local_parts,
    next_week,
    preview_summary,
    to_utc,
)
from app.domain.statuses import AppointmentStatus
from app.models.db import transaction
from app.models.tables import Appointment, AppointmentSeries, Client
from app.services import audit, notices
from app.services.appointments import (
    AppointmentNotFound,
    BookingProblem,
    cancel_together,
    find_clashes,
    get_for_clinician,
    lock_practice,
    practice_of,
)
from app.services.availability import working_ranges
from app.services.context import Actor
from app.services.queue import JobQueue, QueuedJob

Clash = tuple[str, datetime, datetime]


@dataclass(frozen=True)
class SeriesRequest:
    """What the "Book next" form asks for. ``moves`` maps an occurrence index to its new start."""

    first_starts_at: datetime
    minutes: int
    fee_minor: int
    interval_weeks: int = 1
    count: int = 6
    skips: frozenset[int] = frozenset()
    moves: dict[int, datetime] = field(default_factory=dict)
    allow_overlap: bool = False


@dataclass
class PlannedSession:
    index: int
    starts_at: datetime
    ends_at: datetime
    skipped: bool = False
    moved: bool = False
    clashes: list[Clash] = field(default_factory=list)
    outside_hours: bool = False
    problem: str = ""

    @property
    def check(self) -> DateCheck:
        return DateCheck(self.skipped, len(self.clashes), self.problem, self.outside_hours)

    @property
    def flagged(self) -> bool:
        """A clash or an impossible time: booking waits for a choice (a note alone does not)."""
        return self.check.needs_choice


@dataclass
class SeriesPlan:
    source: Appointment
    client_name: str
    time_zone: str
    request: SeriesRequest
    sessions: list[PlannedSession]

    @property
    def booked(self) -> list[PlannedSession]:
        return [s for s in self.sessions if not s.skipped]

    @property
    def summary(self) -> PreviewSummary:
        return preview_summary([s.check for s in self.sessions])

    @property
    def blocking(self) -> list[PlannedSession]:
        """Sessions that stop the series being booked: a clash (unless overlap is allowed) or a bad time."""
        return [s for s in self.booked if s.problem or (s.clashes and not self.request.allow_overlap)]


def request_problems(request: SeriesRequest) -> dict[str, str]:
    """Field messages for the parts of a request that can be checked without the database."""
    day, at = request.first_starts_at.date(), request.first_starts_at.time()
    found = SeriesRule(day, at, "UTC", request.interval_weeks, request.count).problems()
    problems = {"every" if k == "interval_weeks" else "count": v for k, v in found.items()}
    if not 0 < request.minutes <= MAX_SESSION_MINUTES:
        problems["minutes"] = f"The length must be between 1 and {MAX_SESSION_MINUTES} minutes."
    if request.fee_minor < 0:
        problems["fee"] = "The fee can't be negative."
    return problems


def suggested_start(source: Appointment, zone: str) -> datetime:
    """ "Book next": the same weekday and local time one week after the source appointment."""
    return next_week(source.starts_at, zone)


async def plan(source_id: int, clinician_id: int, request: SeriesRequest, *, now: datetime) -> SeriesPlan:
    """The preview: every date of the series with its clashes and working-hours warnings."""
    source = await get_for_clinician(source_id, clinician_id)
    practice = await practice_of(clinician_id)
    client = await Client.select(Client.name).where(Client.id == source.client).first()
    ranges = await working_ranges(clinician_id)
    day, at = local_parts(request.first_starts_at, practice.zone)
    rule = SeriesRule(day, at, practice.time_zone, request.interval_weeks, request.count)
    length = timedelta(minutes=request.minutes)
    sessions: list[PlannedSession] = []
    for index, start in enumerate(expand(rule)):
        moved = request.moves.get(index)
        start = moved or start
        session = PlannedSession(index, start, start + length, index in request.skips, moved is not None)
        if not session.skipped:
            session.problem = _time_problem(start, now)
            session.clashes = await find_clashes(clinician_id, start, session.ends_at)
            session.clashes += [
                ("another date of this series", other.starts_at, other.ends_at)
                for other in sessions
                if not other.skipped and other.starts_at < session.ends_at and start < other.ends_at
            ]
            session.outside_hours = bool(ranges) and not within_working_hours(
                start, session.ends_at, ranges, practice.time_zone
            )
        sessions.append(session)
    return SeriesPlan(source, client["name"] if client else "", practice.time_zone, request, sessions)


def _time_problem(starts_at: datetime, now: datetime) -> str:
    if starts_at <= now:
        return "This date has already passed; skip it or move it."
    return booking_window_problem(starts_at, now) or ""


class SeriesBlocked(Exception):
    """The preview still has dates that can't be booked; the plan says which and why."""

    def __init__(self, plan: SeriesPlan) -> None:
        super().__init__("series blocked")
        self.plan = plan


async def book_series(
    source_id: int,
    clinician_id: int,
    request: SeriesRequest,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> tuple[int, list[int]]:
    """Create the series and every occurrence in one transaction; one email to the client.

    Re-checks clashes inside the transaction (another booking may have landed since the preview).
    Returns the series id and the appointment ids; raises ``SeriesBlocked`` with a fresh plan.
    """
    problems = request_problems(request)
    if problems:
        field_name, message = next(iter(problems.items()))
        raise BookingProblem(field_name, message)
    async with transaction():
        await lock_practice(clinician_id)
        current = await plan(source_id, clinician_id, request, now=now)
        if current.blocking:
            raise SeriesBlocked(current)
        if not current.booked:
            raise BookingProblem("form", "Every date is skipped; there is nothing to book.")
        source = current.source
        practice = await practice_of(clinician_id)
        local_start = request.first_starts_at.astimezone(practice.zone)
        rows = await AppointmentSeries.insert(
            AppointmentSeries(
                clinician=clinician_id,
                client=source.client,
                interval_weeks=request.interval_weeks,
                occurrences=request.count,
                local_start_time=f"{local_start:%H:%M}",
                time_zone=practice.time_zone,
                duration_minutes=request.minutes,
                fee_minor=request.fee_minor,
                created_at=now,
                created_by=actor.user_id,
            )
        ).returning(AppointmentSeries.id)
        series_id = rows[0]["id"]
        ids: list[int] = []
        for session in current.booked:
            inserted = await Appointment.insert(
                Appointment(
                    clinician=clinician_id,
                    client=source.client,
                    series=series_id,
                    series_index=session.index,
                    changed_from_series=session.moved,
                    starts_at=session.starts_at,
                    ends_at=session.ends_at,
                    duration_minutes=request.minutes,
                    fee_minor=request.fee_minor,
                    currency=practice.currency,
                    kind="regular",
                    status=AppointmentStatus.SCHEDULED.value,
                    booked_via="clinician",
                    created_at=now,
                    created_by=actor.user_id,
                )
            ).returning(Appointment.id)
            ids.append(inserted[0]["id"])
        skipped = len(current.sessions) - len(ids)
        overlapping = sum(1 for s in current.booked if s.clashes)
        await audit.record(
            "series_booked",
            actor=actor,
            at=now,
            object_type="series",
            object_id=series_id,
            client_id=source.client,
            clinician_id=clinician_id,
            detail=f"{len(ids)} booked, {skipped} skipped, every {request.interval_weeks} wk"
            + (f", {overlapping} overlapping" if overlapping else ""),
        )
        jobs = [await notices.sessions_booked(source.client, ids, now=now, settings=settings, series=True)]
    await queue.enqueue_all(jobs)
    return series_id, ids


# --- Editing and cancelling a series --------------------------------------------------------------

SCOPES = {"this": "Only this session", "following": "This and following sessions"}


@dataclass(frozen=True)
class SeriesChange:
    """New values for an occurrence; ``None`` keeps what each occurrence has."""

    local_time: time | None = None
    minutes: int | None = None
    fee_minor: int | None = None
    allow_overlap: bool = False


async def occurrences_in_scope(appointment: Appointment, scope: str, now: datetime) -> list[Appointment]:
    """The Scheduled, not-yet-started occurrences that ``scope`` covers, in order."""
    if appointment.series is None or scope == "this":
        return [appointment] if appointment.starts_at > now else []
    return (
        await Appointment.objects()
        .where(
            (Appointment.series == appointment.series)
            & (Appointment.clinician == appointment.clinician)
            & (Appointment.series_index >= appointment.series_index)
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at > now)
        )
        .order_by(Appointment.starts_at)
    )


def _changed_fields(appointment: Appointment, change: SeriesChange, zone) -> SeriesChange:
    """Only the values that differ from the chosen occurrence: those are what the clinician changed."""
    _, at = local_parts(appointment.starts_at, zone)
    return SeriesChange(
        local_time=change.local_time if change.local_time not in (None, at) else None,
        minutes=change.minutes if change.minutes not in (None, appointment.duration_minutes) else None,
        fee_minor=change.fee_minor if change.fee_minor not in (None, appointment.fee_minor) else None,
        allow_overlap=change.allow_overlap,
    )


async def edit_series(
    appointment_id: int,
    clinician_id: int,
    scope: str,
    change: SeriesChange,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Change time, length or fee of this occurrence or of this and the following ones (one transaction).

    With "this and following", occurrences already changed on their own keep their changes and the
    series rule takes the new values. A new time or length is emailed to the client (one message,
    an ``.ics`` that moves each event). Returns how many appointments changed.
    """
    if scope not in SCOPES:
        raise BookingProblem("scope", "Choose which sessions to change.")
    if change.minutes is not None and not 0 < change.minutes <= MAX_SESSION_MINUTES:
        raise BookingProblem("minutes", f"The length must be between 1 and {MAX_SESSION_MINUTES} minutes.")
    if change.fee_minor is not None and change.fee_minor < 0:
        raise BookingProblem("fee", "The fee can't be negative.")
    async with transaction():
        await lock_practice(clinician_id)
        chosen = await get_for_clinician(appointment_id, clinician_id)
        practice = await practice_of(clinician_id)
        if chosen.starts_at <= now:
            raise BookingProblem("form", "This session has started; past sessions are never moved.")
        if chosen.status != AppointmentStatus.SCHEDULED.value:
            raise BookingProblem("form", "Only Scheduled sessions can be changed.")
        wanted = _changed_fields(chosen, change, practice.zone)
        if wanted.local_time is None and wanted.minutes is None and wanted.fee_minor is None:
            raise BookingProblem("form", "Nothing changed: set a new time, length or fee.")
        targets = await occurrences_in_scope(chosen, scope, now)
        targets = [a for a in targets if a.id == chosen.id or not a.changed_from_series]
        moving = {a.id for a in targets}
        updates: list[tuple[Appointment, datetime, int, int]] = []
        clashes: list[Clash] = []
        for appointment in targets:
            day, at = local_parts(appointment.starts_at, practice.zone)
            starts_at = (
                to_utc(day, wanted.local_time, practice.zone) if wanted.local_time else appointment.starts_at
            )
            minutes = wanted.minutes or appointment.duration_minutes
            fee = wanted.fee_minor if wanted.fee_minor is not None else appointment.fee_minor
            ends_at = starts_at + timedelta(minutes=minutes)
            if starts_at <= now:
                raise BookingProblem("time", "That time has already passed for this session.")
            clashes += await find_clashes(clinician_id, starts_at, ends_at, exclude_ids=tuple(moving))
            updates.append((appointment, starts_at, minutes, fee))
        if clashes and not change.allow_overlap:
            raise BookingProblem("overlap", clash_message(clashes, practice.zone))
        for appointment, starts_at, minutes, fee in updates:
            await Appointment.update(
                {
                    Appointment.starts_at: starts_at,
                    Appointment.ends_at: starts_at + timedelta(minutes=minutes),
                    Appointment.duration_minutes: minutes,
                    Appointment.fee_minor: fee,
                    Appointment.changed_from_series: scope == "this" and appointment.series is not None,
                    Appointment.sequence: Appointment.sequence + 1,
                    Appointment.confirmed_at: appointment.confirmed_at
                    if starts_at == appointment.starts_at
                    else None,
                    Appointment.checked_in_at: appointment.checked_in_at
                    if starts_at == appointment.starts_at
                    else None,
                }
            ).where(
                (Appointment.id == appointment.id) & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            )
        if scope == "following" and chosen.series is not None:
            rule: dict = {}
            if wanted.local_time:
                rule[AppointmentSeries.local_start_time] = f"{wanted.local_time:%H:%M}"
            if wanted.minutes:
                rule[AppointmentSeries.duration_minutes] = wanted.minutes
            if wanted.fee_minor is not None:
                rule[AppointmentSeries.fee_minor] = wanted.fee_minor
            await AppointmentSeries.update(rule).where(AppointmentSeries.id == chosen.series)
        await audit.appointment_event(
            "series_edited" if chosen.series is not None else "appointment_edited",
            chosen.id,
            chosen.client,
            clinician_id,
            actor=actor,
            at=now,
            detail=f"{scope}: {len(updates)} changed",
        )
        jobs: list[QueuedJob] = []
        if wanted.local_time or wanted.minutes:
            moved = [appointment.id for appointment, *_ in updates]
            jobs = await notices.sessions_changed(
                chosen.client, moved, Notice.MOVED, now=now, settings=settings
            )
    await queue.enqueue_all(jobs)
    return len(updates)


async def cancel_series(
    appointment_id: int,
    clinician_id: int,
    scope: str,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Cancel this occurrence, or this and every later one, through the status service."""
    if scope not in SCOPES:
        raise BookingProblem("scope", "Choose which sessions to cancel.")
    async with transaction():
        chosen = await get_for_clinician(appointment_id, clinician_id)
        if chosen.status != AppointmentStatus.SCHEDULED.value or chosen.starts_at <= now:
            raise BookingProblem("form", "Only upcoming Scheduled sessions can be cancelled here.")
        targets = await occurrences_in_scope(chosen, scope, now)
        jobs = await cancel_together(chosen.client, targets, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return len(targets)


async def series_summary(appointment: dict) -> dict | None:
    """For the panel: "session 3 of 6, every week" and how many are still to come."""
    if not appointment.get("series"):
        return None
    row = await AppointmentSeries.select().where(AppointmentSeries.id == appointment["series"]).first()
    if row is None:
        return None
    return {
        "position": (appointment.get("series_index") or 0) + 1,
        "occurrences": row["occurrences"],
        "interval_weeks": row["interval_weeks"],
        "changed": appointment.get("changed_from_series", False),
    }


__all__ = [
    "AppointmentNotFound",
    "BookingProblem",
    "SCOPES",
    "SeriesBlocked",
    "SeriesChange",
    "SeriesPlan",
    "SeriesRequest",
    "book_series",
    "cancel_series",
    "edit_series",
    "plan",
    "request_problems",
    "series_summary",
    "suggested_start",
]
