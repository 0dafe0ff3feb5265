"""Who may do what in a practice (R12): the members' roles, what each may do, which clients and sessions
each may see, and where an invited member stands. Pure rules; the services ask them before every read
and write, and the web layer only shows what they allow."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MemberRole(StrEnum):
    OWNER = "owner"
    CLINICIAN = "clinician"
    FRONT_DESK = "front_desk"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def sees_clients(self) -> bool:
        """Owners and clinicians have a clinician seat and clients of their own; the front desk has none."""
        return self is not MemberRole.FRONT_DESK


ROLE_LABELS = {
    MemberRole.OWNER: "Owner",
    MemberRole.CLINICIAN: "Clinician",
    MemberRole.FRONT_DESK: "Front desk",
}

# Roles an owner may invite (there is one owner: the person who started the practice).
INVITABLE_ROLES = (MemberRole.CLINICIAN, MemberRole.FRONT_DESK)


class Ability(StrEnum):
    """Practice-wide things a member may or may not do, whichever client or session is concerned."""

    SEE_EVERY_CALENDAR = "see_every_calendar"
    BOOK_FOR_ANY_CLINICIAN = "book_for_any_clinician"
    MANAGE_MEMBERS = "manage_members"
    CHANGE_PRACTICE_SETTINGS = "change_practice_settings"
    READ_PRACTICE_REPORT = "read_practice_report"
    READ_PRACTICE_AUDIT = "read_practice_audit"
    REASSIGN_CLIENTS = "reassign_clients"
    REFUND = "refund"
    SEE_CLINICAL_DETAILS = "see_clinical_details"


ABILITIES: dict[MemberRole, frozenset[Ability]] = {
    MemberRole.OWNER: frozenset(Ability),
    MemberRole.CLINICIAN: frozenset({Ability.REFUND, Ability.SEE_CLINICAL_DETAILS}),
    MemberRole.FRONT_DESK: frozenset({Ability.SEE_EVERY_CALENDAR, Ability.BOOK_FOR_ANY_CLINICIAN}),
}


def may(role: MemberRole | str, ability: Ability) -> bool:
    """Whether a member in ``role`` may do ``ability`` at all (object-level checks come on top)."""
    return ability in ABILITIES[MemberRole(role)]


class ClientAccess(StrEnum):
    """How much of a client's record a member may see."""

    NONE = "none"  # not found, as if it did not exist
    BOOKING = "booking"  # name, contact details, sessions and invitation: what booking needs
    FULL = "full"  # everything, insurance and notes included


def client_access(
    role: MemberRole | str,
    *,
    my_clinician_id: int | None,
    assigned_clinician_id: int,
    shared_with: Collection[int] = (),
) -> ClientAccess:
    """A practice's client as one of its members sees them. The owner sees everyone's; a clinician sees
    their own clients and those shared with them; the front desk sees what booking needs of everyone."""
    role = MemberRole(role)
    if role is MemberRole.OWNER:
        return ClientAccess.FULL
    if role is MemberRole.FRONT_DESK:
        return ClientAccess.BOOKING
    if my_clinician_id is not None and (
        my_clinician_id == assigned_clinician_id or my_clinician_id in shared_with
    ):
        return ClientAccess.FULL
    return ClientAccess.NONE


class MemberState(StrEnum):
    INVITED = "invited"
    INVITATION_EXPIRED = "invitation_expired"
    ACTIVE = "active"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return MEMBER_STATE_LABELS[self]


MEMBER_STATE_LABELS = {
    MemberState.INVITED: "Invited",
    MemberState.INVITATION_EXPIRED: "Invitation expired",
    MemberState.ACTIVE: "Active",
    MemberState.REMOVED: "Removed",
}


def member_state(
    *,
    accepted_at: datetime | None,
    removed_at: datetime | None,
    invitation_expires_at: datetime | None,
    now: datetime,
) -> MemberState:
    """Where a member stands: removed wins, then accepted, then the latest invitation's life."""
    if removed_at is not None:
        return MemberState.REMOVED
    if accepted_at is not None:
        return MemberState.ACTIVE
    if invitation_expires_at is None or invitation_expires_at <= now:
        return MemberState.INVITATION_EXPIRED
    return MemberState.INVITED


class FutureSessions(StrEnum):
    """What happens to a removed clinician's future sessions: an explicit choice, never a default."""

    REASSIGN = "reassign"
    CANCEL = "cancel"


@dataclass(frozen=True)
class RemovalPlan:
    future_sessions: FutureSessions | None
    reassign_to: int | None = None


def removal_problem(
    *,
    role: MemberRole | str,
    has_future_sessions: bool,
    plan: RemovalPlan,
    removed_clinician_id: int | None,
    colleague_ids: Collection[int],
) -> str | None:
    """Why this removal can't go ahead as asked, or None. The owner can't be removed; a clinician with
    future sessions needs a choice (reassign to a colleague of this practice, or cancel them)."""
    if MemberRole(role) is MemberRole.OWNER:
        return "The practice's owner can't be removed."
    if not has_future_sessions:
        return None
    if plan.future_sessions is None:
        return "Choose what happens to their future sessions: reassign them or cancel them."
    if plan.future_sessions is FutureSessions.REASSIGN and (
        plan.reassign_to is None
        or plan.reassign_to == removed_clinician_id
        or plan.reassign_to not in colleague_ids
    ):
        return "Choose a clinician of this practice to take their sessions."
    return None


def current_practice(practice_ids: Sequence[int], wanted: int | None) -> int | None:
    """The practice a person works in now (``practice_ids``: where they are an active member, in the
    order they joined): the one they switched to if they still belong to it, else the first they joined."""
    if not practice_ids:
        return None
    return wanted if wanted in practice_ids else practice_ids[0]


def calendar_to_work_in(
    own_seat: int | None, colleague_seats: Sequence[int], wanted: int | None
) -> int | None:
    """Whose calendar a member who sees every calendar works in: the colleague they switched to while that
    colleague is still a member, else their own seat, else (the front desk) the first clinician's."""
    if wanted is not None and wanted in colleague_seats:
        return wanted
    if own_seat is not None:
        return own_seat
    return colleague_seats[0] if colleague_seats else None
