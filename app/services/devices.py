"""A person's signed-in devices: list them, end one, end all the others. Ending is audited."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.devices import describe
from app.models.db import transaction
from app.services import audit
from app.services.context import Actor
from app.services.sessions import Session, SessionStore


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    ip: str
    signed_in_at: datetime
    last_seen: datetime
    current: bool


def public_id(session: Session) -> str:
    """A handle for a session that can go into a page (the stored key never does)."""
    return hashlib.sha256(f"device:{session.key}".encode()).hexdigest()[:20]


async def list_devices(store: SessionStore, user_id: int, current_key: str | None) -> list[Device]:
    return [
        Device(
            id=public_id(session),
            name=describe(session.user_agent),
            ip=session.ip,
            signed_in_at=datetime.fromtimestamp(session.created_at, UTC),
            last_seen=datetime.fromtimestamp(session.last_seen, UTC),
            current=session.key == current_key,
        )
        for session in await store.list_for_user(user_id)
    ]


async def end_device(
    store: SessionStore, user_id: int, device_id: str, *, now: datetime, actor: Actor
) -> bool:
    """Sign one of the person's own sessions out; False if there is no such session (any more)."""
    for session in await store.list_for_user(user_id):
        if public_id(session) == device_id:
            await store.destroy_key(user_id, session.key)
            async with transaction():
                await audit.user_event(
                    "session_ended", user_id, actor=actor, at=now, detail=describe(session.user_agent)[:60]
                )
            return True
    return False


async def end_other_devices(
    store: SessionStore, user_id: int, current_key: str | None, *, now: datetime, actor: Actor
) -> int:
    """ "Sign out everywhere else": every session of the person except this one."""
    ended = await store.destroy_all_for_user(user_id, keep_key=current_key)
    async with transaction():
        await audit.user_event(
            "sessions_ended_elsewhere", user_id, actor=actor, at=now, detail=f"{ended} ended"
        )
    return ended
