"""Server-side sessions in Redis.

A session id is 32 random bytes given to the browser once; Redis keeps only its SHA-256, so a
dump of Redis cannot be replayed. A new id is issued at every sign-in (no fixation), and each
session has an idle timeout (by role) and an absolute lifetime. Every session of a user is
indexed so they can be listed and ended ("sign out everywhere", password change).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from redis.asyncio import Redis

from app.clock import Clock
from app.config import Settings
from app.services.tokens import new_token, token_hash

SESSION_PREFIX = "sw:session:"
USER_INDEX_PREFIX = "sw:user-sessions:"


@dataclass
class Session:
    key: str
    user_id: int
    role: str
    created_at: float
    last_seen: float
    idle_timeout: int
    absolute_timeout: int
    ip: str = ""
    user_agent: str = ""
    flashes: list[str] = field(default_factory=list)
    must_enrol_two_factor: bool = False
    practice_id: int | None = None  # the practice a member switched to (None: their first)
    clinician_id: int | None = None  # the colleague's calendar an owner or front desk switched to

    @property
    def expires_at(self) -> float:
        return min(self.last_seen + self.idle_timeout, self.created_at + self.absolute_timeout)


@dataclass(frozen=True)
class Lookup:
    live: Session | None = None
    expired: Session | None = None
    reason: str = ""


class SessionStore:
    def __init__(self, redis: Redis, clock: Clock, settings: Settings) -> None:
        self.redis = redis
        self.clock = clock
        self.settings = settings

    def idle_timeout_for(self, role: str) -> int:
        if role == "clinician":
            return self.settings.clinician_idle_timeout
        return self.settings.client_idle_timeout

    async def create(
        self,
        user_id: int,
        role: str,
        *,
        ip: str = "",
        user_agent: str = "",
        must_enrol_two_factor: bool = False,
    ) -> tuple[str, Session]:
        token = new_token()
        now = self.clock.now().timestamp()
        session = Session(
            key=token_hash(token),
            user_id=user_id,
            role=role,
            created_at=now,
            last_seen=now,
            idle_timeout=self.idle_timeout_for(role),
            absolute_timeout=self.settings.session_absolute_timeout,
            ip=ip[:64],
            user_agent=user_agent[:255],
            must_enrol_two_factor=must_enrol_two_factor,
        )
        await self._save(session)
        await self.redis.sadd(f"{USER_INDEX_PREFIX}{user_id}", session.key)
        return token, session

    async def load(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for a browser token, or None. Expired sessions are deleted."""
        return (await self.resolve(token, touch=touch)).live

    async def resolve(self, token: str | None, *, touch: bool = True) -> Lookup:
        """Like ``load``, but also says which session just ran out (so the caller can record it)."""
        if not token or len(token) > 128:
            return Lookup()
        session = await self._get(token_hash(token))
        if session is None:
            return Lookup()
        now = self.clock.now().timestamp()
        if now >= session.expires_at:
            await self.destroy_key(session.user_id, session.key)
            idle = now >= session.last_seen + session.idle_timeout
            return Lookup(expired=session, reason="idle" if idle else "absolute")
        if touch:
            session.last_seen = now
            await self._save(session)
        return Lookup(live=session)

    async def save(self, session: Session) -> None:
        await self._save(session)

    async def destroy(self, token: str | None) -> None:
        if not token:
            return
        session = await self._get(token_hash(token))
        if session is not None:
            await self.destroy_key(session.user_id, session.key)

    async def destroy_key(self, user_id: int, key: str) -> None:
        await self.redis.delete(f"{SESSION_PREFIX}{key}")
        await self.redis.srem(f"{USER_INDEX_PREFIX}{user_id}", key)

    async def list_for_user(self, user_id: int) -> list[Session]:
        keys = await self.redis.smembers(f"{USER_INDEX_PREFIX}{user_id}")
        live: list[Session] = []
        now = self.clock.now().timestamp()
        for raw_key in keys:
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            session = await self._get(key)
            if session is None or now >= session.expires_at:
                await self.destroy_key(user_id, key)
                continue
            live.append(session)
        return sorted(live, key=lambda s: s.last_seen, reverse=True)

    async def destroy_all_for_user(self, user_id: int, *, keep_key: str | None = None) -> int:
        ended = 0
        for session in await self.list_for_user(user_id):
            if session.key != keep_key:
                await self.destroy_key(user_id, session.key)
                ended += 1
        return ended

    async def _get(self, key: str) -> Session | None:
        raw = await self.redis.get(f"{SESSION_PREFIX}{key}")
        if raw is None:
            return None
        try:
            return Session(**json.loads(raw))
        except (TypeError, ValueError):
            return None

    async def _save(self, session: Session) -> None:
        remaining = session.created_at + session.absolute_timeout - self.clock.now().timestamp()
        # Redis expiry is only a backstop; timeouts are enforced against the injectable clock.
        ttl = max(int(remaining), 1) + 60
        await self.redis.set(f"{SESSION_PREFIX}{session.key}", json.dumps(asdict(session)), ex=ttl)
