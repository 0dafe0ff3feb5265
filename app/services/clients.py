"""Clients of a clinician: adding, listing, showing and changing their records (R2 in docs/rules.md).

Adding a client creates (or reuses) a client login for the address and, unless told not to, e-mails
an invitation with a one-time link to ``/invite/<token>``. One address is one login: the same person
added by two clinicians has two client records and sees both practices in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.config import Settings
from app.domain.accounts import Role
from app.domain.clients import RESENDS_PER_DAY, InvitationState, contact_changes, email_change_problem
from app.domain.statuses import AppointmentStatus, BillingType
from app.domain.texts import CONSENT
from app.domain.validation import normalize_email
from app.models.db import engine, transaction
from app.models.tables import (
    Appointment,
    AuditEvent,
    Charge,
    Client,
    Clinician,
    InsurancePolicy,
    UndeliverableAddress,
    User,
)
from app.services import audit, bounces, practices
from app.services.client_accounts import Invitation, invitations_of, invite_client, resends_left
from app.services.context import Actor
from app.services.errors import ClientError, ClientNotFound
from app.services.queue import JobQueue, QueuedJob


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
    practice_id = await practices.practice_of_clinician(clinician_id)
    if await Client.exists().where((Client.practice == practice_id) & (Client.email == address)):
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
            practice=practice_id,
            user=user_id,
            name=data.name,
            email=address,
            phone=data.phone,
            billing_type=data.billing_type,
            created_at=now,
        )
    ).returning(Client.id)
    client_id = rows[0]["id"]
    await practices.start_assignment(client_id, clinician_id, now=now, assigned_by=actor.user_id)
    await audit.client_event("client_created", client_id, clinician_id, actor=actor, at=now)
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


@dataclass(frozen=True)
class ClientSummary:
    id: int
    name: str
    email: str
    phone: str
    archived: bool
    invitation: Invitation
    next_session: datetime | None = None


@dataclass(frozen=True)
class ClientDetail:
    client: Client
    insurance: InsurancePolicy | None
    invitation: Invitation
    appointments: list[Appointment]
    charges: dict[int, Charge] = field(default_factory=dict)
    undeliverable: UndeliverableAddress | None = None  # their address bounced or reported spam
    texts_stopped_at: datetime | None = None  # when they replied STOP (texts off since)


@dataclass(frozen=True)
class ClientChanges:
    name: str
    phone: str
    billing_type: str
    internal_note: str
    reminders_off: bool = False
    texts_on: bool = False  # the client agreed to reminders by text (``domain.texts.CONSENT``)
    fee_exemption: str = ""  # why no late-cancel or no-show fee is charged (R4); blank: none


def texts_consent(opted_in_at: datetime | None, texts_on: bool, now: datetime) -> dict:
    """Record when (and to what wording) the client agreed to texts; an earlier agreement keeps its time."""
    if not texts_on:
        return {Client.texts_opt_in_at: None}
    if opted_in_at is not None:
        return {}
    return {Client.texts_opt_in_at: now, Client.texts_consent: CONSENT}


async def own_client(clinician_id: int, client_id: int) -> Client:
    """The clinician's client record, or ``ClientNotFound``: every query is scoped to the clinician."""
    client = (
        await Client.objects().where((Client.id == client_id) & (Client.clinician == clinician_id)).first()
    )
    if client is None:
        raise ClientNotFound(client_id)
    return client


async def list_clients(
    clinician_id: int, *, now: datetime, search: str = "", archived: bool = False
) -> list[ClientSummary]:
    """The clinician's clients (active or archived), optionally filtered by name, email or phone."""
    query = Client.objects().where(Client.clinician == clinician_id)
    query = query.where(Client.archived_at.is_not_null() if archived else Client.archived_at.is_null())
    term = search.strip()[:100]
    if term:
        pattern = f"%{term}%"
        # SQLite's LIKE already ignores ASCII case; PostgreSQL needs ILIKE.
        like = "ilike" if engine().engine_type == "postgres" else "like"
        query = query.where(
            getattr(Client.name, like)(pattern)
            | getattr(Client.email, like)(pattern)
            | getattr(Client.phone, like)(pattern)
        )
    clients = await query.order_by(Client.name)
    invitations = await invitations_of({c.id: c.user for c in clients}, now)
    upcoming = (
        await Appointment.select(Appointment.client, Appointment.starts_at)
        .where(
            (Appointment.clinician == clinician_id)
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at >= now)
        )
        .order_by(Appointment.starts_at, ascending=False)
    )
    next_session = {row["client"]: row["starts_at"] for row in upcoming}
    return [
        ClientSummary(
            id=c.id,
            name=c.name,
            email=c.email,
            phone=c.phone,
            archived=c.archived_at is not None,
            invitation=invitations.get(c.id, Invitation(InvitationState.NOT_SENT)),
            next_session=next_session.get(c.id),
        )
        for c in clients
    ]


async def client_detail(
    clinician_id: int, client_id: int, *, now: datetime, viewer: Actor | None = None, what: str = "client"
) -> ClientDetail:
    """Everything on the client's page for their clinician; a ``viewer`` is recorded in the audit log."""
    client = await own_client(clinician_id, client_id)
    if viewer is not None:
        await audit.record_view(client_id, actor=viewer, at=now, what=what, clinician_id=clinician_id)
    insurance = await InsurancePolicy.objects().where(InsurancePolicy.client == client_id).first()
    invitation = (await invitations_of({client_id: client.user}, now)).get(client_id)
    invitation = invitation or Invitation(InvitationState.NOT_SENT)
    invitation = Invitation(
        invitation.state,
        invitation.sent_at,
        invitation.opened_at,
        invitation.expires_at,
        await resends_left(client_id, now),
    )
    sessions = (
        await Appointment.objects()
        .where((Appointment.client == client_id) & (Appointment.clinician == clinician_id))
        .order_by(Appointment.starts_at, ascending=False)
        .limit(200)
    )
    charges = await Charge.objects().where((Charge.client == client_id) & (Charge.clinician == clinician_id))
    return ClientDetail(
        client,
        insurance,
        invitation,
        sessions,
        {c.appointment: c for c in charges},
        await bounces.undeliverable_address(client.email),
        None if client.texts_opt_in_at else await texts_stopped_at(client_id),
    )


async def texts_stopped_at(client_id: int) -> datetime | None:
    """When the client last replied STOP, if texts are off because of it (a later START turns them on)."""
    last = (
        await AuditEvent.select(AuditEvent.action, AuditEvent.at)
        .where(
            (AuditEvent.object_type == "client")
            & (AuditEvent.object_id == client_id)
            & AuditEvent.action.is_in(["texts_stop", "texts_start"])
        )
        .order_by(AuditEvent.id, ascending=False)
        .first()
    )
    return last["at"] if last and last["action"] == "texts_stop" else None


async def update_client(
    clinician_id: int, client_id: int, changes: ClientChanges, *, now: datetime, actor: Actor
) -> None:
    """Change a client's contact and billing details (the email is their login and stays)."""
    async with transaction():
        client = await own_client(clinician_id, client_id)
        await Client.update(
            {
                Client.name: changes.name,
                Client.phone: changes.phone,
                Client.billing_type: changes.billing_type,
                Client.internal_note: changes.internal_note,
                Client.reminders_off: changes.reminders_off,
                **texts_consent(client.texts_opt_in_at, changes.texts_on, now),
                Client.fee_exemption: changes.fee_exemption,
            }
        ).where((Client.id == client_id) & (Client.clinician == clinician_id))
        await audit.client_event("client_updated", client_id, clinician_id, actor=actor, at=now)
        if (client.fee_exemption or "") != changes.fee_exemption:
            change = (
                "removed" if not changes.fee_exemption else "set" if not client.fee_exemption else "changed"
            )
            await audit.client_event(
                "fee_exemption_changed", client_id, clinician_id, actor=actor, at=now, detail=change
            )


@dataclass(frozen=True)
class ClientContact:
    name: str
    email: str
    phone: str


async def update_contact(
    clinician_id: int, client_id: int, contact: ClientContact, *, now: datetime, actor: Actor
) -> list[str]:
    """Change a client's name, email and phone (the front desk's edit, R12); returns what changed. The
    address changes, login too, until the client has set a password; ``ClientError`` on the field."""
    async with transaction():
        client = await own_client(clinician_id, client_id)
        login = await User.select(User.password_hash).where(User.id == client.user).first()
        before = {"name": client.name, "email": client.email, "phone": client.phone}
        changed = contact_changes(before, contact.__dict__)
        has_login = bool(login and login["password_hash"])
        problem = email_change_problem(changed="email" in changed, has_login=has_login)
        if problem:
            raise ClientError("email", problem)
        if "email" in changed and (
            await Client.exists().where(
                (Client.practice == client.practice)
                & (Client.email == contact.email)
                & (Client.id != client_id)
            )
            or await User.exists().where((User.email == contact.email) & (User.id != client.user))
        ):
            raise ClientError("email", "Another account already uses this address.")
        if not changed:
            return []
        await Client.update(
            {Client.name: contact.name, Client.email: contact.email, Client.phone: contact.phone}
        ).where(Client.id == client_id)
        if "email" in changed and client.user is not None:
            await User.update({User.email: contact.email}).where(User.id == client.user)
        await audit.client_event(
            "client_contact_changed", client_id, clinician_id, actor=actor, at=now, detail=", ".join(changed)
        )
    return changed


async def retry_email_address(clinician_id: int, client_id: int, *, now: datetime, actor: Actor) -> bool:
    """The clinician lifts the bounce block on their client's address; False when it wasn't blocked."""
    async with transaction():
        client = await own_client(clinician_id, client_id)
        lifted = await bounces.forget(client.email)
        if lifted is not None:
            await audit.client_event(
                "email_block_lifted", client_id, clinician_id, actor=actor, at=now, detail=lifted.reason
            )
    return lifted is not None


async def resend_invitation(
    clinician_id: int, client_id: int, *, now: datetime, actor: Actor, settings: Settings, queue: JobQueue
) -> None:
    """A fresh invitation link (the earlier one stops working); at most ``RESENDS_PER_DAY`` a day."""
    async with transaction():
        client = await own_client(clinician_id, client_id)
        if client.archived_at is not None:
            raise ClientError("invite", "This client is archived. Restore them before inviting.")
        user = await User.select(User.password_hash).where(User.id == client.user).first()
        if user is None:
            raise ClientError("invite", "This client has no login to invite.")
        if user["password_hash"] is not None:
            raise ClientError("invite", "This client already uses the portal.")
        if await resends_left(client_id, now) <= 0:
            raise ClientError(
                "invite", f"You can resend an invitation {RESENDS_PER_DAY} times a day. Try again tomorrow."
            )
        job = await invite_client(client_id, now=now, actor=actor, settings=settings)
        await audit.client_event("invitation_resent", client_id, clinician_id, actor=actor, at=now)
    await queue.enqueue_all([job])
