"""The practice as its members see it (R12): which practice and whose calendar a person works in now,
its clinicians, and a client's assigned clinician (reassigning keeps the history) and shares.

``client_for`` is how these use cases look a client up for a member: another practice's client, or a
colleague's client not shared with a clinician, is not found. (The clinician pages look records up by
the clinician seat the member works in, ``CurrentUser.clinician_id``.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from app.domain import members as rules
from app.domain.members import Ability, ClientAccess, MemberRole
from app.models.db import transaction
from app.models.tables import (
    Appointment,
    Client,
    ClientAssignment,
    ClientShare,
    Clinician,
    Membership,
    Practice,
)
from app.services import audit, sessions
from app.services.context import Actor, CurrentUser
from app.services.errors import ClientNotFound, NotAllowed, PracticeNotFound
from app.services.sessions import Session, SessionStore


def require(member: CurrentUser, ability: Ability) -> None:
    """Refuse unless the signed-in member's role in their current practice allows ``ability``."""
    if not member.is_member or not rules.may(member.member_role, ability):
        raise NotAllowed()


async def practice_of_clinician(clinician_id: int) -> int:
    row = await Clinician.select(Clinician.practice).where(Clinician.id == clinician_id).first()
    if row is None or row["practice"] is None:
        raise PracticeNotFound(clinician_id)
    return row["practice"]


async def owner_seats(practice_ids: Iterable[int]) -> dict[int, int]:
    """Each practice's owner's clinician seat, by practice: the practice's documents and intake
    questions hang off it."""
    ids = sorted(set(practice_ids))
    if not ids:
        return {}
    rows = await Membership.select(Membership.practice, Membership.clinician).where(
        Membership.practice.is_in(ids)
        & (Membership.role == MemberRole.OWNER.value)
        & Membership.clinician.is_not_null()
        & Membership.removed_at.is_null()
    )
    return {row["practice"]: row["clinician"] for row in rows}


@dataclass(frozen=True)
class Colleague:
    clinician_id: int
    user_id: int
    name: str


async def clinicians_of(practice_id: int) -> list[Colleague]:
    """The practice's clinicians who are members now (the owner's seat included), by name."""
    rows = (
        await Membership.select(Membership.clinician, Membership.user, Membership.user.name)
        .where(
            (Membership.practice == practice_id)
            & (Membership.clinician.is_not_null())
            & (Membership.accepted_at.is_not_null())
            & (Membership.removed_at.is_null())
        )
        .order_by(Membership.user.name)
    )
    return [Colleague(row["clinician"], row["user"], row["user.name"]) for row in rows]


@dataclass(frozen=True)
class ClientForMember:
    client: Client
    access: ClientAccess

    @property
    def sees_clinical_details(self) -> bool:
        return self.access is ClientAccess.FULL


async def client_for(member: CurrentUser, client_id: int) -> ClientForMember:
    """A client of the member's current practice with how much of it they may see; ``ClientNotFound``
    for another practice's client or one the member may not see at all."""
    if not member.is_member:
        raise ClientNotFound(client_id)
    client = (
        await Client.objects()
        .where((Client.id == client_id) & (Client.practice == member.practice_id))
        .first()
    )
    if client is None:
        raise ClientNotFound(client_id)
    shared = await ClientShare.select(ClientShare.clinician).where(ClientShare.client == client_id)
    access = rules.client_access(
        member.member_role,
        my_clinician_id=member.own_clinician_id,
        assigned_clinician_id=client.clinician,
        shared_with=[row["clinician"] for row in shared],
    )
    if access is ClientAccess.NONE:
        raise ClientNotFound(client_id)
    return ClientForMember(client, access)


async def seat_holding(
    member: CurrentUser, *, client_id: int | None = None, appointment_id: int | None = None
) -> int | None:
    """The clinician seat that holds this client (their assigned clinician) or session (its clinician)
    when the member may see it (``client_for``), so the owner and the front desk open a colleague's
    client or session without switching calendars; None when it isn't theirs to see."""
    if not member.is_member:
        return None
    seat = None
    if appointment_id is not None:
        row = (
            await Appointment.select(Appointment.client, Appointment.clinician)
            .where(Appointment.id == appointment_id)
            .where(Appointment.clinician.practice == member.practice_id)
            .first()
        )
        if row is None:
            return None
        client_id, seat = row["client"], row["clinician"]
    if client_id is None:
        return None
    try:
        found = await client_for(member, client_id)
    except ClientNotFound:
        return None
    return seat or found.client.clinician


async def colleague(practice_id: int, clinician_id: int) -> Colleague:
    """A clinician who is a member of this practice now; ``PracticeNotFound`` otherwise."""
    for candidate in await clinicians_of(practice_id):
        if candidate.clinician_id == clinician_id:
            return candidate
    raise PracticeNotFound(clinician_id)


async def start_assignment(
    client_id: int, clinician_id: int, *, now: datetime, assigned_by: int | None
) -> None:
    """Open the client's assignment history with their first clinician (inside the caller's transaction)."""
    await ClientAssignment.insert(
        ClientAssignment(client=client_id, clinician=clinician_id, started_at=now, assigned_by=assigned_by)
    )


async def reassign(
    client_id: int, to_clinician_id: int, *, now: datetime, actor: Actor, practice_id: int
) -> bool:
    """Give the client another clinician of the practice (inside the caller's transaction): close the
    current assignment, open the next. Their sessions keep the clinician who holds them. False if already."""
    client = (
        await Client.select(Client.clinician)
        .where((Client.id == client_id) & (Client.practice == practice_id))
        .first()
    )
    if client is None:
        raise ClientNotFound(client_id)
    if client["clinician"] == to_clinician_id:
        return False
    await colleague(practice_id, to_clinician_id)
    await ClientAssignment.update({ClientAssignment.ended_at: now}).where(
        (ClientAssignment.client == client_id) & (ClientAssignment.ended_at.is_null())
    )
    await start_assignment(client_id, to_clinician_id, now=now, assigned_by=actor.user_id)
    await Client.update({Client.clinician: to_clinician_id}).where(Client.id == client_id)
    await ClientShare.delete().where(
        (ClientShare.client == client_id) & (ClientShare.clinician == to_clinician_id)
    )
    await audit.client_event(
        "client_reassigned",
        client_id,
        to_clinician_id,
        actor=actor,
        at=now,
        detail=f"{client['clinician']}->{to_clinician_id}",
    )
    return True


async def reassign_client(
    member: CurrentUser, client_id: int, to_clinician_id: int, *, now: datetime, actor: Actor
) -> bool:
    """The owner gives a client another clinician of the practice; the history keeps who had them when."""
    require(member, Ability.REASSIGN_CLIENTS)
    async with transaction():
        return await reassign(
            client_id, to_clinician_id, now=now, actor=actor, practice_id=member.practice_id
        )


@dataclass(frozen=True)
class Assignment:
    clinician_name: str
    started_at: datetime
    ended_at: datetime | None


async def assignment_history(member: CurrentUser, client_id: int) -> list[Assignment]:
    """Who the client was assigned to and when, oldest first (for members who may see the client)."""
    await client_for(member, client_id)
    rows = (
        await ClientAssignment.select(
            ClientAssignment.clinician.user.name, ClientAssignment.started_at, ClientAssignment.ended_at
        )
        .where(ClientAssignment.client == client_id)
        .order_by(ClientAssignment.id)
    )
    return [Assignment(r["clinician.user.name"], r["started_at"], r["ended_at"]) for r in rows]


@dataclass(frozen=True)
class ClientTeam:
    """Who works with a client: their clinician, the colleagues it is shared with, who else could be."""

    client: Client
    clinician: Colleague | None
    shared_with: list[Colleague]
    others: list[Colleague]
    history: list[Assignment]
    may_reassign: bool


async def client_team(member: CurrentUser, client_id: int) -> ClientTeam:
    """The client's clinician and shares, for a member who sees all of the client (R12)."""
    found = await client_for(member, client_id)
    if not found.sees_clinical_details:
        raise NotAllowed()
    everyone = await clinicians_of(member.practice_id)
    shared = {
        row["clinician"]
        for row in await ClientShare.select(ClientShare.clinician).where(ClientShare.client == client_id)
    }
    assigned = found.client.clinician
    return ClientTeam(
        client=found.client,
        clinician=next((c for c in everyone if c.clinician_id == assigned), None),
        shared_with=[c for c in everyone if c.clinician_id in shared],
        others=[c for c in everyone if c.clinician_id != assigned and c.clinician_id not in shared],
        history=await assignment_history(member, client_id),
        may_reassign=rules.may(member.member_role, Ability.REASSIGN_CLIENTS),
    )


async def share_client(
    member: CurrentUser, client_id: int, with_clinician_id: int, *, now: datetime, actor: Actor
) -> bool:
    """Let a colleague see a client: the owner, or the client's own clinician, may share. False if already."""
    found = await client_for(member, client_id)
    if (
        MemberRole(member.member_role) is not MemberRole.OWNER
        and member.own_clinician_id != found.client.clinician
    ):
        raise NotAllowed("Only the client's clinician or the practice's owner can share this client.")
    await colleague(member.practice_id, with_clinician_id)
    if with_clinician_id == found.client.clinician:
        return False
    async with transaction():
        if await ClientShare.exists().where(
            (ClientShare.client == client_id) & (ClientShare.clinician == with_clinician_id)
        ):
            return False
        await ClientShare.insert(
            ClientShare(client=client_id, clinician=with_clinician_id, shared_at=now, shared_by=actor.user_id)
        )
        await audit.client_event(
            "client_shared",
            client_id,
            found.client.clinician,
            actor=actor,
            at=now,
            detail=str(with_clinician_id),
        )
    return True


async def unshare_client(
    member: CurrentUser, client_id: int, clinician_id: int, *, now: datetime, actor: Actor
) -> bool:
    """Stop sharing a client with a colleague (same people as ``share_client``). False if it wasn't."""
    found = await client_for(member, client_id)
    if (
        MemberRole(member.member_role) is not MemberRole.OWNER
        and member.own_clinician_id != found.client.clinician
    ):
        raise NotAllowed(
            "Only the client's clinician or the practice's owner can change who sees this client."
        )
    async with transaction():
        removed = (
            await ClientShare.delete()
            .where((ClientShare.client == client_id) & (ClientShare.clinician == clinician_id))
            .returning(ClientShare.id)
        )
        if removed:
            await audit.client_event(
                "client_unshared",
                client_id,
                found.client.clinician,
                actor=actor,
                at=now,
                detail=str(clinician_id),
            )
    return bool(removed)


async def switch_practice(
    sessions: SessionStore,
    session: Session,
    member: CurrentUser,
    practice_id: int,
    *,
    now: datetime,
    actor: Actor,
) -> None:
    """Work in another practice the person belongs to (the session remembers it); ``PracticeNotFound``
    for a practice they are not an active member of."""
    if practice_id not in {pid for pid, _ in member.practices}:
        raise PracticeNotFound(practice_id)
    session.practice_id = practice_id
    session.clinician_id = None
    await sessions.save(session)
    async with transaction():
        await audit.record(
            "practice_switched",
            actor=replace(actor, practice_id=practice_id, clinician_id=None),
            at=now,
            object_type="practice",
            object_id=practice_id,
        )


async def work_in_calendar_of(
    sessions: SessionStore, session: Session, member: CurrentUser, clinician_id: int
) -> str:
    """The owner or the front desk works in a colleague's calendar (the session remembers it): their
    sessions, clients and booking. Returns the colleague's name; ``PracticeNotFound`` for anyone else."""
    require(member, Ability.SEE_EVERY_CALENDAR)
    names = dict(member.colleagues)
    if clinician_id not in names:
        raise PracticeNotFound(clinician_id)
    session.clinician_id = clinician_id
    await sessions.save(session)
    return names[clinician_id]


PRACTICE_LEVEL_COLUMNS = (
    "time_zone",
    "currency",
    "insurance_email",
    "booking_enabled",
    "new_clients_may_book",
    "min_notice_hours",
    "horizon_days",
    "intro_session_minutes",
    "intro_fee_minor",
    "cancellation_window_hours",
    "max_fee_minor",
    "require_two_factor",
    "reminder_hours",
)


async def keep_practice_in_step(clinician_id: int) -> None:
    """After a member changes their settings (inside the caller's transaction): the owner's practice-level
    values become the practice's, then every seat in the practice takes the practice's values again, so
    an owner's change reaches every colleague and a colleague's seat can't drift from the practice."""
    seat = (
        await Clinician.select(Clinician.practice, *(getattr(Clinician, c) for c in PRACTICE_LEVEL_COLUMNS))
        .where(Clinician.id == clinician_id)
        .first()
    )
    if seat is None or seat["practice"] is None:
        return
    practice_id = seat["practice"]
    owner_seats_now = await owner_seats([practice_id])
    if owner_seats_now.get(practice_id) == clinician_id:
        await Practice.update({getattr(Practice, c): seat[c] for c in PRACTICE_LEVEL_COLUMNS}).where(
            Practice.id == practice_id
        )
    await seats_follow_practice(practice_id)
    await members_changed(practice_id)


async def seats_follow_practice(practice_id: int) -> None:
    """Every clinician seat in the practice takes the practice's name and practice-level settings."""
    practice = (
        await Practice.select(Practice.name, *(getattr(Practice, c) for c in PRACTICE_LEVEL_COLUMNS))
        .where(Practice.id == practice_id)
        .first()
    )
    values = {getattr(Clinician, c): practice[c] for c in PRACTICE_LEVEL_COLUMNS}
    await Clinician.update({**values, Clinician.practice_name: practice["name"]}).where(
        Clinician.practice == practice_id
    )


async def members_changed(practice_id: int) -> None:
    """The practice, its members or their roles changed: every member's cached person (practice name,
    role, colleagues) is read again on their next request, a removed member's too."""
    for row in await Membership.select(Membership.user).where(Membership.practice == practice_id):
        sessions.person_changed(row["user"])
