"""E-mail delivery jobs: send one outbox message, or a batch on one connection; sweep messages whose job
was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiosmtplib
from arq import Retry

from app.services import email
from workers.outages import DATABASE, DATABASE_DOWN, POSTGRES_DOWN, database_answers, job_backoff

log = logging.getLogger(__name__)


async def send_email(ctx: dict, message_id: int) -> str:
    settings, clock = ctx["settings"], ctx["clock"]
    try:
        outcome = await email.deliver(message_id, settings, clock.now(), ctx.get("mailer"))
    except POSTGRES_DOWN as exc:
        DATABASE.down(exc)
        raise Retry(defer=job_backoff(ctx.get("job_try", 1))) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        attempt = ctx.get("job_try", 1)
        if isinstance(exc, OSError) and not await database_answers():  # not SMTP: the database is down
            raise Retry(defer=job_backoff(attempt)) from exc
        log.warning("email %s: attempt %s failed: %s", message_id, attempt, exc)
        raise Retry(defer=min(30 * 2**attempt, 3600)) from exc
    DATABASE.up()
    return outcome


async def send_emails(ctx: dict, message_ids: list[int]) -> dict[str, int]:
    """A batch of outbox messages (a sweep's reminders) on one SMTP connection; retried like one."""
    settings, clock = ctx["settings"], ctx["clock"]
    try:
        outcome = await email.deliver_many(message_ids, settings, clock.now(), ctx.get("mailer"))
    except POSTGRES_DOWN as exc:
        DATABASE.down(exc)
        raise Retry(defer=job_backoff(ctx.get("job_try", 1))) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        attempt = ctx.get("job_try", 1)
        if isinstance(exc, OSError) and not await database_answers():
            raise Retry(defer=job_backoff(attempt)) from exc
        log.warning("%s emails: attempt %s failed: %s", len(message_ids), attempt, exc)
        raise Retry(defer=min(30 * 2**attempt, 3600)) from exc
    DATABASE.up()
    return outcome


async def sweep_unsent_emails(ctx: dict) -> int:
    """Re-queue messages that have waited over five minutes (Redis lost the job, or it failed)."""
    settings, clock = ctx["settings"], ctx["clock"]
    if not settings.smtp_url:
        return 0
    try:
        ids = await email.unsent_ids(clock.now() - timedelta(minutes=5))
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return 0
    for message_id in ids:
        await ctx["redis"].enqueue_job("send_email", message_id, _job_id=f"email:{message_id}:sweep")
    return len(ids)
