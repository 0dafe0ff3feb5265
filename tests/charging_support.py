"""Shared set-up for the charging tests: a practice, a client with a card, an appointment, status changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import Settings
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Client, InsurancePolicy, SandboxPayment
from app.payments.sandbox import SandboxGateway
from app.services import appointments, cards
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.helpers import Person, make_client, make_clinician

VISA = "4242424242424242"
DECLINE = "4000000000000002"
NO_FUNDS = "4000000000009995"
NEEDS_AUTH = "4000002760003184"


@dataclass
class Practice:
    clinician: Person
    client: Person
    client_id: int
    appointment_id: int

    @property
    def clinician_actor(self) -> Actor:
        return Actor(
            user_id=self.clinician.user.id, role="clinician", clinician_id=self.clinician.user.clinician_id
        )


async def add_appointment(
    clinician: Person, client_id: int, starts_at: datetime, fee_minor: int = 15000
) -> int:
    async with transaction():
        rows = await Appointment.insert(
            Appointment(
                clinician=clinician.user.clinician_id,
                client=client_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=50),
                duration_minutes=50,
                fee_minor=fee_minor,
                currency="USD",
                status="scheduled",
                created_at=starts_at - timedelta(days=7),
            )
        ).returning(Appointment.id)
    return rows[0]["id"]


async def save_card(practice: Practice, number: str, now: datetime, settings: Settings, queue: JobQueue):
    return await cards.save_sandbox_card(
        practice.client.user.id,
        number,
        12,
        now.year + 3,
        gateway=SandboxGateway(),
        now=now,
        actor=Actor(user_id=practice.client.user.id, role="client"),
        settings=settings,
        queue=queue,
    )


async def make_practice(
    settings: Settings,
    now: datetime,
    queue: JobQueue,
    *,
    card: str | None = VISA,
    fee_minor: int = 15000,
    email: str = "maya@example.test",
    client_email: str = "alex@example.test",
) -> Practice:
    clinician = await make_clinician(settings, now, email=email)
    client, client_id = await make_client(settings, now, clinician, email=client_email)
    appointment_id = await add_appointment(clinician, client_id, now - timedelta(hours=1), fee_minor)
    practice = Practice(clinician, client, client_id, appointment_id)
    if card:
        await save_card(practice, card, now, settings, queue)
    return practice


async def set_insurance(client_id: int, copay_minor: int | None) -> None:
    async with transaction():
        await Client.update({Client.billing_type: "insurance"}).where(Client.id == client_id)
        await InsurancePolicy.insert(
            InsurancePolicy(
                client=client_id, payer="Aetna", copay_minor=copay_minor, updated_at=datetime.now()
            )
        )


async def mark(practice: Practice, status: str, now: datetime, settings: Settings, queue: JobQueue):
    return await appointments.change_status(
        practice.appointment_id,
        status,
        clinician_id=practice.clinician.user.clinician_id,
        now=now,
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )


async def the_charge(appointment_id: int) -> Charge | None:
    return await Charge.objects().where(Charge.appointment == appointment_id).first()


async def gateway_charges() -> int:
    """Payments the sandbox processor actually took (what a client would see on a statement)."""
    return await SandboxPayment.count().where(
        (SandboxPayment.kind == "payment") & (SandboxPayment.status == "succeeded")
    )


async def fast_forward(redis, settings: Settings) -> None:
    """Make every deferred job runnable now (the frozen clock is ahead of the real one that arq uses)."""
    import time

    jobs = await redis.zrange(settings.queue_name, 0, -1)
    if jobs:
        await redis.zadd(settings.queue_name, dict.fromkeys(jobs, int(time.time() * 1000)))
