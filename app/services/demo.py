"""A realistic demo: Calm Harbor Therapy (Maya, its owner, two more clinicians and a front desk), with
clients in varied states and a month of sessions; and Jordan's solo practice next door.

Run by ``python -m app demo`` (and by ``python -m app run`` on an empty database).
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
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
    PaymentMethod,
    Practice,
    SandboxPayment,
    StatusChange,
    User,
    WorkingHours,
)
from app.payments.sandbox import SandboxGateway
from app.services.accounts import NewClinician, create_clinician, unique_booking_slug
from app.services.passwords import hash_password
from app.services.practices import start_assignment
from app.services.tokens import new_token, token_hash

CLINICIAN_EMAIL = "maya@stillwater.test"
SECOND_CLINICIAN_EMAIL = "jordan@stillwater.test"
CLIENT_EMAIL = "alex@stillwater.test"
FRONT_DESK_EMAIL = "desk@stillwater.test"

# The owner's colleagues: (name, email, their clients as (name, email, billing, coverage, weekday, hour)).
COLLEAGUES = [
    (
        "Noor Haddad",
        "noor@stillwater.test",
        [
            ("River Song", "river@stillwater.test", "self_pay", "self_pay", 0, 10),
            ("Quinn Avery", "quinn@stillwater.test", "insurance", "covered", 2, 14),
        ],
    ),
    (
        "Tomás Reyes",
        "tomas@stillwater.test",
        [
            ("Jesse Moreau", "jesse@stillwater.test", "self_pay", "self_pay", 1, 9),
            ("Kai Lindqvist", "kai@stillwater.test", "self_pay", "not_discussed", 3, 15),
        ],
    ),
]

CLIENTS = [
    # name, email, billing, coverage, has_password, weekday, hour
    ("Alex Rivera", CLIENT_EMAIL, "self_pay", "self_pay", True, 0, 9),
    ("Sam Okafor", "sam@stillwater.test", "insurance", "covered", True, 0, 11),
    ("Priya Natarajan", "priya@stillwater.test", "insurance", "checking", True, 1, 10),
    ("Jamie Walsh", "jamie@stillwater.test", "self_pay", "not_discussed", False, 1, 14),
    ("Morgan Blake", "morgan@stillwater.test", "self_pay", "self_pay", True, 2, 9),
    ("Taylor Nguyen", "taylor@stillwater.test", "insurance", "not_covered", True, 2, 15),
    ("Chris Adeyemi", "chris@stillwater.test", "self_pay", "not_discussed", False, 3, 10),
    ("Dana Kowalski", "dana@stillwater.test", "insurance", "covered", True, 3, 13),
    ("Robin Castillo", "robin@stillwater.test", "self_pay", "self_pay", True, 4, 9),
    ("Lee Fontaine", "lee@stillwater.test", "self_pay", "not_discussed", False, 4, 11),
]


async def has_data() -> bool:
    return await User.exists().where(User.email == CLINICIAN_EMAIL)


async def seed(settings: Settings, now: datetime) -> bool:
    """Create the demo practice unless it exists. Returns True when it seeded."""
    if await has_data():
        return False
    rng = random.Random(20261129)  # noqa: S311 - demo data, not security
    client_password = await hash_password(settings.demo_password, settings.password_hash_profile)
    async with transaction():
        maya_id = await create_clinician(
            NewClinician(
                "Calm Harbor Therapy",
                "Maya Chen",
                CLINICIAN_EMAIL,
                settings.demo_password,
                "America/New_York",
            ),
            now=now,
            settings=settings,
            active=True,
        )
        await create_clinician(
            NewClinician(
                "Northside Counselling",
                "Jordan Lee",
                SECOND_CLINICIAN_EMAIL,
                settings.demo_password,
                "Europe/London",
            ),
            now=now,
            settings=settings,
            active=True,
        )
        maya = await Clinician.objects().where(Clinician.user == maya_id).first()
        await Clinician.update({Clinician.insurance_email: "insurance@calmharbor.test"}).where(
            Clinician.id == maya.id
        )
        await Practice.update({Practice.insurance_email: "insurance@calmharbor.test"}).where(
            Practice.id == maya.practice
        )
        for weekday in range(5):
            await WorkingHours.insert(
                WorkingHours(clinician=maya.id, weekday=weekday, start_minute=9 * 60, end_minute=12 * 60),
                WorkingHours(clinician=maya.id, weekday=weekday, start_minute=13 * 60, end_minute=17 * 60),
            )
        zone = ZoneInfo(maya.time_zone)
        today = now.astimezone(zone).date()
        monday = today - timedelta(days=today.weekday())
        for index, (name, email, billing, coverage, has_password, weekday, hour) in enumerate(CLIENTS):
            await _seed_client(
                rng,
                maya,
                maya_id,
                index,
                name,
                email,
                billing,
                coverage,
                has_password,
                weekday,
                hour,
                now,
                client_password=client_password,
                monday=monday,
                zone=zone,
            )
        await _seed_colleagues(
            rng, maya, now, settings, client_password=client_password, monday=monday, zone=zone
        )
    return True


async def _seed_client(
    rng: random.Random,
    clinician: Clinician,
    clinician_user_id: int,
    index: int,
    name: str,
    email: str,
    billing: str,
    coverage: str,
    has_password: bool,
    weekday: int,
    hour: int,
    now: datetime,
    *,
    client_password: str,
    monday,
    zone: ZoneInfo,
) -> None:
    """One client of ``clinician`` with a login, maybe insurance and a card, and weekly sessions."""
    user_rows = await User.insert(
        User(
            email=email,
            name=name,
            role=Role.CLIENT.value,
            password_hash=client_password if has_password else None,
            password_changed_at=now if has_password else None,
            time_zone=clinician.time_zone,
            created_at=now - timedelta(days=40),
        )
    ).returning(User.id)
    user_id = user_rows[0]["id"]
    client_rows = await Client.insert(
        Client(
            clinician=clinician.id,
            practice=clinician.practice,
            user=user_id,
            name=name,
            email=email,
            billing_type=billing,
            coverage_status=coverage,
            created_at=now - timedelta(days=40 - index),
        )
    ).returning(Client.id)
    client_id = client_rows[0]["id"]
    await start_assignment(client_id, clinician.id, now=now - timedelta(days=40 - index), assigned_by=None)
    if not has_password:
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
    if billing == "insurance":
        await InsurancePolicy.insert(
            InsurancePolicy(
                client=client_id,
                payer=rng.choice(["Aetna", "Blue Cross", "Cigna", "United"]),
                member_id=f"M{rng.randint(10_000_000, 99_999_999)}",
                group_number=f"G{rng.randint(1000, 9999)}",
                subscriber_name=name,
                subscriber_relationship="self",
                copay_minor=rng.choice([2000, 3000, 4000]),
                updated_at=now,
            )
        )
    method_id = None
    if has_password:
        card = SandboxGateway().save_test_card(f"cus_sbx_demo_{user_id}", "4242424242424242", 12, 2029)
        method_rows = await PaymentMethod.insert(
            PaymentMethod(
                user=user_id,
                gateway="sandbox",
                customer_ref=card.customer_ref,
                method_ref=card.method_ref,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                created_at=now,
            )
        ).returning(PaymentMethod.id)
        method_id = method_rows[0]["id"]
    await _seed_sessions(
        rng,
        clinician,
        client_id,
        zone,
        monday,
        weekday,
        hour,
        billing,
        method_id,
        now,
        clinician_user_id,
        first_client=index >= 8,
    )


async def _seed_colleagues(
    rng: random.Random,
    owner: Clinician,
    now: datetime,
    settings: Settings,
    *,
    client_password: str,
    monday,
    zone,
) -> None:
    """The owner's two colleagues (members with a seat, the owner's hours, two clients each) and the
    front desk, all joined a month ago with the demo password."""
    password = await hash_password(settings.demo_password, settings.password_hash_profile)
    joined = now - timedelta(days=30)
    hours = await WorkingHours.select(
        WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute
    ).where(WorkingHours.clinician == owner.id)
    people = [(name, email, MemberRole.CLINICIAN, clients) for name, email, clients in COLLEAGUES]
    people.append(("Sky Moreno", FRONT_DESK_EMAIL, MemberRole.FRONT_DESK, []))
    for name, email, role, clients in people:
        user_rows = await User.insert(
            User(
                email=email,
                name=name,
                role=Role.CLINICIAN.value,
                password_hash=password,
                password_changed_at=joined,
                time_zone=owner.time_zone,
                created_at=joined,
            )
        ).returning(User.id)
        user_id = user_rows[0]["id"]
        seat_id = None
        if role.sees_clients:
            seat_rows = await Clinician.insert(
                Clinician(
                    user=user_id,
                    practice=owner.practice,
                    practice_name=owner.practice_name,
                    time_zone=owner.time_zone,
                    insurance_email=owner.insurance_email,
                    booking_slug=await unique_booking_slug(name),
                    created_at=joined,
                )
            ).returning(Clinician.id)
            seat_id = seat_rows[0]["id"]
            await WorkingHours.insert(*[WorkingHours(clinician=seat_id, **h) for h in hours])
        await Membership.insert(
            Membership(
                practice=owner.practice,
                user=user_id,
                role=role.value,
                clinician=seat_id,
                invited_at=joined,
                invited_by=owner.user,
                accepted_at=joined,
            )
        )
        if seat_id is None:
            continue
        seat = await Clinician.objects().where(Clinician.id == seat_id).first()
        for name_, email_, billing, coverage, weekday, hour in clients:
            await _seed_client(
                rng,
                seat,
                user_id,
                0,
                name_,
                email_,
                billing,
                coverage,
                True,
                weekday,
                hour,
                now,
                client_password=client_password,
                monday=monday,
                zone=zone,
            )


async def _seed_sessions(
    rng: random.Random,
    clinician: Clinician,
    client_id: int,
    zone: ZoneInfo,
    monday,
    weekday: int,
    hour: int,
    billing: str,
    method_id: int | None,
    now: datetime,
    clinician_user_id: int,
    first_client: bool,
) -> None:
    """Weekly sessions from two weeks ago to two weeks ahead (a new client starts with an intro)."""
    weeks = range(0, 3) if first_client else range(-2, 3)
    series_rows = await AppointmentSeries.insert(
        AppointmentSeries(
            clinician=clinician.id,
            client=client_id,
            interval_weeks=1,
            occurrences=len(weeks),
            local_start_time=f"{hour:02d}:00",
            time_zone=str(zone.key),
            duration_minutes=50,
            fee_minor=clinician.default_fee_minor,
            created_at=now - timedelta(days=30),
            created_by=clinician_user_id,
        )
    ).returning(AppointmentSeries.id)
    series_id = series_rows[0]["id"]
    for position, week in enumerate(weeks):
        day = monday + timedelta(weeks=week, days=weekday)
        starts = datetime.combine(day, time(hour, 0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
        intro = first_client and position == 0
        duration = 15 if intro else 50
        fee = 0 if intro else clinician.default_fee_minor
        status = "scheduled"
        if starts + timedelta(minutes=duration) < now:
            status = rng.choices(
                ["occurred", "cancelled", "late_cancelled", "no_show", "scheduled"], weights=[70, 8, 6, 6, 10]
            )[0]
        marked_at = (
            starts + timedelta(minutes=duration, hours=rng.randint(0, 20)) if status != "scheduled" else None
        )
        if marked_at and marked_at > now:
            marked_at = now - timedelta(minutes=5)
        rows = await Appointment.insert(
            Appointment(
                clinician=clinician.id,
                client=client_id,
                series=None if intro else series_id,
                series_index=None if intro else position,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=duration),
                duration_minutes=duration,
                fee_minor=fee,
                currency=clinician.currency,
                kind="intro" if intro else "regular",
                status=status,
                status_changed_at=marked_at,
                created_at=now - timedelta(days=30),
                created_by=clinician_user_id,
            )
        ).returning(Appointment.id)
        appointment_id = rows[0]["id"]
        if status == "scheduled" or marked_at is None:
            continue
        await StatusChange.insert(
            StatusChange(
                appointment=appointment_id,
                from_status="scheduled",
                to_status=status,
                changed_by=clinician_user_id,
                changed_at=marked_at,
            )
        )
        if status == "occurred" and fee > 0:
            amount = 3000 if billing == "insurance" else fee
            due = marked_at + timedelta(hours=48)
            succeeded = due <= now and method_id is not None
            await Charge.insert(
                Charge(
                    appointment=appointment_id,
                    client=client_id,
                    clinician=clinician.id,
                    amount_minor=amount,
                    currency=clinician.currency,
                    status="succeeded" if succeeded else ("failed" if due <= now else "scheduled"),
                    due_at=due,
                    generation=1,
                    attempt_no=1 if due <= now else 0,
                    idempotency_key=f"charge:demo:{appointment_id}:1" if due <= now else None,
                    gateway_reference=f"ch_demo_{appointment_id}" if succeeded else None,
                    payment_method=method_id,
                    failure_code="" if succeeded or due > now else "no_card",
                    failure_message="" if succeeded or due > now else "No card on file.",
                    succeeded_at=due if succeeded else None,
                    created_at=marked_at,
                    updated_at=marked_at,
                )
            )
            if succeeded:
                # The sandbox processor's own record of the payment, so a demo charge can be refunded.
                await SandboxPayment.insert(
                    SandboxPayment(
                        idempotency_key=f"charge:demo:{appointment_id}:1",
                        kind="payment",
                        reference=f"ch_demo_{appointment_id}",
                        amount_minor=amount,
                        currency=clinician.currency,
                        status="succeeded",
                        created_at=due,
                    )
                )
