"""Seed a large practice group straight into the tables, fast: rows are built in Python and written in
bulk (PostgreSQL ``COPY`` through asyncpg, SQLite ``executemany``), never one service call per row.

The data is relative to ``now``: 18 months of past sessions with realistic outcomes and charges, six
months of booked future sessions, the last week partly still "needs a status". Every client has an
account (one shared password) and a sandbox card on file; a few cards decline.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from piccolo.table import Table

from app.domain import charges as charge_rules
from app.domain.statuses import AppointmentStatus as S
from app.domain.statuses import ChargeStatus as C
from app.models.db import engine
from app.models.tables import (
    Appointment,
    Charge,
    Client,
    ClientAssignment,
    Clinician,
    InsurancePolicy,
    Membership,
    PaymentMethod,
    Practice,
    StatusChange,
    User,
    WorkingHours,
)

TIME_ZONE = "America/New_York"
FEE = 15000
COPAY = 2500
SLOTS_PER_DAY = 10  # 08:00 … 17:00 local, 50-minute sessions
FIRST_HOUR = 8
BATCH = 5000
FIRST_NAMES = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Rowan",
    "Elliot",
    "Noor",
    "Priya",
    "Mateo",
    "Lucía",
]
LAST_NAMES = [
    "Rivera",
    "Chen",
    "Okafor",
    "Novak",
    "Haddad",
    "Silva",
    "Berg",
    "Kowalski",
    "Nguyen",
    "Moreau",
    "Tanaka",
    "Müller",
    "Adeyemi",
]


@dataclass(frozen=True)
class Scale:
    clinicians: int = 20
    clients: int = 2000
    appointments: int = 100_000


@dataclass
class Seeded:
    """What the load generator needs to know about the seeded data."""

    now: datetime
    password: str
    clinician_emails: list[str]
    client_emails: list[str]
    appointment_ids_by_clinician: dict[int, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r  {label:<16} [{'#' * filled}{'.' * (width - filled)}] {done:>7,}/{total:,}{end}")
    sys.stderr.flush()


def _columns(table: type[Table]) -> list[str]:
    return [column._meta.db_column_name for column in table._meta.columns]


async def bulk_insert(table: type[Table], rows: Sequence[dict]) -> None:
    """Insert ``rows`` (dicts with explicit ids) in batches; missing columns get the column default."""
    columns = _columns(table)
    defaults = {column._meta.db_column_name: column.get_default_value() for column in table._meta.columns}
    name = table._meta.tablename
    db = engine()
    total = len(rows)
    if db.engine_type == "postgres":
        import asyncpg

        connection = await asyncpg.connect(db.config["dsn"])
        try:
            for start in range(0, total, BATCH):
                chunk = rows[start : start + BATCH]
                records = [tuple(row.get(c, defaults[c]) for c in columns) for row in chunk]
                await connection.copy_records_to_table(name, records=records, columns=columns)
                progress(name, min(start + BATCH, total), total)
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "  # noqa: S608 - table names
                f'(SELECT COALESCE(MAX(id), 1) FROM "{name}"))'
            )
        finally:
            await connection.close()
    else:
        quoted = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        connection = sqlite3.connect(db.path)
        try:
            for start in range(0, total, BATCH):
                chunk = rows[start : start + BATCH]
                connection.executemany(
                    f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})',  # noqa: S608 - our table names
                    [tuple(row.get(c, defaults[c]) for c in columns) for row in chunk],
                )
                connection.commit()
                progress(name, min(start + BATCH, total), total)
        finally:
            connection.close()
    if total == 0:
        progress(name, 0, 0)


def _slots(first_monday: datetime, zone: ZoneInfo, count: int) -> Iterable[datetime]:
    """``count`` session starts, weekdays 08:00–17:00 local, two free slots a week (UTC)."""
    produced, week = 0, 0
    while True:
        for index in range(5 * SLOTS_PER_DAY):
            if index % 25 == 12:  # a free slot on two days a week
                continue
            day, slot = divmod(index, SLOTS_PER_DAY)
            local_day = (first_monday + timedelta(weeks=week, days=day)).date()
            local = datetime(local_day.year, local_day.month, local_day.day, FIRST_HOUR + slot, tzinfo=zone)
            yield local.astimezone(UTC)
            produced += 1
            if produced == count:
                return
        week += 1


def _past_status(rng: random.Random, ends_at: datetime, now: datetime) -> str:
    if now - ends_at < timedelta(days=7) and rng.random() < 0.3:
        return S.SCHEDULED  # not marked yet: the "needs a status" list
    roll = rng.random()
    if roll < 0.82:
        return S.OCCURRED
    if roll < 0.90:
        return S.CANCELLED
    if roll < 0.95:
        return S.LATE_CANCELLED
    return S.NO_SHOW


def _charge_outcome(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.93:
        return C.SUCCEEDED
    if roll < 0.96:
        return C.FAILED
    if roll < 0.98:
        return C.REFUNDED
    return C.WAIVED


async def seed(scale: Scale, *, now: datetime, password_hash: str, password: str) -> Seeded:
    """Write the whole practice group; returns the logins and ids the load generator uses."""
    rng = random.Random(9)
    zone = ZoneInfo(TIME_ZONE)
    local_now = now.astimezone(zone)
    this_monday = datetime(local_now.year, local_now.month, local_now.day, tzinfo=zone) - timedelta(
        days=local_now.weekday()
    )
    weeks_needed = -(-scale.appointments // max(scale.clinicians, 1) // 48)
    past_weeks = max(1, weeks_needed * 3 // 4)
    first_monday = this_monday - timedelta(weeks=past_weeks)
    created = now - timedelta(days=800)

    users, clinicians, hours, clients, policies, cards = [], [], [], [], [], []
    practices, members, assignments = [], [], []  # each clinician runs a practice of one
    for n in range(1, scale.clinicians + 1):
        users.append(
            dict(
                id=n,
                email=f"clinician{n}@bench.test",
                name=f"Dr {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                role="clinician",
                password_hash=password_hash,
                password_changed_at=created,
                time_zone=TIME_ZONE,
                created_at=created,
            )
        )
        practices.append(
            dict(
                id=n,
                name=f"Practice {n}",
                booking_slug=f"bench-{n}",
                time_zone=TIME_ZONE,
                insurance_email=f"billing{n}@bench.test",
                created_at=created,
            )
        )
        members.append(
            dict(id=n, practice=n, user=n, role="owner", clinician=n, invited_at=created, accepted_at=created)
        )
        clinicians.append(
            dict(
                id=n,
                user=n,
                practice=n,
                practice_name=f"Practice {n}",
                time_zone=TIME_ZONE,
                booking_slug=f"bench-{n}",
                insurance_email=f"billing{n}@bench.test",
                created_at=created,
            )
        )
        for weekday in range(5):
            hours.append(
                dict(id=len(hours) + 1, clinician=n, weekday=weekday, start_minute=8 * 60, end_minute=18 * 60)
            )
    clients_of: dict[int, list[tuple[int, int]]] = {n: [] for n in range(1, scale.clinicians + 1)}
    for index in range(scale.clients):
        client_id = index + 1
        user_id = scale.clinicians + client_id
        clinician_id = index % scale.clinicians + 1
        insured = index % 5 == 4
        email = f"client{client_id}@bench.test"
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {client_id}"
        users.append(
            dict(
                id=user_id,
                email=email,
                name=name,
                role="client",
                password_hash=password_hash,
                password_changed_at=created,
                time_zone=TIME_ZONE,
                created_at=created,
            )
        )
        assignments.append(dict(id=client_id, client=client_id, clinician=clinician_id, started_at=created))
        clients.append(
            dict(
                id=client_id,
                clinician=clinician_id,
                practice=clinician_id,
                user=user_id,
                name=name,
                email=email,
                billing_type="insurance" if insured else "self_pay",
                coverage_status="covered" if insured else "self_pay",
                created_at=created,
            )
        )
        if insured:
            policies.append(
                dict(
                    id=len(policies) + 1,
                    client=client_id,
                    payer="Blue Shield",
                    member_id=f"M{client_id:08d}",
                    group_number="G100",
                    subscriber_name=name,
                    copay_minor=COPAY,
                    updated_at=created,
                )
            )
        behaviour, last4 = ("card_declined", "0002") if index % 33 == 32 else ("ok", "4242")
        cards.append(
            dict(
                id=client_id,
                user=user_id,
                gateway="sandbox",
                customer_ref=f"cus_sbx_bench{user_id}",
                method_ref=f"pm_sbx:{behaviour}:{user_id:016x}",
                brand="Visa",
                last4=last4,
                exp_month=12,
                exp_year=now.year + 3,
                created_at=created,
            )
        )
        clients_of[clinician_id].append((client_id, COPAY if insured else FEE))

    appointments, changes, charges = [], [], []
    ids_by_clinician: dict[int, list[int]] = {}
    per_clinician = [scale.appointments // scale.clinicians] * scale.clinicians
    for extra in range(scale.appointments - sum(per_clinician)):
        per_clinician[extra] += 1
    for clinician_id, count in enumerate(per_clinician, start=1):
        roster = clients_of[clinician_id] or [(1, FEE)]
        ids_by_clinician[clinician_id] = []
        for slot_no, starts_at in enumerate(_slots(first_monday, zone, count)):
            appointment_id = len(appointments) + 1
            client_id, amount = roster[(slot_no * 7 + slot_no // 48) % len(roster)]
            ends_at = starts_at + timedelta(minutes=50)
            if starts_at > now:
                status = S.CANCELLED if rng.random() < 0.05 else S.SCHEDULED
            else:
                status = _past_status(rng, ends_at, now)
            changed_at = None
            if status != S.SCHEDULED:
                changed_at = min(
                    now, max(starts_at - timedelta(days=1), ends_at) + timedelta(hours=rng.randint(0, 36))
                )
                if status == S.CANCELLED and starts_at > now:
                    changed_at = now - timedelta(days=rng.randint(1, 10))
            appointments.append(
                dict(
                    id=appointment_id,
                    clinician=clinician_id,
                    client=client_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    duration_minutes=50,
                    fee_minor=FEE,
                    currency="USD",
                    kind="regular",
                    status=status,
                    status_changed_at=changed_at,
                    booked_via="clinician",
                    created_at=min(now, starts_at - timedelta(days=14)),
                    created_by=clinician_id,
                )
            )
            ids_by_clinician[clinician_id].append(appointment_id)
            if changed_at is not None:
                changes.append(
                    dict(
                        id=len(changes) + 1,
                        appointment=appointment_id,
                        from_status=S.SCHEDULED,
                        to_status=status,
                        changed_by=clinician_id,
                        changed_at=changed_at,
                    )
                )
            if status == S.OCCURRED:
                due = changed_at + timedelta(hours=48)
                outcome = C.SCHEDULED if due > now else _charge_outcome(rng)
                charge_id = len(charges) + 1
                settled = outcome in {C.SUCCEEDED, C.FAILED, C.REFUNDED}
                charges.append(
                    dict(
                        id=charge_id,
                        appointment=appointment_id,
                        client=client_id,
                        clinician=clinician_id,
                        amount_minor=amount,
                        currency="USD",
                        status=outcome,
                        due_at=due,
                        generation=1,
                        attempt_no=1 if settled else 0,
                        idempotency_key=charge_rules.idempotency_key(charge_id, 1) if settled else None,
                        gateway_reference=f"pi_sbx_bench{charge_id}" if settled else None,
                        payment_method=client_id if settled else None,
                        failure_code="card_declined" if outcome == C.FAILED else "",
                        failure_message="The card was declined." if outcome == C.FAILED else "",
                        succeeded_at=due if outcome in {C.SUCCEEDED, C.REFUNDED} else None,
                        refunded_minor=amount if outcome == C.REFUNDED else 0,
                        waived_by=clinician_id if outcome == C.WAIVED else None,
                        waived_at=due if outcome == C.WAIVED else None,
                        created_at=changed_at,
                        updated_at=min(now, due),
                    )
                )

    for table, rows in (
        (User, users),
        (Practice, practices),
        (Clinician, clinicians),
        (Membership, members),
        (WorkingHours, hours),
        (Client, clients),
        (ClientAssignment, assignments),
        (InsurancePolicy, policies),
        (PaymentMethod, cards),
        (Appointment, appointments),
        (StatusChange, changes),
        (Charge, charges),
    ):
        await bulk_insert(table, rows)
    # A live database has planner statistics and a visibility map (autovacuum keeps them); a freshly
    # bulk-loaded one has neither until then: the planner picks nested full scans without statistics,
    # and can't cost index-only scans without the map.
    await engine().run_ddl("VACUUM ANALYZE" if engine().engine_type == "postgres" else "ANALYZE")
    return Seeded(
        now=now,
        password=password,
        clinician_emails=[row["email"] for row in users if row["role"] == "clinician"],
        client_emails=[row["email"] for row in users if row["role"] == "client"],
        appointment_ids_by_clinician=ids_by_clinician,
        counts={
            "clinicians": len(clinicians),
            "clients": len(clients),
            "appointments": len(appointments),
            "status_changes": len(changes),
            "charges": len(charges),
        },
    )
