"""What a handler needs from the running app and the request, given to handlers by dependency injection.

``REQUEST_DEPENDENCIES`` is registered once in the app factory. A handler names what it needs as a
parameter with one of the types below (``user: User``, ``now: Now``, ``ctx: Context``, ``rt: AppRuntime``,
``actor: Acting``, ``session: CurrentSession``) and Litestar passes it in, worked out once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from redis.asyncio import Redis

from app.clock import Clock
from app.config import Settings
from app.domain.validation import clean_text
from app.services.context import Actor, CurrentUser
from app.services.queue import JobQueue
from app.services.sessions import Session, SessionStore


@dataclass
class Runtime:
    """The running app's parts, made once at start-up (``app.state.runtime``)."""

    settings: Settings
    clock: Clock
    redis: Redis
    queue: JobQueue
    sessions: SessionStore


@dataclass(frozen=True)
class RequestContext:
    """Who acts, and when, with the settings, job queue and session store: what a use case takes besides
    its input."""

    actor: Actor
    now: datetime
    settings: Settings
    queue: JobQueue
    sessions: SessionStore

    @property
    def acting(self) -> dict[str, Any]:
        """The keyword arguments of a use case that changes records: ``now`` and ``actor``."""
        return {"now": self.now, "actor": self.actor}

    @property
    def sending(self) -> dict[str, Any]:
        """``acting`` plus ``settings`` and ``queue``, for a use case that also queues emails or charges."""
        return {**self.acting, "settings": self.settings, "queue": self.queue}


# Read from the connection: for middleware, guards and rendering helpers. Handlers take them as parameters.


def runtime(connection: ASGIConnection) -> Runtime:
    return connection.app.state.runtime


def current_user(connection: ASGIConnection) -> CurrentUser | None:
    return connection.scope.get("user")  # type: ignore[return-value]


def current_session(connection: ASGIConnection) -> Session | None:
    return connection.scope.get("auth")  # type: ignore[return-value]


def client_ip(connection: ASGIConnection) -> str:
    client = connection.scope.get("client")
    return client[0] if client else ""


def actor_of(connection: ASGIConnection) -> Actor:
    user = current_user(connection)
    return Actor(
        user_id=user.id if user else None,
        role=user.role if user else "anonymous",
        clinician_id=user.clinician_id if user else None,
        ip=client_ip(connection),
        user_agent=clean_text(connection.headers.get("user-agent", "")),
        practice_id=user.practice_id if user else None,
        member_role=user.member_role if user else "",
    )


User = NamedDependency[CurrentUser]
"""The signed-in person (on a page behind a guard)."""
MaybeUser = NamedDependency[CurrentUser | None]
"""The signed-in person, or None on a public page."""
CurrentSession = NamedDependency[Session | None]
Now = NamedDependency[datetime]
Acting = NamedDependency[Actor]
Context = NamedDependency[RequestContext]
AppRuntime = NamedDependency[Runtime]


def _now(rt: AppRuntime) -> datetime:
    return rt.clock.now()


def _context(rt: AppRuntime, now: Now, actor: Acting) -> RequestContext:
    return RequestContext(actor=actor, now=now, settings=rt.settings, queue=rt.queue, sessions=rt.sessions)


def _provide(function: Any) -> Provide:
    return Provide(function, sync_to_thread=False)


def _runtime_of(request: Request) -> Runtime:
    return runtime(request)


def _user_of(request: Request) -> CurrentUser | None:
    return current_user(request)


def _session_of(request: Request) -> Session | None:
    return current_session(request)


def _actor_of(request: Request) -> Actor:
    return actor_of(request)


REQUEST_DEPENDENCIES = {
    "rt": _provide(_runtime_of),
    "user": _provide(_user_of),
    "session": _provide(_session_of),
    "actor": _provide(_actor_of),
    "now": _provide(_now),
    "ctx": _provide(_context),
}
