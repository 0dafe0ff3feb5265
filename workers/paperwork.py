"""Superbill and Good Faith Estimate jobs: the session's superbill after its charge succeeded, and the
hourly cron for month-end superbills and estimates that are due."""

from __future__ import annotations

import logging

from app.services import estimates, superbills
from app.services.queue import JobQueue

log = logging.getLogger(__name__)


def _queue(ctx: dict) -> JobQueue:
    return JobQueue(ctx["redis"], ctx["settings"].queue_name)


async def issue_superbill(ctx: dict, charge_id: int) -> int:
    jobs = await superbills.issue_after_charge(charge_id, now=ctx["clock"].now(), settings=ctx["settings"])
    await _queue(ctx).enqueue_all(jobs)
    return len(jobs)


async def sweep_paperwork(ctx: dict) -> dict[str, int]:
    """Month-end superbills (and per-session ones whose job was lost); estimates due or out of date."""
    now, settings = ctx["clock"].now(), ctx["settings"]
    bills = await superbills.sweep(now=now, settings=settings)
    gfes = await estimates.sweep(now=now, settings=settings)
    await _queue(ctx).enqueue_all(bills + gfes)
    counts = {"superbills": len(bills), "estimates": len(gfes)}
    if any(counts.values()):
        log.info("paperwork sweep: %s", counts)
    return counts
