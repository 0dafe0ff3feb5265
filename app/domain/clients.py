"""Client-facing rules: an invitation's visible life (R2) and what the portal may show of a status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from app.domain.statuses import AppointmentStatus as S

RESENDS_PER_DAY = 5


class InvitationState(StrEnum):
    NOT_SENT = "not_sent"
    SENT = "sent"
    OPENED = "opened"
    ACCEPTED = "accepted"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return INVITATION_LABELS[self]


INVITATION_LABELS = {
    InvitationState.NOT_SENT: "Not invited yet",
    InvitationState.SENT: "Invite sent",
    InvitationState.OPENED: "Invite opened",
    InvitationState.ACCEPTED: "Portal active",
    InvitationState.EXPIRED: "Invite expired",
}


def invitation_state(
    *,
    has_password: bool,
    sent_at: datetime | None,
    opened_at: datetime | None,
    expires_at: datetime | None,
    used: bool,
    now: datetime,
) -> InvitationState:
    """Where the latest invitation stands. A login with a password is accepted, however it got one."""
    if has_password:
        return InvitationState.ACCEPTED
    if sent_at is None:
        return InvitationState.NOT_SENT
    if used or (expires_at is not None and expires_at <= now):
        return InvitationState.EXPIRED
    if opened_at is not None:
        return InvitationState.OPENED
    return InvitationState.SENT


# The portal shows a client neutral words: "No-show" and "Late cancelled" are the practice's notes.
PORTAL_STATUS_LABELS = {
    S.SCHEDULED: "Scheduled",
    S.OCCURRED: "Attended",
    S.CANCELLED: "Cancelled",
    S.LATE_CANCELLED: "Cancelled",
    S.NO_SHOW: "Missed",
}


def portal_status_label(status: str) -> str:
    try:
        return PORTAL_STATUS_LABELS[S(status)]
    except ValueError:
        return "Scheduled"


CONTACT_FIELDS = ("name", "email", "phone")


def contact_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Which contact details (name, email, phone) differ, in that order."""
    return [name for name in CONTACT_FIELDS if before.get(name, "") != after.get(name, "")]


def email_change_problem(*, changed: bool, has_login: bool) -> str | None:
    """Why the client's address can't change here: once they have set a password it is their login."""
    if changed and has_login:
        return "This address is their portal login now; they change it themselves."
    return None
