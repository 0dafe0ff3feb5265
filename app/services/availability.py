"""A clinician's bookable time: working hours, what is already booked, and the slot rules (R5, R9).

The pure computation is ``app.domain.availability``; this module reads its inputs from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.appointments import OCCUPIES_SLOT
from app.domain.availability import Busy, SlotRules, WorkingRange, free_slots, is_free
from app.domain.calendar import MAX_SESSION_MINUTES
from app.models.tables import Appointment, Clinician, Membership, Practice, WorkingHours

# The practice-level columns mirror the practice's (R12, ``practices.keep_practice_in_step``).
PRACTICE_COLUMNS = (
    Clinician.id,
    Clinician.practice_name,
    Clinician.time_zone,
    Clinician.currency,
    Clinician.booking_slug,
    Clinician.booking_enabled,
    Clinician.new_clients_may_book,
    Clinician.default_session_minutes,
    Clinician.default_fee_minor,
    Clinician.buffer_minutes,
    Clinician.min_notice_hours,
    Clinician.horizon_days,
    Clinician.intro_session_minutes,
    Clinician.intro_fee_minor,
    Clinician.cancellation_window_hours,
    Clinician.max_fee_minor,
    Clinician.calendar_feed_enabled,
    Clinician.reminder_hours,
    Clinician.video_link,
    Clinician.evening_summary,
    Clinician.insurance_email,
    Clinician.user.email.as_alias("email"),
    Clinician.user.phone.as_alias("phone"),
    Clinician.user.name.as_alias("clinician_name"),
)


@dataclass(frozen=True)
class PracticeBooking:
    """What booking needs to know about one practice."""

    id: int
    practice_name: str
    time_zone: str
    currency: str
    booking_slug: str
    booking_enabled: bool
    new_clients_may_book: bool
    default_session_minutes: int
    default_fee_minor: int
    buffer_minutes: int
    min_notice_hours: int
    horizon_days: int
    intro_session_minutes: int
    intro_fee_minor: int
    cancellation_window_hours: int
    max_fee_minor: int
    calendar_feed_enabled: bool
    reminder_hours: str
    video_link: str
    evening_summary: bool
    insurance_email: str
    email: str
    phone: str
    clinician_name: str

    @property
    def offers_intro(self) -> bool:
        return self.intro_session_minutes > 0

    def session_types(self, *, new_client: bool) -> dict[str, tuple[int, int]]:
        """Online session types, kind -> (minutes, fee). New clients start with the intro."""
        types: dict[str, tuple[int, int]] = {}
        if self.offers_intro:
            types["intro"] = (self.intro_session_minutes, self.intro_fee_minor)
        if not new_client or not self.offers_intro:
            types["regular"] = (self.default_session_minutes, self.default_fee_minor)
        return types

    def rules(self, minutes: int) -> SlotRules:
        return SlotRules(
            session_minutes=minutes,
            buffer_minutes=self.buffer_minutes,
            min_notice_hours=self.min_notice_hours,
            horizon_days=self.horizon_days,
        )


async def practice_by(*, clinician_id: int | None = None, slug: str | None = None) -> PracticeBooking | None:
    query = Clinician.select(*PRACTICE_COLUMNS)
    query = (
        query.where(Clinician.id == clinician_id)
        if clinician_id
        else query.where(Clinician.booking_slug == slug)
    )
    row = await query.first()
    return PracticeBooking(**row) if row else None


async def working_ranges(clinician_id: int) -> list[WorkingRange]:
    rows = await WorkingHours.select(
        WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute
    ).where(WorkingHours.clinician == clinician_id)
    return [WorkingRange(r["weekday"], r["start_minute"], r["end_minute"]) for r in rows]


def overlapping(starts_at: datetime, ends_at: datetime):
    """Where condition: the appointment shares time with [starts_at, ends_at) (touching is fine).

    No session is longer than ``MAX_SESSION_MINUTES``, so one reaching into the range started at most
    that long before it: that lower bound lets the (clinician, starts_at) index read just the range
    instead of every earlier appointment of the clinician.
    """
    return (
        (Appointment.starts_at > starts_at - timedelta(minutes=MAX_SESSION_MINUTES))
        & (Appointment.starts_at < ends_at)
        & (Appointment.ends_at > starts_at)
    )


async def busy_times(clinician_id: int, starts_at: datetime, ends_at: datetime) -> list[Busy]:
    rows = await Appointment.select(Appointment.starts_at, Appointment.ends_at).where(
        (Appointment.clinician == clinician_id)
        & Appointment.status.is_in([s.value for s in OCCUPIES_SLOT])
        & overlapping(starts_at, ends_at)
    )
    return [Busy(r["starts_at"], r["ends_at"]) for r in rows]


async def open_slots(practice: PracticeBooking, minutes: int, now: datetime) -> list[datetime]:
    """Every bookable start (UTC) from the minimum notice to the horizon."""
    ranges = await working_ranges(practice.id)
    if not ranges:
        return []
    busy = await busy_times(
        practice.id, now - timedelta(days=1), now + timedelta(days=practice.horizon_days + 2)
    )
    return free_slots(ranges, busy, practice.rules(minutes), practice.time_zone, now)


async def still_free(practice: PracticeBooking, starts_at: datetime, minutes: int, now: datetime) -> bool:
    """Re-check one submitted start against the database as it is now (call inside the booking lock)."""
    ranges = await working_ranges(practice.id)
    busy = await busy_times(practice.id, starts_at - timedelta(days=1), starts_at + timedelta(days=1))
    return is_free(starts_at, ranges, busy, practice.rules(minutes), practice.time_zone, now)


async def practice_page(slug: str) -> list[PracticeBooking]:
    """The clinicians a practice's own booking page (``/book/<practice slug>``) offers: its members with a
    seat whose online booking for new clients is on, by name. Empty when ``slug`` is not a practice's
    page or the practice has one clinician (their page is the practice's)."""
    practice = await Practice.select(Practice.id).where(Practice.booking_slug == slug).first()
    if practice is None:
        return []
    seats = (
        await Membership.select(Membership.clinician)
        .where(
            (Membership.practice == practice["id"])
            & Membership.clinician.is_not_null()
            & Membership.accepted_at.is_not_null()
            & Membership.removed_at.is_null()
        )
        .order_by(Membership.user.name)
    )
    offered = [await practice_by(clinician_id=row["clinician"]) for row in seats]
    offered = [p for p in offered if p is not None and p.booking_enabled and p.new_clients_may_book]
    return offered if len(offered) > 1 else []


async def first_available(clinicians: list[PracticeBooking], kind: str, now: datetime) -> list[datetime]:
    """Every start at which at least one of ``clinicians`` is free for a new client's ``kind`` of session
    (each with their own hours, length, buffers and notice), earliest first."""
    starts: set[datetime] = set()
    for clinician in clinicians:
        types = clinician.session_types(new_client=True)
        if kind in types:
            starts.update(await open_slots(clinician, types[kind][0], now))
    return sorted(starts)
