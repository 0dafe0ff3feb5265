"""The nightly reconciliation with Stripe: the last few days' payments against our charges."""

from __future__ import annotations

import logging
from datetime import timedelta

from app.payments.base import GatewayUnavailable
from app.services import reconcile
from workers.charging import parts

log = logging.getLogger(__name__)
NIGHTLY_WINDOW = timedelta(days=3)  # overlapping nights: a payment missed one night is seen the next


async def reconcile_nightly(ctx: dict) -> int:
    """Compare, repair the safe differences, log every one; returns how many there were."""
    settings, clock, gateway, queue = parts(ctx)
    now = clock.now()
    try:
        differences = await reconcile.reconcile(
            since=now - NIGHTLY_WINDOW, now=now, settings=settings, gateway=gateway, queue=queue
        )
    except GatewayUnavailable as exc:
        log.warning("reconciliation: gateway unavailable, tomorrow's run covers these days: %s", exc)
        return 0
    for difference in differences:
        log.warning("reconciliation %s", difference)
    return len(differences)
