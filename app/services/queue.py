"""The job queue (arq on Redis). Jobs carry only ids, serialised with msgpack (never pickle).

Enqueue only after the transaction that made the work has committed. If Redis is unreachable
the work is not lost: the worker's cron sweeps find due charges and unsent emails in the database.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import uuid4

import msgpack
from arq.connections import ArqRedis, RedisSettings
from arq.constants import expires_extra_ms, in_progress_key_prefix, job_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from app.config import Settings
from app.logs import REQUEST_ID

log = logging.getLogger(__name__)


def serialize(value: Any) -> bytes:
    """msgpack; a job queued while serving a request also carries that request's id (``rid``)."""
    request_id = REQUEST_ID.get()
    if request_id and isinstance(value, dict) and "f" in value:
        value = {**value, "rid": request_id}
    return msgpack.packb(value, datetime=True)


def deserialize(value: bytes) -> Any:
    """The reverse; a job's ``rid`` becomes the request id of the worker's lines while it runs (arq
    reads each job in the task that then runs it)."""
    data = msgpack.unpackb(value, timestamp=3)
    if isinstance(data, dict) and data.get("rid"):
        REQUEST_ID.set(data["rid"])
    return data


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
    args: tuple[int | str | list[int], ...] = ()
    job_id: str | None = None
    defer_until: datetime | None = None
    expires_seconds: int | None = None


class QueueUnavailable(Exception):
    """Redis did not answer; nothing more can be queued right now."""


def email_job(message_id: int) -> QueuedJob:
    return QueuedJob("send_email", (message_id,))


def emails_job(message_ids: list[int]) -> QueuedJob:
    """One job sending these messages in turn on one SMTP connection (a sweep's batch)."""
    return QueuedJob("send_emails", (message_ids,))


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

    async def enqueue_many(self, jobs: list[QueuedJob]) -> None:
        """Queue many jobs in one round trip (a job without an id gets a fresh one); if Redis does not
        answer, log it: the database still holds the work, and the sweeps queue it later."""
        try:
            await self.enqueue_missing(
                [job if job.job_id else replace(job, job_id=uuid4().hex) for job in jobs]
            )
        except QueueUnavailable:
            log.warning("could not enqueue %s jobs; the sweep will pick them up", len(jobs), exc_info=True)

    async def enqueue_missing(self, jobs: list[QueuedJob]) -> tuple[int, set[str]]:
        """Queue, in one round trip, each job (with an id) that arq does not already hold. Returns how
        many were added to the queue, and the ids of those a worker has taken (arq's in-progress
        marker). Raises ``QueueUnavailable`` when Redis does not answer.

        For sweeps over many rows. Per job, in one MULTI: ``SET arq:job:<id> … NX`` and ``ZADD <queue>
        NX``, the job as arq's ``enqueue_job`` writes it. A job already queued, deferred (a retry's
        backoff) or running keeps its key and its place, so nothing is duplicated or run sooner; a job key
        whose queue entry was lost gets its entry back. Exactly-once comes from the database, not this.
        """
        if self.redis is None or not jobs:
            return 0, set()
        now_ms = int(time.time() * 1000)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for job in jobs:
                    score = int(job.defer_until.timestamp() * 1000) if job.defer_until else now_ms
                    expires_ms = (
                        job.expires_seconds * 1000
                        if job.expires_seconds
                        else max(score - now_ms, 0) + expires_extra_ms
                    )
                    payload = serialize_job(job.function, job.args, {}, None, now_ms, serializer=serialize)
                    pipe.set(job_key_prefix + job.job_id, payload, px=expires_ms, nx=True)
                    pipe.zadd(self.queue_name, {job.job_id: score}, nx=True)
                    pipe.exists(in_progress_key_prefix + job.job_id)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:  # Redis down: the sweep stops queueing and tries next time.
            raise QueueUnavailable(str(exc)) from exc
        running = {job.job_id for job, taken in zip(jobs, replies[2::3], strict=True) if taken}
        return sum(replies[1::3]), running
