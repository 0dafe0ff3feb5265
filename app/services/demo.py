"""A realistic demo: Calm Harbor Therapy (Maya, its owner, two more clinicians and a front desk) with
clients in varied states and a month of sessions, and Jordan's solo practice next door.

The practice is written down as data (``CLINICIANS``, ``CLIENTS``, ``COLLEAGUES`` and the rules for
their sessions, statuses and charges); ``seed`` loads it. The same seed gives the same practice every
time. Run by ``python -m app demo`` (and by ``python -m app run`` on an empty database).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain.accounts import Role
from app.domain.members import MemberRole
from app.models.db import transaction
from app.models.tables import (
    AccountToken,
    Appointment,
    AppointmentSeries,
    Charge,
    Client,
    Clinician,
    InsurancePolicy,
    Membership,
    Practice,
    SandboxPayment,
    StatusChange,
    User,
    WorkingHours,
)
from app.payments.sandbox import SandboxGateway
from app.services import fees, paperwork
from app.services.accounts import NewClinician, create_clinician, unique_booking_slug
from app.services.cards import method_row
from app.services.context import Actor
from app.services.passwords import hash_password
from app.services.practices import start_assignment
from app.services.tokens import new_token, token_hash

CLINICIAN_EMAIL = "maya@stillwater.test"
SECOND_CLINICIAN_EMAIL = "jordan@stillwater.test"
CLIENT_EMAIL = "alex@stillwater.test"
FRONT_DESK_EMAIL = "desk@stillwater.test"


@dataclass(frozen=True)
class DemoClinician:
    practice_name: str
    name: str
    email: str
    time_zone: str
    insurance_email: str | None = None
    working_hours: tuple[tuple[int, int], ...] = ()  # (from, to) hours, Monday to Friday


@dataclass(frozen=True)
class DemoClient:
    name: str
    email: str
    billing: str
    coverage: str
    has_password: bool  # False: invited, the link not used yet
    weekday: int  # the weekly session: 0 is Monday, at ``hour`` in the clinician's zone
    hour: int
    new: bool = False  # started this week with an intro call


CLINICIANS = (
    DemoClinician(
        "Calm Harbor Therapy",
        "Maya Chen",
        CLINICIAN_EMAIL,
        "America/New_York",
        insurance_email="insurance@calmharbor.test",
        working_hours=((9, 12), (13, 17)),
    ),
    DemoClinician("Northside Counselling", "Jordan Lee", SECOND_CLINICIAN_EMAIL, "Europe/London"),
)


@dataclass(frozen=True)
class DemoFeePolicy:
    """The first practice's late-cancel and no-show fees (R4); every client who has signed in agreed."""

    late_cancel_fee_minor: int = 7500  # inside the cancellation window (48 hours by default)
    no_show_fee_percent: int = 100  # of the session fee
    free_late_cancels: int = 1  # in 12 months
    note: str = "Life happens: if you can't make it, move to another time that week at no charge."


FEE_POLICY = DemoFeePolicy()
AGREED_FROM = "198.51.100.20"  # the address the demo clients agreed from (a documentation range)

# The first clinician's clients.
CLIENTS = (
    DemoClient("Alex Rivera", CLIENT_EMAIL, "self_pay", "self_pay", True, 0, 9),
    DemoClient("Sam Okafor", "sam@stillwater.test", "insurance", "covered", True, 0, 11),
    DemoClient("Priya Natarajan", "priya@stillwater.test", "insurance", "checking", True, 1, 10),
    DemoClient("Jamie Walsh", "jamie@stillwater.test", "self_pay", "not_discussed", False, 1, 14),
    DemoClient("Morgan Blake", "morgan@stillwater.test", "self_pay", "self_pay", True, 2, 9),
    DemoClient("Taylor Nguyen", "taylor@stillwater.test", "insurance", "not_covered", True, 2, 15),
    DemoClient("Chris Adeyemi", "chris@stillwater.test", "self_pay", "not_discussed", False, 3, 10),
    DemoClient("Dana Kowalski", "dana@stillwater.test", "insurance", "covered", True, 3, 13),
    DemoClient("Robin Castillo", "robin@stillwater.test", "self_pay", "self_pay", True, 4, 9, new=True),
    DemoClient("Lee Fontaine", "lee@stillwater.test", "self_pay", "not_discussed", False, 4, 11, new=True),
)


@dataclass(frozen=True)
class DemoColleague:
    """A member of the first clinician's practice, joined a month ago with the demo password."""

    name: str
    email: str
    role: MemberRole
    clients: tuple[DemoClient, ...] = ()


COLLEAGUES = (
    DemoColleague(
        "Noor Haddad",
        "noor@stillwater.test",
        MemberRole.CLINICIAN,
        (
            DemoClient("River Song", "river@stillwater.test", "self_pay", "self_pay", True, 0, 10),
            DemoClient("Quinn Avery", "quinn@stillwater.test", "insurance", "covered", True, 2, 14),
        ),
    ),
    DemoColleague(
        "Tomás Reyes",
        "tomas@stillwater.test",
        MemberRole.CLINICIAN,
        (
            DemoClient("Jesse Moreau", "jesse@stillwater.test", "self_pay", "self_pay", True, 1, 9),
            DemoClient("Kai Lindqvist", "kai@stillwater.test", "self_pay", "not_discussed", True, 3, 15),
        ),
    ),
    DemoColleague("Sky Moreno", FRONT_DESK_EMAIL, MemberRole.FRONT_DESK),
)
JOINED_AGO = timedelta(days=30)

RANDOM_SEED = 20261129
WEEKS = range(-2, 3)  # weekly sessions from two weeks ago to two weeks ahead
NEW_CLIENT_WEEKS = range(0, 3)
SESSION_MINUTES, INTRO_MINUTES = 50, 15
# How a past session ended, and how often (weights).
PAST_STATUSES = {"occurred": 70, "cancelled": 8, "late_cancelled": 6, "no_show": 6, "scheduled": 10}
MARKED_WITHIN_HOURS = 20  # a session's status was set up to this long after it ended
PAYERS = ["Aetna", "Blue Cross", "Cigna", "United"]
COPAYS = [2000, 3000, 4000]
INSURANCE_CHARGE_MINOR = 3000  # what an insurance client's occurred session charges
CHARGE_DELAY = timedelta(hours=48)
CARD = ("4242424242424242", 12, 2029)  # the sandbox's card that pays
CLIENTS_SINCE = timedelta(days=40)
BOOKED_AGO = timedelta(days=30)


@dataclass(frozen=True)
class DemoSession:
    position: int  # in the client's weekly series
    starts_at: datetime
    intro: bool
    minutes: int
    status: str
    marked_at: datetime | None  # when the status was set


DEMO_CONSENT = """## What therapy involves
Sessions last 50 minutes, usually weekly. You may stop at any time.

## Confidentiality
What you share stays between us, except where the law requires otherwise: a risk of serious harm to
you or someone else, suspected abuse of a child or vulnerable adult, or a court order.

By signing, I confirm that I have read this and agree to begin therapy with Calm Harbor Therapy.
"""


async def has_data() -> bool:
    return await User.exists().where(User.email == CLINICIAN_EMAIL)


async def seed(settings: Settings, now: datetime) -> bool:
    """Create the demo practice unless it exists. Returns True when it seeded."""
    if await has_data():
        return False
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - demo data, not security
    client_password = await hash_password(settings.demo_password, settings.password_hash_profile)
    async with transaction():
        clinicians = [await _add_clinician(spec, settings, now) for spec in CLINICIANS]
        await _add_fee_policy(clinicians[0].practice, FEE_POLICY)
        for index, spec in enumerate(CLIENTS):
            await _add_client(spec, index, clinicians[0], client_password, rng, now)
        for colleague in COLLEAGUES:
            await _add_colleague(colleague, clinicians[0], client_password, rng, now)
    owner = clinicians[0]
    await paperwork.publish(
        owner.id,
        "Consent to treatment",
        DEMO_CONSENT,
        now=now - timedelta(days=60),
        actor=Actor(owner.user, Role.CLINICIAN.value, owner.id),
    )
    return True


async def _add_fee_policy(practice_id: int, policy: DemoFeePolicy) -> None:
    await Practice.update(
        {
            Practice.late_cancel_fee_minor: policy.late_cancel_fee_minor,
            Practice.no_show_fee_percent: policy.no_show_fee_percent,
            Practice.free_late_cancels: policy.free_late_cancels,
            Practice.fee_policy_note: policy.note,
        }
    ).where(Practice.id == practice_id)


async def _add_colleague(
    spec: DemoColleague, owner: Clinician, password_hash: str, rng: random.Random, now: datetime
) -> None:
    """A member of the owner's practice; a clinician gets a seat with the owner's hours, and clients."""
    joined = now - JOINED_AGO
    user_id = await _new_id(
        User(
            email=spec.email,
            name=spec.name,
            role=Role.CLINICIAN.value,
            password_hash=password_hash,
            password_changed_at=joined,
            time_zone=owner.time_zone,
            created_at=joined,
        )
    )
    seat = None
    if spec.role.sees_clients:
        seat_id = await _new_id(
            Clinician(
                user=user_id,
                practice=owner.practice,
                practice_name=owner.practice_name,
                time_zone=owner.time_zone,
                insurance_email=owner.insurance_email,
                booking_slug=await unique_booking_slug(spec.name),
                created_at=joined,
            )
        )
        hours = await WorkingHours.objects().where(WorkingHours.clinician == owner.id)
        await WorkingHours.insert(
            *(
                WorkingHours(
                    clinician=seat_id, weekday=h.weekday, start_minute=h.start_minute, end_minute=h.end_minute
                )
                for h in hours
            )
        )
        seat = await Clinician.objects().where(Clinician.id == seat_id).first()
    await Membership.insert(
        Membership(
            practice=owner.practice,
            user=user_id,
            role=spec.role.value,
            clinician=seat.id if seat else None,
            invited_at=joined,
            invited_by=owner.user,
            accepted_at=joined,
        )
    )
    for spec_client in spec.clients:
        await _add_client(spec_client, 0, seat, password_hash, rng, now)


async def _new_id(row) -> int:
    """Insert ``row`` and return its id."""
    table = type(row)
    return (await table.insert(row).returning(table.id))[0]["id"]


async def _add_clinician(spec: DemoClinician, settings: Settings, now: datetime) -> Clinician:
    new = NewClinician(spec.practice_name, spec.name, spec.email, settings.demo_password, spec.time_zone)
    user_id = await create_clinician(new, now=now, settings=settings, active=True)
    clinician = await Clinician.objects().where(Clinician.user == user_id).first()
    if spec.insurance_email:
        await Clinician.update({Clinician.insurance_email: spec.insurance_email}).where(
            Clinician.id == clinician.id
        )
        await Practice.update({Practice.insurance_email: spec.insurance_email}).where(
            Practice.id == clinician.practice
        )
        clinician.insurance_email = spec.insurance_email
    for weekday in range(5) if spec.working_hours else ():
        await WorkingHours.insert(
            *(
                WorkingHours(clinician=clinician.id, weekday=weekday, start_minute=start, end_minute=end)
                for start, end in _minutes(spec.working_hours)
            )
        )
    return clinician


def _minutes(hours: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    return [(start * 60, end * 60) for start, end in hours]


async def _add_client(
    spec: DemoClient, index: int, clinician: Clinician, password_hash: str, rng: random.Random, now: datetime
) -> None:
    """The client's login and record, insurance, card and sessions."""
    user_id = await _new_id(
        User(
            email=spec.email,
            name=spec.name,
            role=Role.CLIENT.value,
            password_hash=password_hash if spec.has_password else None,
            password_changed_at=now if spec.has_password else None,
            time_zone=clinician.time_zone,
            created_at=now - CLIENTS_SINCE,
        )
    )
    client_id = await _new_id(
        Client(
            clinician=clinician.id,
            practice=clinician.practice,
            user=user_id,
            name=spec.name,
            email=spec.email,
            billing_type=spec.billing,
            coverage_status=spec.coverage,
            created_at=now - CLIENTS_SINCE + timedelta(days=index),
        )
    )
    await start_assignment(
        client_id, clinician.id, now=now - CLIENTS_SINCE + timedelta(days=index), assigned_by=None
    )
    if not spec.has_password:
        await _add_invitation(user_id, client_id, now)
    if spec.billing == "insurance":
        await _add_insurance(client_id, spec.name, rng, now)
    if spec.has_password:
        practice = await Practice.objects().where(Practice.id == clinician.practice).first()
        await fees.record_agreement(
            client_id,
            practice,
            now=now - CLIENTS_SINCE + timedelta(days=index),
            address=AGREED_FROM,
            via="invitation",
            actor=Actor(user_id, Role.CLIENT.value, ip=AGREED_FROM),
        )
    method_id = await _add_card(user_id, now) if spec.has_password else None
    await _add_sessions(clinician, client_id, spec, _sessions(spec, clinician, rng, now), method_id, now)


async def _add_invitation(user_id: int, client_id: int, now: datetime) -> None:
    """An invitation sent two days ago, still waiting (its link is not known to anyone)."""
    await AccountToken.insert(
        AccountToken(
            user=user_id,
            purpose="invitation",
            token_hash=token_hash(new_token()),
            client=client_id,
            created_at=now - timedelta(days=2),
            expires_at=now + timedelta(days=5),
        )
    )


async def _add_insurance(client_id: int, name: str, rng: random.Random, now: datetime) -> None:
    await InsurancePolicy.insert(
        InsurancePolicy(
            client=client_id,
            payer=rng.choice(PAYERS),
            member_id=f"M{rng.randint(10_000_000, 99_999_999)}",
            group_number=f"G{rng.randint(1000, 9999)}",
            subscriber_name=name,
            subscriber_relationship="self",
            copay_minor=rng.choice(COPAYS),
            updated_at=now,
        )
    )


async def _add_card(user_id: int, now: datetime) -> int:
    """The sandbox card that pays, on file."""
    card = SandboxGateway().save_test_card(f"cus_sbx_demo_{user_id}", *CARD)
    return await _new_id(method_row(user_id, card, "sandbox", now))


def _sessions(spec: DemoClient, clinician: Clinician, rng: random.Random, now: datetime) -> list[DemoSession]:
    """The client's weekly sessions (a new client's first one an intro), each past one given a status."""
    zone = ZoneInfo(clinician.time_zone)
    today = now.astimezone(zone).date()
    monday: date = today - timedelta(days=today.weekday())
    sessions = []
    for position, week in enumerate(NEW_CLIENT_WEEKS if spec.new else WEEKS):
        day = monday + timedelta(weeks=week, days=spec.weekday)
        starts = datetime.combine(day, time(spec.hour, 0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
        intro = spec.new and position == 0
        minutes = INTRO_MINUTES if intro else SESSION_MINUTES
        ends = starts + timedelta(minutes=minutes)
        status = "scheduled"
        if ends < now:
            status = rng.choices(list(PAST_STATUSES), weights=list(PAST_STATUSES.values()))[0]
        marked_at = None
        if status != "scheduled":
            marked_at = ends + timedelta(hours=rng.randint(0, MARKED_WITHIN_HOURS))
            if marked_at > now:
                marked_at = now - timedelta(minutes=5)
        sessions.append(DemoSession(position, starts, intro, minutes, status, marked_at))
    return sessions


async def _add_sessions(
    clinician: Clinician,
    client_id: int,
    spec: DemoClient,
    sessions: list[DemoSession],
    method_id: int | None,
    now: datetime,
) -> None:
    """The weekly series and its sessions, with their status changes and charges."""
    series_id = await _new_id(
        AppointmentSeries(
            clinician=clinician.id,
            client=client_id,
            interval_weeks=1,
            occurrences=len(sessions),
            local_start_time=f"{spec.hour:02d}:00",
            time_zone=clinician.time_zone,
            duration_minutes=SESSION_MINUTES,
            fee_minor=clinician.default_fee_minor,
            created_at=now - BOOKED_AGO,
            created_by=clinician.user,
        )
    )
    for session in sessions:
        fee = 0 if session.intro else clinician.default_fee_minor
        appointment_id = await _add_appointment(clinician, client_id, series_id, session, fee, now)
        if session.marked_at is None:
            continue
        await StatusChange.insert(
            StatusChange(
                appointment=appointment_id,
                from_status="scheduled",
                to_status=session.status,
                changed_by=clinician.user,
                changed_at=session.marked_at,
            )
        )
        if session.status == "occurred" and fee > 0:
            amount = INSURANCE_CHARGE_MINOR if spec.billing == "insurance" else fee
            await _add_charge(appointment_id, client_id, clinician, amount, session.marked_at, method_id, now)


async def _add_appointment(
    clinician: Clinician, client_id: int, series_id: int, session: DemoSession, fee: int, now: datetime
) -> int:
    """One session (an intro call stands outside the series)."""
    return await _new_id(
        Appointment(
            clinician=clinician.id,
            client=client_id,
            series=None if session.intro else series_id,
            series_index=None if session.intro else session.position,
            starts_at=session.starts_at,
            ends_at=session.starts_at + timedelta(minutes=session.minutes),
            duration_minutes=session.minutes,
            fee_minor=fee,
            currency=clinician.currency,
            kind="intro" if session.intro else "regular",
            status=session.status,
            status_changed_at=session.marked_at,
            created_at=now - BOOKED_AGO,
            created_by=clinician.user,
        )
    )


async def _add_charge(
    appointment_id: int,
    client_id: int,
    clinician: Clinician,
    amount: int,
    marked_at: datetime,
    method_id: int | None,
    now: datetime,
) -> None:
    """The session's charge: paid once due with a card on file, failed without one, else still waiting."""
    due = marked_at + CHARGE_DELAY
    tried = due <= now
    succeeded = tried and method_id is not None
    failed = tried and not succeeded
    key = f"charge:demo:{appointment_id}:1"
    await Charge.insert(
        Charge(
            appointment=appointment_id,
            client=client_id,
            clinician=clinician.id,
            amount_minor=amount,
            currency=clinician.currency,
            status="succeeded" if succeeded else ("failed" if tried else "scheduled"),
            due_at=due,
            generation=1,
            attempt_no=1 if tried else 0,
            idempotency_key=key if tried else None,
            gateway_reference=f"ch_demo_{appointment_id}" if succeeded else None,
            payment_method=method_id,
            failure_code="no_card" if failed else "",
            failure_message="No card on file." if failed else "",
            succeeded_at=due if succeeded else None,
            created_at=marked_at,
            updated_at=marked_at,
        )
    )
    if succeeded:
        await _add_sandbox_payment(key, f"ch_demo_{appointment_id}", amount, clinician.currency, due)


async def _add_sandbox_payment(key: str, reference: str, amount: int, currency: str, at: datetime) -> None:
    """The sandbox processor's own record of a payment, so a demo charge can be refunded."""
    await SandboxPayment.insert(
        SandboxPayment(
            idempotency_key=key,
            kind="payment",
            reference=reference,
            amount_minor=amount,
            currency=currency,
            status="succeeded",
            created_at=at,
        )
    )
