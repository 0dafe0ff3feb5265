"""The job queue (arq on Redis). Jobs carry only ids, serialised with msgpack (never pickle).

Enqueue only after the transaction that made the work has committed. If Redis is unreachable
the work is not lost: the worker's cron sweeps find due charges and unsent emails in the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool

from app.config import Settings

log = logging.getLogger(__name__)


def serialize(value: Any) -> bytes:
    return msgpack.packb(value, datetime=True)


def deserialize(value: bytes) -> Any:
    return msgpack.unpackb(value, timestamp=3)


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis_url)


async def connect(settings: Settings) -> ArqRedis:
    """A lazily-connecting client: a web process starts (and /healthz answers 503) while Redis is down."""
    return ArqRedis(
        connection_pool=ConnectionPool.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        ),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=settings.queue_name,
    )


@dataclass(frozen=True)
class QueuedJob:
    """A job to enqueue once the transaction that made it necessary has committed."""

    function: str
    args: tuple[int | str, ...] = ()
    job_id: str | None = None
    defer_until: datetime | None = None
    expires_seconds: int | None = None


def email_job(message_id: int) -> QueuedJob:
    return QueuedJob("send_email", (message_id,))


class JobQueue:
    """Thin wrapper so services can enqueue without knowing arq's keyword names."""

    def __init__(self, redis: ArqRedis | None, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue(
        self,
        function: str,
        *args: int | str,
        job_id: str | None = None,
        defer_until: datetime | None = None,
        expires_seconds: int | None = None,
    ) -> bool:
        """Queue a job; returns False (and logs) if it could not be queued right now."""
        if self.redis is None:
            return False
        try:
            job = await self.redis.enqueue_job(
                function,
                *args,
                _job_id=job_id,
                _defer_until=defer_until,
                _expires=expires_seconds,
                _queue_name=self.queue_name,
            )
        except Exception:  # Redis down: the database is the source of truth; sweeps catch up.
            log.warning("could not enqueue %s%r; the sweep will pick it up", function, args, exc_info=True)
            return False
        return job is not None

    async def enqueue_all(self, jobs: list[QueuedJob]) -> None:
        for job in jobs:
            await self.enqueue(
                job.function,
                *job.args,
                job_id=job.job_id,
                defer_until=job.defer_until,
                expires_seconds=job.expires_seconds,
            )
