"""Stripe webhook jobs: process one stored event (by id); sweep events whose job was lost."""

from __future__ import annotations

import logging

from arq import Retry

from app.domain.charges import retry_delay
from app.payments.base import GatewayUnavailable
from app.services import webhooks
from workers.charging import parts
from workers.outages import DATABASE, DATABASE_DOWN, job_backoff

log = logging.getLogger(__name__)


async def process_stripe_event(ctx: dict, event_id: str) -> str:
    settings, clock, gateway, queue = parts(ctx)
    try:
        outcome = await webhooks.process_event(
            event_id, now=clock.now(), settings=settings, gateway=gateway, queue=queue
        )
    except GatewayUnavailable as exc:
        raise Retry(defer=retry_delay(ctx.get("job_try", 1))) from exc
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        raise Retry(defer=job_backoff(ctx.get("job_try", 1))) from exc
    DATABASE.up()
    log.info("stripe event %s: %s", event_id, outcome)
    return outcome


async def sweep_stripe_events(ctx: dict) -> int:
    """Process, here, the events whose job was lost (Redis flushed, a worker killed)."""
    settings, clock, gateway, queue = parts(ctx)
    done = 0
    try:
        for event_id in await webhooks.unprocessed(now=clock.now()):
            await webhooks.process_event(
                event_id, now=clock.now(), settings=settings, gateway=gateway, queue=queue
            )
            done += 1
    except GatewayUnavailable as exc:
        log.warning("stripe event sweep: gateway unavailable, the next pass carries on: %s", exc)
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
    return done
