"""The reminder sweeps: every minute, write the session reminders that are due and queue their emails;
every few minutes, the clinicians' evening summaries."""

from __future__ import annotations

import logging

from app.services import reminders, summaries, texts
from app.services.queue import JobQueue
from workers.outages import DATABASE, DATABASE_DOWN

log = logging.getLogger(__name__)


async def sweep_reminders(ctx: dict) -> int:
    """Reminders live in the database, so a sweep that fails (or a Redis that lost its jobs) only delays
    them: the next sweep writes what is still due, and the email sweep sends what was written."""
    return await _sweep(ctx, reminders.send_due, "reminder")


async def sweep_evening_summaries(ctx: dict) -> int:
    """Each clinician's summary of tomorrow, once per evening (a unique row per clinician and day)."""
    return await _sweep(ctx, summaries.send_due, "evening summary")


async def sweep_texts(ctx: dict) -> int:
    """Send the reminder texts that are due (their quiet hours over); each is claimed once. Without a text
    provider it asks nothing of the database, so it must not tell the outage log the database is back."""
    settings, clock = ctx["settings"], ctx["clock"]
    if not settings.text_provider_url:
        return 0
    try:
        sent = await texts.send_due(now=clock.now(), settings=settings)
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return 0
    DATABASE.up()
    return sent


async def _sweep(ctx: dict, send_due, name: str) -> int:
    settings, clock = ctx["settings"], ctx["clock"]
    try:
        jobs = await send_due(
            now=clock.now(), settings=settings, queue=JobQueue(ctx["redis"], settings.queue_name)
        )
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return 0
    DATABASE.up()
    written = jobs if isinstance(jobs, int) else len(jobs)
    if written:
        log.info("%s sweep: %s written", name, written)
    return written
