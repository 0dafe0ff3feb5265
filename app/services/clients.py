"""Clients of a clinician and their portal accounts (R2).

Adding a client creates (or reuses) a client login for the address and, unless told not to, e-mails
an invitation with a one-time link to ``/invite/<token>``. One address is one login: the same person
added by two clinicians has two client records and sees both practices in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.domain.accounts import Role
from app.domain.statuses import BillingType
from app.domain.validation import normalize_email
from app.models.db import transaction
from app.models.tables import Client, Clinician, User
from app.services import account_tokens, audit, email
from app.services.account_tokens import Purpose
from app.services.context import Actor
from app.services.queue import JobQueue, QueuedJob, email_job


class ClientError(Exception):
    """A client could not be added; ``field`` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NewClient:
    name: str
    email: str
    phone: str = ""
    billing_type: str = BillingType.SELF_PAY.value


async def create_client(
    clinician_id: int, data: NewClient, *, invite: bool, now: datetime, actor: Actor, settings: Settings
) -> tuple[int, list[QueuedJob]]:
    """Insert the client (and their login if new) inside the caller's transaction.

    Returns the client id and the jobs to enqueue after commit (the invitation e-mail).
    Raises ``ClientError`` for an address already used by this practice or by a clinician.
    """
    address = normalize_email(data.email)
    user = await User.select(User.id, User.role, User.password_hash).where(User.email == address).first()
    if user is not None and user["role"] != Role.CLIENT:
        raise ClientError("email", "This address belongs to a clinician account; use another one.")
    if await Client.exists().where((Client.clinician == clinician_id) & (Client.email == address)):
        raise ClientError("email", "You already have a client with this email address.")
    if user is None:
        rows = await User.insert(
            User(email=address, name=data.name, role=Role.CLIENT.value, phone=data.phone, created_at=now)
        ).returning(User.id)
        user_id = rows[0]["id"]
        zone = await Clinician.select(Clinician.time_zone).where(Clinician.id == clinician_id).first()
        await User.update({User.time_zone: zone["time_zone"]}).where(User.id == user_id)
        has_password = False
    else:
        user_id, has_password = user["id"], user["password_hash"] is not None
    rows = await Client.insert(
        Client(
            clinician=clinician_id,
            user=user_id,
            name=data.name,
            email=address,
            phone=data.phone,
            billing_type=data.billing_type,
            created_at=now,
        )
    ).returning(Client.id)
    client_id = rows[0]["id"]
    await audit.record(
        "client_created",
        actor=actor,
        at=now,
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        clinician_id=clinician_id,
    )
    jobs: list[QueuedJob] = []
    if invite and not has_password:
        jobs.append(await invite_client(client_id, now=now, actor=actor, settings=settings))
    return client_id, jobs


async def add_client(
    clinician_id: int,
    data: NewClient,
    *,
    invite: bool,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Add a client (one transaction) and send the invitation after commit."""
    async with transaction():
        client_id, jobs = await create_client(
            clinician_id, data, invite=invite, now=now, actor=actor, settings=settings
        )
    await queue.enqueue_all(jobs)
    return client_id


async def invite_client(client_id: int, *, now: datetime, actor: Actor, settings: Settings) -> QueuedJob:
    """Issue a fresh invitation link (earlier ones die) and write the e-mail, inside the caller's
    transaction. Returns the e-mail job to enqueue after commit."""
    client = await Client.objects(Client.clinician).where(Client.id == client_id).first()
    token = await account_tokens.issue(
        client.user, Purpose.INVITATION, now, client_id=client_id, created_by=actor.user_id
    )
    practice = client.clinician
    message_id = await email.queue_email(
        to=client.email,
        subject=f"{practice.practice_name} invited you to Stillwater",
        template="invitation",
        context={
            "name": client.name,
            "practice_name": practice.practice_name,
            "insurance_email": practice.insurance_email,
            "link": f"{settings.base_url}/invite/{token}",
        },
        now=now,
        kind="invitation",
    )
    await audit.record(
        "invitation_sent",
        actor=actor,
        at=now,
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        clinician_id=practice.id,
    )
    return email_job(message_id)
