"""The reminder sweep: every minute, write the session reminders that are due and queue their emails."""

from __future__ import annotations

import logging

from app.services import reminders
from app.services.queue import JobQueue
from workers.outages import DATABASE, DATABASE_DOWN

log = logging.getLogger(__name__)


async def sweep_reminders(ctx: dict) -> int:
    """Reminders live in the database, so a sweep that fails (or a Redis that lost its jobs) only delays
    them: the next sweep writes what is still due, and the email sweep sends what was written."""
    settings, clock = ctx["settings"], ctx["clock"]
    try:
        jobs = await reminders.send_due(now=clock.now(), settings=settings)
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return 0
    DATABASE.up()
    await JobQueue(ctx["redis"], settings.queue_name).enqueue_all(jobs)
    if jobs:
        log.info("reminder sweep: %s written", len(jobs))
    return len(jobs)
