"""Keeping a worker process alive through Redis and database outages.

``serve`` runs the arq worker; when Redis or PostgreSQL stops answering it closes that worker, waits
(with backoff) until both answer again, and starts a fresh one, whose start-up sweep catches up on
whatever was missed. Each outage is logged once when it starts and once when it ends. A job that
meets a database outage is retried with backoff instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import suppress
from dataclasses import replace

from arq.worker import Worker, create_worker
from asyncpg.exceptions import OperatorInterventionError, PostgresConnectionError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.config import Settings
from app.logs import configure_logging, wants_json
from app.models.db import engine

log = logging.getLogger("stillwater.worker")

POSTGRES_DOWN = (PostgresConnectionError, OperatorInterventionError)
"""What PostgreSQL answers while it shuts down or starts up, or when it drops a connection."""
DATABASE_DOWN = (OSError, *POSTGRES_DOWN)
"""What a query raises while the database is stopped, restarting, or refusing connections."""
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
SERVICE_DOWN = (*DATABASE_DOWN, *REDIS_DOWN)
FIRST_WAIT = 0.5
LONGEST_WAIT = 5.0
JOB_GRACE_SECONDS = 10


def job_backoff(attempt: int) -> int:
    """Seconds before a job that met a database outage runs again: 2, 4, 8 … up to a minute."""
    return min(2**attempt, 60)


class Outage:
    """Remembers whether a service is down, so its outage is logged once when it starts and once when
    it ends (not once per job or per poll)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.since: float | None = None

    def down(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                "%s unreachable (%s); jobs wait and retry with backoff", self.service, exc or type(exc)
            )

    def up(self) -> None:
        if self.since is not None:
            log.warning(
                "%s reachable again after %.0f s; jobs resume", self.service, time.monotonic() - self.since
            )
            self.since = None


DATABASE = Outage("database")
REDIS = Outage("Redis")


async def database_answers() -> bool:
    try:
        await engine().run_ddl("SELECT 1")
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return False
    DATABASE.up()
    return True


async def redis_answers(redis_url: str) -> bool:
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        await client.ping()
    except (*REDIS_DOWN, OSError) as exc:
        REDIS.down(exc)
        return False
    finally:
        with suppress(Exception):
            await client.aclose()
    REDIS.up()
    return True


def note_failure(exc: BaseException) -> None:
    (REDIS if isinstance(exc, REDIS_DOWN) else DATABASE).down(exc)


async def close(worker: Worker) -> None:
    """Close a worker whose Redis or database may be gone: give running jobs a moment, then cancel them;
    never let an unreachable service stop the close (arq's own ``close`` gives up at the first error)."""
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        await asyncio.wait(running, timeout=JOB_GRACE_SECONDS)
    for task in worker.tasks.values():
        task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    if worker.on_shutdown:
        with suppress(Exception):
            await worker.on_shutdown(worker.ctx)
    if worker._pool is not None:
        with suppress(Exception):
            await worker.pool.delete(worker.health_check_key)
        with suppress(Exception):
            await worker.pool.close(close_connection_pool=True)
        worker._pool = None


async def serve(settings_cls, redis_url: str) -> None:
    """Run arq workers one after another until SIGTERM/SIGINT, across outages of Redis or the database."""
    debug = Settings.from_env().debug
    if wants_json(debug):  # plain: arq's own format, as set up by `python -m app worker`
        configure_logging(debug)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    current: list[Worker] = []

    def stop(signum: signal.Signals) -> None:
        stopping.set()
        for worker in current:
            worker.handle_sig(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    wait = FIRST_WAIT
    while not stopping.is_set():
        if not (await redis_answers(redis_url) and await database_answers()):
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait)
            wait = min(wait * 2, LONGEST_WAIT)
            continue
        wait = FIRST_WAIT
        # Fresh cron jobs: arq keeps each one's next run on the (shared) object, so a new worker would
        # skip its start-up sweep, the one that queues what the outage kept from being queued.
        cron_jobs = [replace(job, next_run=None) for job in settings_cls.cron_jobs]
        worker = create_worker(settings_cls, handle_signals=False, cron_jobs=cron_jobs)
        current.append(worker)
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            if not stopping.is_set():
                raise
        except SERVICE_DOWN as exc:
            note_failure(exc)
        except Exception as exc:
            # A client library can fail in its own way when a connection dies mid-command (redis-py
            # has raised AttributeError and RuntimeError there). During an outage that is the outage;
            # with both services answering it is a real fault, and the process stops with it.
            if await redis_answers(redis_url) and await database_answers():
                raise
            log.warning("worker stopped by %r during an outage", exc)
        finally:
            current.remove(worker)
            await close(worker)
