"""A practice's members (R12): the owner invites clinicians and front-desk members by email with the same
one-time links clients get (R2: 32 random bytes, only the hash stored, 7 days, once, a resend kills the
earlier link), sees where each invitation stands, and removes members with an explicit choice for a
clinician's future sessions. Removal ends the member's access at once: every request re-reads their
memberships."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.config import Settings
from app.domain import members as rules
from app.domain.accounts import Role, password_problem
from app.domain.members import Ability, FutureSessions, MemberRole, MemberState, RemovalPlan
from app.domain.statuses import AppointmentStatus
from app.domain.validation import FieldProblem, normalize_email
from app.models.db import transaction
from app.models.tables import AccountToken, Appointment, Client, Clinician, Membership, Practice, User
from app.services import account_tokens, accounts, audit, email, practices
from app.services.account_tokens import LinkState, Purpose
from app.services.appointments import apply_status_change
from app.services.context import Actor, CurrentUser
from app.services.errors import PracticeNotFound
from app.services.passwords import verify_password
from app.services.practices import require
from app.services.queue import JobQueue, QueuedJob, email_job


class MemberError(FieldProblem):
    """An invitation or removal the rules refuse; ``field`` names the form field for ``message``."""


@dataclass(frozen=True)
class NewMember:
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class Member:
    membership_id: int
    user_id: int
    name: str
    email: str
    role: MemberRole
    state: MemberState
    clinician_id: int | None
    invited_at: datetime
    invitation_expires_at: datetime | None

    @property
    def can_resend(self) -> bool:
        return self.state in (MemberState.INVITED, MemberState.INVITATION_EXPIRED)

    @property
    def can_remove(self) -> bool:
        return self.role is not MemberRole.OWNER and self.state is not MemberState.REMOVED


async def list_members(owner: CurrentUser, *, now: datetime) -> list[Member]:
    """Everyone who is, was or is invited to be a member of the owner's practice, with their state."""
    require(owner, Ability.MANAGE_MEMBERS)
    rows = (
        await Membership.select(
            Membership.id,
            Membership.user,
            Membership.user.name,
            Membership.user.email,
            Membership.role,
            Membership.clinician,
            Membership.invited_at,
            Membership.accepted_at,
            Membership.removed_at,
        )
        .where(Membership.practice == owner.practice_id)
        .order_by(Membership.id)
    )
    links = await AccountToken.select(AccountToken.membership, AccountToken.expires_at).where(
        AccountToken.membership.is_in([row["id"] for row in rows] or [0])
        & (AccountToken.purpose == Purpose.MEMBER_INVITATION.value)
        & AccountToken.used_at.is_null()
        & AccountToken.revoked_at.is_null()
    )
    expiry = {link["membership"]: link["expires_at"] for link in links}
    return [
        Member(
            membership_id=row["id"],
            user_id=row["user"],
            name=row["user.name"],
            email=row["user.email"],
            role=MemberRole(row["role"]),
            state=rules.member_state(
                accepted_at=row["accepted_at"],
                removed_at=row["removed_at"],
                invitation_expires_at=expiry.get(row["id"]),
                now=now,
            ),
            clinician_id=row["clinician"],
            invited_at=row["invited_at"],
            invitation_expires_at=expiry.get(row["id"]),
        )
        for row in rows
    ]


async def invite_member(
    owner: CurrentUser,
    data: NewMember,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Invite a clinician or front-desk member by email (one transaction; the email goes after commit).
    A new address gets a login without a password; returns the membership id."""
    require(owner, Ability.MANAGE_MEMBERS)
    try:
        role = MemberRole(data.role)
    except ValueError:
        raise MemberError("role", "Choose clinician or front desk.") from None
    if role not in rules.INVITABLE_ROLES:
        raise MemberError("role", "Choose clinician or front desk.")
    address = normalize_email(data.email)
    async with transaction():
        user = await User.select(User.id, User.role).where(User.email == address).first()
        if user is not None and user["role"] != Role.CLINICIAN:
            raise MemberError("email", "This address is a client's portal login; use another one.")
        if user is None:
            rows = await User.insert(
                User(email=address, name=data.name, role=Role.CLINICIAN.value, created_at=now)
            ).returning(User.id)
            user_id = rows[0]["id"]
        else:
            user_id = user["id"]
        if role is MemberRole.CLINICIAN:
            seat = await Clinician.select(Clinician.practice).where(Clinician.user == user_id).first()
            if seat is not None and seat["practice"] != owner.practice_id:
                raise MemberError(
                    "email", "This person is a clinician in another practice; invite them as front desk."
                )
        existing = (
            await Membership.objects()
            .where((Membership.practice == owner.practice_id) & (Membership.user == user_id))
            .first()
        )
        if existing is not None and existing.removed_at is None:
            raise MemberError("email", "This person is already a member or invited.")
        fresh = {
            Membership.role: role.value,
            Membership.invited_at: now,
            Membership.invited_by: actor.user_id,
            Membership.accepted_at: None,
            Membership.removed_at: None,
            Membership.removed_by: None,
        }
        if existing is not None:
            await Membership.update(fresh).where(Membership.id == existing.id)
            await practices.members_changed(owner.practice_id)
            membership_id = existing.id
        else:
            rows = await Membership.insert(
                Membership(
                    practice=owner.practice_id,
                    user=user_id,
                    role=role.value,
                    invited_at=now,
                    invited_by=actor.user_id,
                )
            ).returning(Membership.id)
            membership_id = rows[0]["id"]
        job = await _send_invitation(membership_id, now=now, actor=actor, settings=settings)
        await audit.record(
            "member_invited",
            actor=actor,
            at=now,
            object_type="membership",
            object_id=membership_id,
            detail=role,
        )
    await queue.enqueue_all([job])
    return membership_id


async def _send_invitation(
    membership_id: int, *, now: datetime, actor: Actor, settings: Settings
) -> QueuedJob:
    """A fresh link for this membership (its earlier ones die) and the email, in the caller's transaction."""
    row = (
        await Membership.select(
            Membership.user,
            Membership.role,
            Membership.user.name,
            Membership.user.email,
            Membership.user.password_hash,
            Membership.practice.name,
        )
        .where(Membership.id == membership_id)
        .first()
    )
    token = await account_tokens.issue(
        row["user"], Purpose.MEMBER_INVITATION, now, membership_id=membership_id, created_by=actor.user_id
    )
    inviter = await User.select(User.name, User.email).where(User.id == actor.user_id).first()
    message_id = await email.queue_email(
        to=row["user.email"],
        subject=f"Join {row['practice.name']} on Stillwater",
        template="member_invitation",
        context={
            "name": row["user.name"],
            "inviter": inviter["name"] if inviter else row["practice.name"],
            "practice_name": row["practice.name"],
            "role_label": MemberRole(row["role"]).label,
            "needs_password": row["user.password_hash"] is None,
            "link": f"{settings.base_url}/join/{token}",
        },
        now=now,
        settings=settings,
        kind="member_invitation",
        reply_to=inviter["email"] if inviter else "",
    )
    return email_job(message_id)


async def resend_invitation(
    owner: CurrentUser,
    membership_id: int,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> None:
    """A new link for a member who hasn't joined yet; the earlier link stops working."""
    require(owner, Ability.MANAGE_MEMBERS)
    async with transaction():
        membership = await _membership_of(owner, membership_id)
        if membership.accepted_at is not None or membership.removed_at is not None:
            raise MemberError("member", "Only a pending invitation can be sent again.")
        job = await _send_invitation(membership_id, now=now, actor=actor, settings=settings)
        await audit.record(
            "member_invitation_resent", actor=actor, at=now, object_type="membership", object_id=membership_id
        )
    await queue.enqueue_all([job])


async def _membership_of(owner: CurrentUser, membership_id: int) -> Membership:
    membership = (
        await Membership.objects()
        .where((Membership.id == membership_id) & (Membership.practice == owner.practice_id))
        .first()
    )
    if membership is None:
        raise PracticeNotFound(membership_id)
    return membership


@dataclass(frozen=True)
class JoinPage:
    """What the join link shows: its state and, for a live link, who invites whom to what."""

    state: LinkState
    practice_name: str = ""
    name: str = ""
    email: str = ""
    role_label: str = ""
    needs_password: bool = False


async def open_join_link(token: str, *, now: datetime) -> JoinPage:
    """Look at a member invitation link (recording the first visit) without using it up."""
    link = await account_tokens.check(token, Purpose.MEMBER_INVITATION, now)
    if link.state != LinkState.VALID or link.token is None or link.token.membership is None:
        return JoinPage(link.state if link.state != LinkState.VALID else LinkState.UNKNOWN)
    await account_tokens.mark_opened(link.token.id, now)
    row = (
        await Membership.select(
            Membership.role,
            Membership.practice.name,
            Membership.user.name,
            Membership.user.email,
            Membership.user.password_hash,
        )
        .where(Membership.id == link.token.membership)
        .first()
    )
    return JoinPage(
        LinkState.VALID,
        row["practice.name"],
        row["user.name"],
        row["user.email"],
        MemberRole(row["role"]).label,
        row["user.password_hash"] is None,
    )


@dataclass(frozen=True)
class Joined:
    """Someone joined ``practice_id``. A new login (``person``) is signed in at once; someone who already
    had a login signs in as usual (their two-step sign-in included)."""

    practice_id: int
    practice_name: str
    person: CurrentUser | None


async def accept_invitation(
    token: str, password: str, *, now: datetime, actor: Actor, settings: Settings
) -> Joined | None:
    """Join the practice: the link is claimed once; a new login sets its password here, an existing one
    proves it with theirs. A clinician gets their seat. None for a dead link; ``MemberError`` for a wrong
    or unacceptable password (the link stays usable)."""
    async with transaction():
        link = await account_tokens.check(token, Purpose.MEMBER_INVITATION, now)
        if link.state != LinkState.VALID or link.token is None or link.token.membership is None:
            return None
        user = await User.objects().where(User.id == link.token.user).first()
        new_login = user.password_hash is None
        if new_login:
            problem = password_problem(password, email=user.email, name=user.name)
            if problem:
                raise MemberError("password", problem)
        elif not await verify_password(user.password_hash, password, settings.password_hash_profile):
            raise MemberError("password", "That isn't the password of this login.")
        row = await account_tokens.claim(token, Purpose.MEMBER_INVITATION, now)
        if row is None:
            return None
        if new_login:
            await accounts.set_password(user.id, password, settings=settings, now=now)
        membership = await Membership.objects().where(Membership.id == row.membership).first()
        if membership.removed_at is not None:
            return None
        seat = None
        if MemberRole(membership.role).sees_clients:
            seat = await _seat_for(user, membership.practice, now=now)
        await Membership.update({Membership.accepted_at: now, Membership.clinician: seat}).where(
            Membership.id == membership.id
        )
        await practices.members_changed(membership.practice)
        await User.update({User.is_active: True}).where(User.id == user.id)
        await audit.record(
            "member_joined",
            actor=replace(
                actor,
                user_id=user.id,
                role=Role.CLINICIAN.value,
                practice_id=membership.practice,
                member_role=membership.role,
                clinician_id=seat,
            ),
            at=now,
            object_type="membership",
            object_id=membership.id,
        )
    practice = await Practice.select(Practice.name).where(Practice.id == membership.practice).first()
    person = await accounts.current_user(user.id, membership.practice) if new_login else None
    return Joined(membership.practice, practice["name"], person)


async def _seat_for(user: User, practice_id: int, *, now: datetime) -> int:
    """The person's clinician seat in this practice: theirs from before, or a new one with the practice's
    settings (the columns ``Clinician`` still mirrors) and a personal booking page of their own."""
    seat = await Clinician.select(Clinician.id).where(Clinician.user == user.id).first()
    if seat is not None:
        return seat["id"]
    practice = await Practice.objects().where(Practice.id == practice_id).first()
    rows = await Clinician.insert(
        Clinician(
            user=user.id,
            practice=practice_id,
            practice_name=practice.name,
            time_zone=practice.time_zone,
            currency=practice.currency,
            insurance_email=practice.insurance_email,
            booking_slug=await accounts.unique_booking_slug(user.name or user.email.split("@")[0]),
            booking_enabled=practice.booking_enabled,
            new_clients_may_book=practice.new_clients_may_book,
            min_notice_hours=practice.min_notice_hours,
            horizon_days=practice.horizon_days,
            intro_session_minutes=practice.intro_session_minutes,
            intro_fee_minor=practice.intro_fee_minor,
            cancellation_window_hours=practice.cancellation_window_hours,
            max_fee_minor=practice.max_fee_minor,
            require_two_factor=practice.require_two_factor,
            reminder_hours=practice.reminder_hours,
            created_at=now,
        )
    ).returning(Clinician.id)
    return rows[0]["id"]


async def future_sessions_of(clinician_id: int, *, now: datetime) -> list[Appointment]:
    return (
        await Appointment.objects()
        .where(
            (Appointment.clinician == clinician_id)
            & (Appointment.starts_at > now)
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
        )
        .order_by(Appointment.starts_at)
    )


async def remove_member(
    owner: CurrentUser,
    membership_id: int,
    plan: RemovalPlan,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> int:
    """Remove a member: their access to the practice ends at once and open invitation links die. A
    clinician's future sessions go to the colleague chosen, with their clients, or are cancelled, as the
    owner chose. Returns how many future sessions were moved or cancelled."""
    require(owner, Ability.MANAGE_MEMBERS)
    jobs: list[QueuedJob] = []
    async with transaction():
        membership = await _membership_of(owner, membership_id)
        if membership.removed_at is not None:
            return 0
        future = await future_sessions_of(membership.clinician, now=now) if membership.clinician else []
        colleagues = [c.clinician_id for c in await practices.clinicians_of(owner.practice_id)]
        problem = rules.removal_problem(
            role=membership.role,
            has_future_sessions=bool(future),
            plan=plan,
            removed_clinician_id=membership.clinician,
            colleague_ids=colleagues,
        )
        if problem:
            raise MemberError("future_sessions", problem)
        await Membership.update({Membership.removed_at: now, Membership.removed_by: actor.user_id}).where(
            Membership.id == membership_id
        )
        await practices.members_changed(owner.practice_id)
        await account_tokens.revoke(
            (AccountToken.membership == membership_id) & AccountToken.used_at.is_null(), now
        )
        if future and plan.future_sessions is FutureSessions.REASSIGN:
            await Appointment.update(
                {Appointment.clinician: plan.reassign_to, Appointment.sequence: Appointment.sequence + 1}
            ).where(Appointment.id.is_in([a.id for a in future]))
        elif future:
            for appointment in future:
                jobs += await apply_status_change(
                    appointment, AppointmentStatus.CANCELLED.value, now=now, actor=actor, settings=settings
                )
        if membership.clinician and plan.future_sessions is FutureSessions.REASSIGN:
            clients = await Client.select(Client.id).where(Client.clinician == membership.clinician)
            for client in clients:
                await practices.reassign(
                    client["id"], plan.reassign_to, now=now, actor=actor, practice_id=owner.practice_id
                )
        await audit.record(
            "member_removed",
            actor=actor,
            at=now,
            object_type="membership",
            object_id=membership_id,
            detail=f"{plan.future_sessions or 'none'}:{len(future)}",
        )
    await queue.enqueue_all(jobs)
    return len(future)
