"""A client's portal login and its invitation links (R2 in docs/rules.md).

One address is one login: the same person added by two clinicians has two client records and sees both
practices in the portal. Each record has its own invitation links; a practice sees only its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import Settings
from app.domain.clients import RESENDS_PER_DAY, InvitationState, invitation_state
from app.models.tables import AccountToken, AuditEvent, Client, User
from app.services import account_tokens, audit, email, paperwork
from app.services.account_tokens import Purpose
from app.services.context import Actor
from app.services.queue import QueuedJob, email_job


@dataclass(frozen=True)
class Invitation:
    state: InvitationState
    sent_at: datetime | None = None
    opened_at: datetime | None = None
    expires_at: datetime | None = None
    resends_left: int = RESENDS_PER_DAY

    @property
    def can_resend(self) -> bool:
        return self.state != InvitationState.ACCEPTED and self.resends_left > 0


async def invite_client(client_id: int, *, now: datetime, actor: Actor, settings: Settings) -> QueuedJob:
    """Issue a fresh invitation link (this record's earlier ones die) and write the e-mail, inside
    the caller's transaction. Returns the e-mail job to enqueue after commit."""
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
            "forms_line": await paperwork.forms_line(client_id, now),
        },
        now=now,
        settings=settings,
        kind="invitation",
        reply_to=await email.practice_address(practice.id),
    )
    await audit.client_event("invitation_sent", client_id, practice.id, actor=actor, at=now)
    return email_job(message_id)


async def invite_if_no_password(
    client_id: int, *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    """The invitation of a client whose login has no password yet (none otherwise); called after their
    first session is booked so the email names its day."""
    waiting = await Client.exists().where((Client.id == client_id) & Client.user.password_hash.is_null())
    return [await invite_client(client_id, now=now, actor=actor, settings=settings)] if waiting else []


async def invitations_of(logins: Mapping[int, int | None], now: datetime) -> dict[int, Invitation]:
    """The invitation state of each client record (``logins``: client id -> its login's user id),
    from that record's own latest link: a practice never sees another practice's invitations."""
    user_ids = sorted({user for user in logins.values() if user})
    if not user_ids:
        return {}
    users = await User.select(User.id, User.password_hash).where(User.id.is_in(user_ids))
    has_password = {row["id"]: row["password_hash"] is not None for row in users}
    tokens = (
        await AccountToken.select(
            AccountToken.client,
            AccountToken.created_at,
            AccountToken.opened_at,
            AccountToken.expires_at,
            AccountToken.used_at,
            AccountToken.revoked_at,
        )
        .where((AccountToken.client.is_in(list(logins))) & (AccountToken.purpose == Purpose.INVITATION.value))
        .order_by(AccountToken.id)
    )
    latest = {row["client"]: row for row in tokens}
    result = {}
    for client_id, user_id in logins.items():
        if user_id not in has_password:
            continue
        token = latest.get(client_id)
        result[client_id] = Invitation(
            state=invitation_state(
                has_password=has_password[user_id],
                sent_at=token["created_at"] if token else None,
                opened_at=token["opened_at"] if token else None,
                expires_at=token["expires_at"] if token else None,
                used=bool(token and (token["used_at"] or token["revoked_at"])),
                now=now,
            ),
            sent_at=token["created_at"] if token else None,
            opened_at=token["opened_at"] if token else None,
            expires_at=token["expires_at"] if token else None,
        )
    return result


async def resends_left(client_id: int, now: datetime) -> int:
    used = await AuditEvent.count().where(
        (AuditEvent.action == "invitation_resent")
        & (AuditEvent.client_id == client_id)
        & (AuditEvent.at > now - timedelta(days=1))
    )
    return max(0, RESENDS_PER_DAY - used)
