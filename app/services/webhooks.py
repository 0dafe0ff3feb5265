"""Stripe's webhooks (``POST /stripe/webhook``): each verified event is stored once by its id and a job
processes it. Stripe delivers at least once and in any order, so processing never trusts the event's
snapshot to move a state: it asks the gateway for the object's current state and only moves a charge
forward (see ``charges.settle_from_gateway``). A repeated event is stored once and processed once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from app.config import Settings
from app.models.db import is_unique_violation, transaction
from app.models.tables import StripeEvent
from app.payments.base import PaymentGateway
from app.services import cards, charges, disputes
from app.services.queue import JobQueue, QueuedJob

log = logging.getLogger("app.services.webhooks")
EVENT_JOB = "process_stripe_event"
PAYMENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.canceled",
    }
)
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"})
CARD_EVENTS = frozenset({"payment_method.automatically_updated", "payment_method.detached"})
SWEEP_AFTER = timedelta(minutes=1)  # an event still unprocessed this long after arriving lost its job


def event_job(event_id: str) -> QueuedJob:
    return QueuedJob(EVENT_JOB, (event_id,), job_id=f"stripe-event:{event_id}")


async def store_event(event: dict, *, now: datetime) -> QueuedJob | None:
    """Keep a verified event once by its id; the job to process it (None for a repeat already stored)."""
    row = StripeEvent(
        event_id=str(event["id"])[:255],
        kind=str(event.get("type", ""))[:100],
        account=str(event.get("account") or "")[:255],
        payload=json.dumps(event),
        received_at=now,
    )
    try:
        async with transaction():
            await StripeEvent.insert(row)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        stored = await StripeEvent.objects().where(StripeEvent.event_id == row.event_id).first()
        return None if stored is None or stored.processed_at else event_job(row.event_id)
    return event_job(row.event_id)


async def process_event(
    event_id: str, *, now: datetime, settings: Settings, gateway: PaymentGateway, queue: JobQueue
) -> str:
    """Act on one stored event (safe to run again); raises ``GatewayUnavailable`` to be retried."""
    row = await StripeEvent.objects().where(StripeEvent.event_id == event_id).first()
    if row is None or row.processed_at is not None:
        return "done"
    event = json.loads(row.payload)
    subject = event.get("data", {}).get("object", {})
    if row.kind in PAYMENT_EVENTS:
        outcome = await charges.settle_from_gateway(
            str(subject.get("id", "")), now=now, settings=settings, gateway=gateway, queue=queue
        )
    elif row.kind == "charge.refunded":
        settled = await charges.settle_refunds_of(
            str(subject.get("payment_intent") or ""), now=now, gateway=gateway
        )
        outcome = f"refunds settled: {settled}"
    elif row.kind in DISPUTE_EVENTS:
        outcome = await disputes.record_dispute(
            str(subject.get("id", "")), now=now, settings=settings, gateway=gateway, queue=queue
        )
    elif row.kind in CARD_EVENTS:
        outcome = await cards.refresh_from_gateway(str(subject.get("id", "")), now=now, gateway=gateway)
    else:
        outcome = "ignored"
    await StripeEvent.update({StripeEvent.processed_at: now, StripeEvent.outcome: outcome[:100]}).where(
        (StripeEvent.id == row.id) & StripeEvent.processed_at.is_null()
    )
    return outcome


async def unprocessed(*, now: datetime, limit: int = 500) -> list[str]:
    """Events whose job was lost (Redis flushed, a worker killed): for the sweep to process."""
    rows = (
        await StripeEvent.select(StripeEvent.event_id)
        .where(StripeEvent.processed_at.is_null() & (StripeEvent.received_at <= now - SWEEP_AFTER))
        .order_by(StripeEvent.id)
        .limit(limit)
    )
    return [row["event_id"] for row in rows]
