"""One-time links (invitations, password resets, sign-up confirmations).

A token is 32 random bytes shown once in an e-mail; only its SHA-256 is stored. Issuing a new
token revokes the user's earlier open tokens of the same purpose (for invitations: of the same
client record). Claiming is one conditional
UPDATE, so a link works exactly once even under double clicks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.models.tables import AccountToken
from app.services.tokens import new_token, token_hash


class Purpose(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name
    SIGNUP = "signup"
    MEMBER_INVITATION = "member_invite"


LIFETIMES = {
    Purpose.INVITATION: timedelta(days=7),
    Purpose.PASSWORD_RESET: timedelta(hours=24),
    Purpose.SIGNUP: timedelta(hours=24),
    Purpose.MEMBER_INVITATION: timedelta(days=7),
}


class LinkState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    token: AccountToken | None = None


async def issue(
    user_id: int,
    purpose: Purpose,
    now: datetime,
    *,
    client_id: int | None = None,
    membership_id: int | None = None,
    created_by: int | None = None,
) -> str:
    """Create a new link for ``user_id`` (inside the caller's transaction) and return the raw token.

    It revokes the user's earlier open links of this purpose; for an invitation, only those of the
    same client record (or membership), so two practices inviting one person don't cancel each other's."""
    earlier = (
        (AccountToken.user == user_id)
        & (AccountToken.purpose == purpose.value)
        & (AccountToken.used_at.is_null())
        & (AccountToken.revoked_at.is_null())
    )
    if client_id is not None:
        earlier = earlier & (AccountToken.client == client_id)
    if membership_id is not None:
        earlier = earlier & (AccountToken.membership == membership_id)
    await revoke(earlier, now)
    token = new_token()
    await AccountToken.insert(
        AccountToken(
            user=user_id,
            purpose=purpose.value,
            token_hash=token_hash(token),
            client=client_id,
            membership=membership_id,
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
            created_by=created_by,
        )
    )
    return token


async def revoke(condition, now: datetime) -> None:
    await AccountToken.update({AccountToken.revoked_at: now}).where(condition)


async def revoke_open(user_id: int, purpose: Purpose, now: datetime) -> None:
    """Kill every unused link of ``purpose`` the user still has (e.g. once their password is set)."""
    await revoke(
        (AccountToken.user == user_id)
        & (AccountToken.purpose == purpose.value)
        & (AccountToken.used_at.is_null())
        & (AccountToken.revoked_at.is_null()),
        now,
    )


async def check(token: str, purpose: Purpose, now: datetime) -> LinkCheck:
    """What state a link is in, without using it up."""
    if not token or len(token) > 128:
        return LinkCheck(LinkState.UNKNOWN)
    row = (
        await AccountToken.objects()
        .where((AccountToken.token_hash == token_hash(token)) & (AccountToken.purpose == purpose.value))
        .first()
    )
    if row is None:
        return LinkCheck(LinkState.UNKNOWN)
    if row.used_at is not None or row.revoked_at is not None:
        return LinkCheck(LinkState.USED, row)
    if row.expires_at <= now:
        return LinkCheck(LinkState.EXPIRED, row)
    return LinkCheck(LinkState.VALID, row)


async def mark_opened(token_id: int, now: datetime) -> None:
    await AccountToken.update({AccountToken.opened_at: now}).where(
        (AccountToken.id == token_id) & (AccountToken.opened_at.is_null())
    )


async def claim(token: str, purpose: Purpose, now: datetime) -> AccountToken | None:
    """Use a link up atomically; returns its row only for the one caller that won."""
    rows = (
        await AccountToken.update({AccountToken.used_at: now})
        .where(
            (AccountToken.token_hash == token_hash(token))
            & (AccountToken.purpose == purpose.value)
            & (AccountToken.used_at.is_null())
            & (AccountToken.revoked_at.is_null())
            & (AccountToken.expires_at > now)
        )
        .returning(AccountToken.id)
    )
    if not rows:
        return None
    return await AccountToken.objects().where(AccountToken.id == rows[0]["id"]).first()
