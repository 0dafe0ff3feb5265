"""Server-side sessions in Redis.

A session id is 32 random bytes given to the browser once; Redis keeps only its SHA-256, so a
dump of Redis cannot be replayed. A new id is issued at every sign-in (no fixation), and each
session has an idle timeout (by role) and an absolute lifetime. Every session of a user is
indexed so they can be listed and ended ("sign out everywhere", password change).

A session is one Redis hash: the record (``session``), when it was last used (``seen``), and the
signed-in person as of ``stamp`` (``user``: the account, their practice, role and the clinician seat
they work in, as read for the session's practice and calendar switches). Loading
a session is one round trip (read the hash, write ``seen``) and no database query while the cached
person's stamp is the session's. A use case that changes what is cached names the person
(``person_changed``); once it has committed, ``bump_noted`` moves the stamp of each of their
sessions on, so their next request reads the database again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field

from redis.asyncio import Redis

from app.clock import Clock
from app.config import Settings
from app.services.context import CurrentUser
from app.services.tokens import new_token, token_hash

SESSION_PREFIX = "sw:s:"  # was "sw:session:" (one JSON string) until sessions were hashes
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
    user: CurrentUser | None = None  # the cached person, when their stamp is still the session's
    stamp: int = 0


_noted: ContextVar[set[int] | None] = ContextVar("people_changed", default=None)


def person_changed(user_id: int) -> None:
    """Say that ``user_id``'s account or clinician row changed (what ``CurrentUser`` holds); their
    sessions re-read it on the next request once the change is committed (see ``noting_changes``)."""
    noted = _noted.get()
    if noted is not None:
        noted.add(user_id)


@contextmanager
def noting_changes() -> Iterator[set[int]]:
    """Collect the people ``person_changed`` names within the block (one request)."""
    noted: set[int] = set()
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


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
        user: CurrentUser | None = None,
    ) -> tuple[str, Session]:
        """A new session; ``user`` (just read at sign-in) is cached so the first page needs no query."""
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
        name = f"{SESSION_PREFIX}{session.key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            fields = {"session": _dump(session), "seen": repr(now), "stamp": 0}
            if user is not None:
                fields["user"] = _dump_user(user, 0, session)
            pipe.hset(name, mapping=fields)
            pipe.expire(name, self._ttl(session))
            pipe.sadd(f"{USER_INDEX_PREFIX}{user_id}", session.key)
            await pipe.execute()
        return token, session

    async def load(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for a browser token, or None. Expired sessions are deleted."""
        return (await self.resolve(token, touch=touch)).live

    async def resolve(self, token: str | None, *, touch: bool = True) -> Lookup:
        """Like ``load``, but also says which session just ran out (so the caller can record it), and
        gives the cached person when nothing they depend on changed. One round trip to Redis."""
        if not token or len(token) > 128:
            return Lookup()
        key = token_hash(token)
        name = f"{SESSION_PREFIX}{key}"
        now = self.clock.now().timestamp()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(name)
            if touch:
                pipe.hset(name, "seen", repr(now))
            fields, *_ = await pipe.execute()
        session = _session(fields)
        if session is None:
            if fields or touch:  # "seen" alone (just written, or as the session ended): not a session
                await self.redis.delete(name)
            return Lookup()
        if now >= session.expires_at:
            await self.destroy_key(session.user_id, session.key)
            idle = now >= session.last_seen + session.idle_timeout
            return Lookup(expired=session, reason="idle" if idle else "absolute")
        stamp = int(fields.get(b"stamp", 0))
        user = _cached_user(fields.get(b"user"), stamp, session)
        if touch:
            session.last_seen = now
        return Lookup(live=session, user=user, stamp=stamp)

    async def keep_user(self, session: Session, user: CurrentUser, stamp: int) -> None:
        """Cache ``user`` in the session as read at ``stamp`` (a later bump makes it stale)."""
        name = f"{SESSION_PREFIX}{session.key}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(name, "user", _dump_user(user, stamp, session))
            pipe.expire(name, self._ttl(session), nx=True)  # never a hash without an end
            await pipe.execute()

    async def bump(self, user_ids: set[int]) -> None:
        """Make every session of these people re-read them from the database on its next request."""
        for user_id in user_ids:
            keys = await self.redis.smembers(f"{USER_INDEX_PREFIX}{user_id}")
            async with self.redis.pipeline(transaction=False) as pipe:
                for raw_key in keys:
                    name = f"{SESSION_PREFIX}{raw_key.decode() if isinstance(raw_key, bytes) else raw_key}"
                    pipe.hincrby(name, "stamp", 1)
                    pipe.expire(name, self.settings.session_absolute_timeout + 60, nx=True)
                await pipe.execute()

    async def save(self, session: Session) -> None:
        """Store the session's record (flashes, two-step state); when it was last used is kept apart."""
        await self.redis.hset(f"{SESSION_PREFIX}{session.key}", "session", _dump(session))

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
        return _session(await self.redis.hgetall(f"{SESSION_PREFIX}{key}"))

    def _ttl(self, session: Session) -> int:
        remaining = session.created_at + session.absolute_timeout - self.clock.now().timestamp()
        # Redis expiry is only a backstop; timeouts are enforced against the injectable clock.
        return max(int(remaining), 1) + 60


def _dump(session: Session) -> str:
    record = asdict(session)
    del record["last_seen"]
    return json.dumps(record)


def _dump_user(user: CurrentUser, stamp: int, session: Session) -> str:
    return json.dumps({"stamp": stamp, "switches": _switches(session), **asdict(user)})


def _switches(session: Session) -> list[int | None]:
    """The practice and calendar the session switched to: a cached person was read for these only."""
    return [session.practice_id, session.clinician_id]


def _session(fields: dict[bytes, bytes]) -> Session | None:
    try:
        record = json.loads(fields[b"session"])
        return Session(**record, last_seen=float(fields[b"seen"]))
    except (KeyError, TypeError, ValueError):
        return None


def _cached_user(raw: bytes | None, stamp: int, session: Session) -> CurrentUser | None:
    if raw is None:
        return None
    try:
        cached = json.loads(raw)
        if cached.pop("stamp") != stamp or cached.pop("switches") != _switches(session):
            return None
        for pairs in ("practices", "colleagues"):  # JSON gives lists; the person holds tuples
            cached[pairs] = tuple(tuple(pair) for pair in cached[pairs])
        return CurrentUser(**cached)
    except (KeyError, TypeError, ValueError):
        return None
