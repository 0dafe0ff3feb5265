"""Report fixtures inserted straight into the tables, and a busy practice year for the benchmark.

For timing the report: ``await seed_practice_year(clinician_id, client_ids, first_monday=…, weeks=52,
per_week=40)`` builds a year of a busy practice (about 2,080 sessions with charges and status history);
then time ``app.services.report.report_page({"preset": ["custom"], "start": […], "end": […]}, …)``
and a full iteration of ``app.services.report.csv_lines(...)``. Nothing here asserts speed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.domain.statuses import AppointmentStatus as S
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Client, Clinician, StatusChange


async def add_client(clinician_id: int, name: str, *, billing_type: str = "self_pay", now: datetime) -> int:
    practice = await Clinician.select(Clinician.practice).where(Clinician.id == clinician_id).first()
    rows = await Client.insert(
        Client(
            clinician=clinician_id,
            practice=practice["practice"],
            name=name,
            email=f"{abs(hash(name)) % 10**9}@example.test",
            billing_type=billing_type,
            created_at=now,
        )
    ).returning(Client.id)
    return rows[0]["id"]


async def add_appointment(
    clinician_id: int,
    client_id: int,
    starts_at: datetime,
    *,
    status: str = S.SCHEDULED,
    fee_minor: int = 15000,
    minutes: int = 50,
) -> int:
    rows = await Appointment.insert(
        Appointment(
            clinician=clinician_id,
            client=client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            duration_minutes=minutes,
            fee_minor=fee_minor,
            status=status,
            created_at=starts_at - timedelta(days=14),
        )
    ).returning(Appointment.id)
    return rows[0]["id"]


async def add_status_change(
    appointment_id: int, from_status: str, to_status: str, *, by: int | None, at: datetime
) -> None:
    await StatusChange.insert(
        StatusChange(
            appointment=appointment_id,
            from_status=from_status,
            to_status=to_status,
            changed_by=by,
            changed_at=at,
        )
    )
    await Appointment.update({Appointment.status: to_status, Appointment.status_changed_at: at}).where(
        Appointment.id == appointment_id
    )


async def set_charge(
    appointment_id: int,
    status: str,
    amount_minor: int,
    *,
    due_at: datetime,
    succeeded_at: datetime | None = None,
    refunded_minor: int = 0,
) -> None:
    """Give an appointment its charge in this state (updating one the status service may have made)."""
    appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
    values = {
        Charge.status: status,
        Charge.amount_minor: amount_minor,
        Charge.due_at: due_at,
        Charge.succeeded_at: succeeded_at,
        Charge.refunded_minor: refunded_minor,
        Charge.updated_at: due_at,
    }
    existing = await Charge.select(Charge.id).where(Charge.appointment == appointment_id).first()
    if existing:
        await Charge.update(values).where(Charge.id == existing["id"])
        return
    await Charge.insert(
        Charge(
            appointment=appointment_id,
            client=appointment.client,
            clinician=appointment.clinician,
            amount_minor=amount_minor,
            status=status,
            due_at=due_at,
            succeeded_at=succeeded_at,
            refunded_minor=refunded_minor,
            created_at=due_at - timedelta(days=2),
            updated_at=due_at,
        )
    )


# A week of a busy practice cycles through these outcomes (status, charge status or None).
WEEK_PATTERN = [
    (S.OCCURRED, C.SUCCEEDED),
    (S.OCCURRED, C.SUCCEEDED),
    (S.OCCURRED, C.SUCCEEDED),
    (S.OCCURRED, C.FAILED),
    (S.OCCURRED, C.REFUNDED),
    (S.NO_SHOW, None),
    (S.LATE_CANCELLED, None),
    (S.CANCELLED, None),
]


async def seed_practice_year(
    clinician_id: int,
    client_ids: list[int],
    *,
    first_monday: datetime,
    weeks: int = 52,
    per_week: int = 40,
    set_by: int | None = None,
) -> int:
    """Insert ``weeks × per_week`` past sessions with charges and status history; returns how many."""
    appointments, changes, count = [], [], 0
    for week in range(weeks):
        for slot in range(per_week):
            day, hour = divmod(slot, 8)
            starts_at = first_monday + timedelta(weeks=week, days=day % 5, hours=hour)
            status, _ = WEEK_PATTERN[slot % len(WEEK_PATTERN)]
            appointments.append(
                Appointment(
                    clinician=clinician_id,
                    client=client_ids[slot % len(client_ids)],
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=50),
                    duration_minutes=50,
                    fee_minor=15000,
                    status=status,
                    status_changed_at=starts_at + timedelta(hours=3),
                    created_at=starts_at - timedelta(days=14),
                )
            )
            count += 1
    async with transaction():
        for start in range(0, len(appointments), 500):
            await Appointment.insert(*appointments[start : start + 500])
        rows = (
            await Appointment.select(
                Appointment.id, Appointment.client, Appointment.starts_at, Appointment.status
            )
            .where(
                (Appointment.clinician == clinician_id)
                & (Appointment.starts_at >= first_monday)
                & (Appointment.starts_at < first_monday + timedelta(weeks=weeks))
            )
            .order_by(Appointment.id)
        )
        charges = []
        for index, row in enumerate(rows):
            changes.append(
                StatusChange(
                    appointment=row["id"],
                    from_status=S.SCHEDULED,
                    to_status=row["status"],
                    changed_by=set_by,
                    changed_at=row["starts_at"] + timedelta(hours=3),
                )
            )
            _, charge_status = WEEK_PATTERN[index % len(WEEK_PATTERN)]
            if row["status"] == S.OCCURRED and charge_status:
                due = row["starts_at"] + timedelta(hours=51)
                charges.append(
                    Charge(
                        appointment=row["id"],
                        client=row["client"],
                        clinician=clinician_id,
                        amount_minor=15000,
                        status=charge_status,
                        due_at=due,
                        succeeded_at=due if charge_status != C.FAILED else None,
                        refunded_minor=15000 if charge_status == C.REFUNDED else 0,
                        created_at=due,
                        updated_at=due,
                    )
                )
        for start in range(0, len(changes), 500):
            await StatusChange.insert(*changes[start : start + 500])
        for start in range(0, len(charges), 500):
            await Charge.insert(*charges[start : start + 500])
    return count
