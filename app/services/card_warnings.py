"""The card-expiry warning: a cron sweep emails the client, once per card and expiry, when the saved card's
expiry month begins (a few weeks before it stops working), with the link to the portal's card page. A new
expiry from the bank clears the stamp (``cards.refresh_from_gateway``)."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import card_expiry
from app.models.db import transaction
from app.models.tables import PaymentMethod, User
from app.services import audit, portal
from app.services.context import Actor
from app.services.email import queue_email
from app.services.queue import JobQueue, email_job


async def _warning_email(card: PaymentMethod, *, now: datetime, settings: Settings) -> int | None:
    holder = await User.objects().where(User.id == card.user).first()
    if holder is None:
        return None
    practices = await portal.practices_of(holder.id)
    first = practices[0] if practices else None
    return await queue_email(
        to=holder.email,
        subject=f"Your {card.brand} ending {card.last4} expires soon",
        template="card_expiring",
        context={
            "name": holder.name,
            "card": f"{card.brand} ending {card.last4}",
            "expiry": card_expiry.expiry_text(card.exp_month, card.exp_year),
            "practice": first.practice_name if first else "your therapy practice",
            "card_url": f"{settings.base_url}/portal/card",
        },
        now=now,
        settings=settings,
        reply_to=(first.insurance_email or first.contact_email) if first else "",
    )


async def warn_expiring(*, now: datetime, settings: Settings, queue: JobQueue) -> int:
    """Email each client whose card on file expires at the end of this month, once per card and expiry."""
    this_month = (PaymentMethod.exp_month == now.month) & (PaymentMethod.exp_year == now.year)
    candidates = (
        await PaymentMethod.objects()
        .where(PaymentMethod.removed_at.is_null() & PaymentMethod.expiry_warned_at.is_null() & this_month)
        .order_by(PaymentMethod.id)
        .limit(500)
    )
    jobs = []
    for card in candidates:
        if not card_expiry.warning_due(card.exp_month, card.exp_year, now):
            continue
        async with transaction():
            marked = (
                await PaymentMethod.update({PaymentMethod.expiry_warned_at: now})
                .where((PaymentMethod.id == card.id) & PaymentMethod.expiry_warned_at.is_null())
                .returning(PaymentMethod.id)
            )
            message_id = await _warning_email(card, now=now, settings=settings) if marked else None
            if message_id is not None:
                await audit.record(
                    "card_expiry_warned",
                    actor=Actor.system(),
                    at=now,
                    object_type="payment_method",
                    object_id=card.id,
                )
                jobs.append(email_job(message_id))
    await queue.enqueue_all(jobs)
    return len(jobs)
