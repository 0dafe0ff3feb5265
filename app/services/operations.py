"""Figures an operator watches (served at /metrics): charges, the email outbox, worker heartbeats.

Counts and ages only, never a name, address or amount of a person.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime

from piccolo.query.functions.aggregate import Count
from redis.asyncio import Redis

from app.domain.statuses import ChargeStatus as C
from app.models.tables import Charge, EmailMessage

log = logging.getLogger(__name__)

UNCOLLECTED = (C.SCHEDULED, C.PROCESSING)
"""A due charge in one of these states has not been collected yet."""
HEARTBEATS_KEY = "stillwater:worker-heartbeats"
HEARTBEAT_SECONDS = 15
HEARTBEAT_FORGET_SECONDS = 24 * 3600
"""A worker silent this long is dropped from the figures (it was stopped, not lost)."""


@dataclass
class Figures:
    charges_by_state: dict[str, int] = field(default_factory=dict)
    due_uncollected: int = 0
    oldest_due_age: float = 0.0
    emails_unsent: int = 0
    emails_failed: int = 0
    oldest_unsent_email_age: float = 0.0
    worker_ages: dict[str, float] = field(default_factory=dict)
    sources_up: dict[str, bool] = field(default_factory=dict)


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since else 0.0


async def database_figures(figures: Figures, now: datetime) -> None:
    rows = await Charge.select(Charge.status, Count(Charge.id, alias="n")).group_by(Charge.status)
    figures.charges_by_state = {state.value: 0 for state in C} | {row["status"]: row["n"] for row in rows}
    due = Charge.status.is_in(list(UNCOLLECTED)) & (Charge.due_at <= now)
    figures.due_uncollected = await Charge.count().where(due)
    oldest = await Charge.select(Charge.due_at).where(due).order_by(Charge.due_at).first()
    figures.oldest_due_age = _age(now, oldest and oldest["due_at"])
    waiting = EmailMessage.sent_at.is_null() & (EmailMessage.last_error == "")
    figures.emails_unsent = await EmailMessage.count().where(waiting)
    oldest = (
        await EmailMessage.select(EmailMessage.created_at)
        .where(waiting)
        .order_by(EmailMessage.created_at)
        .first()
    )
    figures.oldest_unsent_email_age = _age(now, oldest and oldest["created_at"])
    figures.emails_failed = await EmailMessage.count().where(
        EmailMessage.sent_at.is_null() & (EmailMessage.last_error != "")
    )


async def worker_figures(figures: Figures, redis: Redis, now: datetime) -> None:
    beats = await redis.hgetall(HEARTBEATS_KEY)
    stale = []
    for worker, at in beats.items():
        age = max(now.timestamp() - float(at), 0.0)
        if age > HEARTBEAT_FORGET_SECONDS:
            stale.append(worker)
        else:
            figures.worker_ages[worker.decode()] = age
    if stale:
        await redis.hdel(HEARTBEATS_KEY, *stale)


async def figures_now(redis: Redis, now: datetime) -> Figures:
    """Everything at once; a source that does not answer is reported down instead of failing the rest."""
    figures = Figures()
    for source, collect in (
        ("database", lambda: database_figures(figures, now)),
        ("redis", lambda: worker_figures(figures, redis, now)),
    ):
        try:
            await collect()
            figures.sources_up[source] = True
        except Exception:
            log.warning("metrics: could not read figures from %s", source, exc_info=True)
            figures.sources_up[source] = False
    return figures


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(redis: Redis, worker: str, now: datetime) -> None:
    """Record that ``worker`` is alive at ``now``."""
    await redis.hset(HEARTBEATS_KEY, worker, str(now.timestamp()))
