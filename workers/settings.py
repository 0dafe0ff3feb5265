"""arq worker settings: ``arq workers.settings.WorkerSettings`` (or ``python -m app worker``)."""

from __future__ import annotations

import asyncio
import logging

from arq import cron
from arq.worker import func

from app.clock import clock_starting_at
from app.config import Settings
from app.models.db import engine, start_pool
from app.services.email import Mailer
from app.services.queue import deserialize, redis_settings, serialize
from workers import heartbeat
from workers.charging import (
    cancel_stale_payment,
    charge_appointment,
    remind_unconfirmed_payments,
    sweep_charges,
    warn_expiring_cards,
)
from workers.email import send_email, send_emails, sweep_unsent_emails
from workers.imports import invite_imported, run_import, sweep_imports
from workers.paperwork import issue_superbill, sweep_paperwork
from workers.reconcile import reconcile_nightly
from workers.reminders import sweep_evening_summaries, sweep_reminders, sweep_texts
from workers.stripe_events import process_stripe_event, sweep_stripe_events

SETTINGS = Settings.from_env()
POOL_CLOSE_SECONDS = 10
log = logging.getLogger(__name__)


async def startup(ctx: dict) -> None:
    ctx.setdefault("settings", SETTINGS)
    ctx.setdefault("clock", clock_starting_at(ctx["settings"].clock_start))
    settings: Settings = ctx["settings"]
    ctx["pooled"] = settings.is_postgres and settings.use_db_pool
    if ctx["pooled"]:
        # No floor: asyncpg would log a traceback each time it failed to restore one during an outage.
        await start_pool(min_size=0, max_size=5)
    if settings.smtp_url:
        ctx["mailer"] = Mailer(settings.smtp_url)
    await heartbeat.start(ctx)


async def shutdown(ctx: dict) -> None:
    """Close the database pool. A job cancelled by SIGTERM mid-query can leave its connection checked
    out for good, and a graceful close then waits forever: after a while, close it hard (the server
    rolls back whatever that job had open; arq runs the job again)."""
    await heartbeat.stop(ctx)
    if ctx.get("mailer"):
        await ctx["mailer"].close()
    if not ctx.get("pooled"):
        return
    db = engine()
    try:
        await asyncio.wait_for(db.close_connection_pool(), timeout=POOL_CLOSE_SECONDS)
    except TimeoutError:
        log.warning("database connections still checked out after %s s; closing them", POOL_CLOSE_SECONDS)
        db.pool.terminate()
        db.pool = None


class WorkerSettings:
    functions = [
        func(send_email, name="send_email", max_tries=8),
        func(send_emails, name="send_emails", max_tries=8, keep_result=0),
        func(charge_appointment, name="charge_appointment", max_tries=8, keep_result=0, timeout=90),
        func(cancel_stale_payment, name="cancel_stale_payment", max_tries=12, keep_result=0, timeout=90),
        func(run_import, name="run_import", max_tries=5, keep_result=0, timeout=1800),
        func(invite_imported, name="invite_imported", max_tries=5, keep_result=0),
        func(issue_superbill, name="issue_superbill", max_tries=5, keep_result=0),
        func(process_stripe_event, name="process_stripe_event", max_tries=12, keep_result=0, timeout=90),
    ]
    cron_jobs = [
        cron(sweep_unsent_emails, minute=None, second=15, unique=True, run_at_startup=False),
        cron(sweep_charges, minute=None, second=45, unique=True, run_at_startup=True, timeout=90),
        cron(sweep_imports, minute=None, second=30, unique=True, run_at_startup=True),
        cron(sweep_paperwork, minute={5, 35}, second=30, unique=True, run_at_startup=False, timeout=300),
        cron(remind_unconfirmed_payments, minute=5, unique=True, run_at_startup=False),
        cron(warn_expiring_cards, minute=25, unique=True, run_at_startup=False),
        cron(sweep_stripe_events, minute=None, second=30, unique=True, run_at_startup=False, timeout=90),
        cron(sweep_reminders, minute=None, second=30, unique=True, run_at_startup=True, timeout=90),
        cron(reconcile_nightly, hour=3, minute=20, unique=True, run_at_startup=False, timeout=600),
        cron(sweep_texts, minute=None, second=50, unique=True, run_at_startup=False, timeout=90),
        cron(sweep_evening_summaries, minute=set(range(2, 60, 5)), unique=True, run_at_startup=False),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings(SETTINGS)
    queue_name = SETTINGS.queue_name
    job_serializer = serialize
    job_deserializer = deserialize
    job_timeout = 120
    keep_result = 3600
    health_check_interval = 30
    max_jobs = 20
