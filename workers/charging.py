"""Charging jobs: charge one appointment's charge (ids only); sweep every minute for lost work."""

from __future__ import annotations

import logging

from arq import Retry

from app.domain.charges import retry_delay
from app.payments import gateway_for
from app.payments.base import GatewayUnavailable
from app.services import card_warnings, charges
from app.services.queue import JobQueue
from workers.outages import DATABASE, DATABASE_DOWN, job_backoff

log = logging.getLogger(__name__)


def parts(ctx: dict):
    settings = ctx["settings"]
    if "gateway" not in ctx:
        ctx["gateway"] = gateway_for(settings)
    return settings, ctx["clock"], ctx["gateway"], JobQueue(ctx["redis"], settings.queue_name)


async def charge_appointment(ctx: dict, charge_id: int, generation: int) -> str:
    settings, clock, gateway, queue = parts(ctx)
    try:
        outcome = await charges.run_charge(
            charge_id, generation, now=clock.now(), settings=settings, gateway=gateway, queue=queue
        )
    except GatewayUnavailable as exc:
        attempt = ctx.get("job_try", 1)
        log.warning("charge %s: gateway unavailable (try %s): %s", charge_id, attempt, exc)
        raise Retry(defer=retry_delay(attempt)) from exc
    except DATABASE_DOWN as exc:  # the charge's state is in the database: run again once it answers
        DATABASE.down(exc)
        raise Retry(defer=job_backoff(ctx.get("job_try", 1))) from exc
    DATABASE.up()
    log.info("charge %s generation %s: %s", charge_id, generation, outcome)
    return outcome


async def sweep_charges(ctx: dict) -> dict[str, int]:
    """Queue the charge job of every due charge (lost jobs: all workers share the catch-up); resume
    attempts whose worker died; settle refunds left pending."""
    settings, clock, gateway, queue = parts(ctx)
    try:
        counts = await charges.sweep(now=clock.now(), settings=settings, gateway=gateway, queue=queue)
    except DATABASE_DOWN as exc:  # the next sweep (or a restarted worker's first) catches up
        DATABASE.down(exc)
        return {}
    DATABASE.up()
    if any(counts.values()):
        log.info("charge sweep: %s", counts)
    return counts


async def _hourly(ctx: dict, sweep) -> int:
    """Run a sweep that emails clients (``sweep(now=, settings=, queue=)``); 0 while the database is down."""
    settings, clock, _, queue = parts(ctx)
    try:
        return await sweep(now=clock.now(), settings=settings, queue=queue)
    except DATABASE_DOWN as exc:
        DATABASE.down(exc)
        return 0


async def remind_unconfirmed_payments(ctx: dict) -> int:
    """Remind once the clients whose payment has waited two days for their bank's confirmation."""
    return await _hourly(ctx, charges.remind_unconfirmed)


async def warn_expiring_cards(ctx: dict) -> int:
    """Warn once the clients whose saved card expires at the end of this month."""
    return await _hourly(ctx, card_warnings.warn_expiring)


async def cancel_stale_payment(ctx: dict, charge_id: int) -> str:
    """Cancel at the gateway the payment of a charge waived or un-marked while it awaited the client."""
    _, _, gateway, _ = parts(ctx)
    try:
        return await charges.cancel_stale_payment(charge_id, gateway=gateway)
    except GatewayUnavailable as exc:
        raise Retry(defer=retry_delay(ctx.get("job_try", 1))) from exc
