"""What a handler needs from the running app: settings, clock, Redis, the job queue and sessions."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from app.clock import Clock
from app.config import Settings
from app.domain.validation import clean_text
from app.services.context import Actor, CurrentUser
from app.services.queue import JobQueue
from app.services.sessions import Session, SessionStore


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    redis: Redis
    queue: JobQueue
    sessions: SessionStore


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
