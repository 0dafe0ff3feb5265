"""Accepting an invitation (R2): the link opens a password page, the password claims the link once,
and the client is signed in. "Email me a new link" never reveals whether an address has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts import Role
from app.domain.validation import normalize_email
from app.models.db import transaction
from app.models.tables import Client, User
from app.services import account_tokens, accounts, audit, fees, throttle
from app.services.account_tokens import LinkState, Purpose
from app.services.client_accounts import invite_client
from app.services.context import Actor, CurrentUser
from app.services.queue import JobQueue


@dataclass(frozen=True)
class InvitationPage:
    """What the link page shows: its state, and for a live link the practice and the person."""

    state: LinkState
    practice_name: str = ""
    name: str = ""
    email: str = ""
    fee_words: tuple[str, str] | None = None  # the fee policy's words and version to agree to


async def open_invitation(token: str, *, now: datetime) -> InvitationPage:
    """Look at a link (recording the first visit) without using it up."""
    link = await account_tokens.check(token, Purpose.INVITATION, now)
    if link.state != LinkState.VALID or link.token is None:
        return InvitationPage(link.state)
    await account_tokens.mark_opened(link.token.id, now)
    user = await User.select(User.name, User.email).where(User.id == link.token.user).first()
    practice = ""
    if link.token.client is not None:
        row = (
            await Client.select(Client.clinician.practice_name).where(Client.id == link.token.client).first()
        )
        practice = row["clinician.practice_name"] if row else ""
    words = await fees.words_to_agree(link.token.client) if link.token.client is not None else None
    return InvitationPage(LinkState.VALID, practice, user["name"], user["email"], words)


async def accept_invitation(
    token: str,
    password: str,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    fee_version: str | None = None,
) -> CurrentUser | None:
    """Claim the link once, set the password and return the person to sign in; None if the link is dead.
    ``fee_version``: the fee policy the client agreed to on the page (stored with the time and address)."""
    async with transaction():
        row = await account_tokens.claim(token, Purpose.INVITATION, now)
        if row is None:
            return None
        await accounts.set_password(row.user, password, settings=settings, now=now)
        # Other practices' invitations to this login are moot now (and would set the password again).
        await account_tokens.revoke_open(row.user, Purpose.INVITATION, now)
        await User.update({User.last_login_at: now, User.is_active: True}).where(User.id == row.user)
        client_actor = Actor(row.user, Role.CLIENT.value, None, actor.ip, actor.user_agent)
        await audit.user_event(
            "invitation_accepted", row.user, actor=client_actor, at=now, client_id=row.client
        )
        if fee_version and row.client is not None:
            await fees.agree(
                row.client, fee_version, now=now, address=actor.ip, via="invitation", actor=client_actor
            )
    return await accounts.current_user(row.user)


async def request_new_link(
    email_address: str, *, redis: Redis, settings: Settings, now: datetime, actor: Actor, queue: JobQueue
) -> None:
    """Send a fresh invitation to a client login still waiting for its password; for one that already
    has a password, a password-reset link. Unknown addresses get nothing. The page is the same."""
    address = normalize_email(email_address)
    if not await throttle.allow(redis, "new-link-account", address, limit=5, window_seconds=3600):
        return
    if not await throttle.allow(redis, "new-link-ip", actor.ip, limit=30, window_seconds=3600):
        return
    user = (
        await User.select(User.id, User.password_hash)
        .where((User.email == address) & (User.role == Role.CLIENT.value) & (User.is_active == True))  # noqa: E712
        .first()
    )
    if user is not None and user["password_hash"] is not None:
        await accounts.request_password_reset(
            address, redis=redis, settings=settings, now=now, actor=actor, queue=queue
        )
        return
    jobs = []
    async with transaction():
        client = None
        if user is not None:
            client = (
                await Client.select(Client.id)
                .where((Client.user == user["id"]) & (Client.archived_at.is_null()))
                .order_by(Client.id, ascending=False)
                .first()
            )
        if client is None:
            await audit.record(
                "invitation_link_requested", actor=actor, at=now, outcome="failure", detail="no_invitation"
            )
        else:
            jobs.append(await invite_client(client["id"], now=now, actor=actor, settings=settings))
            await audit.client_event("invitation_link_requested", client["id"], actor=actor, at=now)
    await queue.enqueue_all(jobs)
