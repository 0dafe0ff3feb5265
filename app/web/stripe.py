"""Stripe's side of the conversation: the webhook endpoint (signed deliveries, stored once, processed by
a worker job). Off (404) unless STRIPE_WEBHOOK_SECRET is set."""

from __future__ import annotations

import logging

from litestar import Request, post
from litestar.exceptions import NotFoundException
from litestar.response import Response

from app.payments.stripe_gateway import EventRefused, verified_event
from app.services import webhooks
from app.services.queue import QueueUnavailable
from app.web.csrf import STRIPE_WEBHOOK_PATH
from app.web.runtime import AppRuntime, Now

log = logging.getLogger(__name__)


@post(STRIPE_WEBHOOK_PATH, name="stripe_webhook", include_in_schema=False, status_code=200)
async def stripe_webhook(request: Request, rt: AppRuntime, now: Now) -> Response:
    """Answer 200 once the event is stored (Stripe retries anything else); 400 for a bad signature."""
    secret = rt.settings.stripe_webhook_secret
    if not secret:
        raise NotFoundException()
    try:
        event = verified_event(await request.body(), request.headers.get("stripe-signature", ""), secret)
    except EventRefused:
        return Response(content={"error": "Signature or payload not valid."}, status_code=400)
    job = await webhooks.store_event(event, now=now)
    if job is not None:
        try:
            await rt.queue.enqueue_all([job])
        except QueueUnavailable:  # stored: the sweep processes it
            log.warning("stripe event %s stored; its job could not be queued", event["id"])
    return Response(content={"received": True}, headers={"Cache-Control": "no-store"})
