"""Each worker process writes a heartbeat to Redis every few seconds; /metrics reports their ages."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.services.operations import HEARTBEAT_SECONDS, HEARTBEATS_KEY, beat, worker_name

log = logging.getLogger(__name__)


async def _beat_forever(ctx: dict) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await beat(ctx["redis"], ctx["worker_name"], ctx["clock"].now())
        except Exception:  # Redis away: workers.outages restarts the worker, which beats again
            log.debug("heartbeat not written", exc_info=True)


async def start(ctx: dict) -> None:
    ctx["worker_name"] = worker_name()
    await beat(ctx["redis"], ctx["worker_name"], ctx["clock"].now())
    ctx["heartbeat"] = asyncio.create_task(_beat_forever(ctx))


async def stop(ctx: dict) -> None:
    """A worker stopped on purpose leaves the figures (a lost one just goes quiet)."""
    task = ctx.pop("heartbeat", None)
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await ctx["redis"].hdel(HEARTBEATS_KEY, ctx["worker_name"])
