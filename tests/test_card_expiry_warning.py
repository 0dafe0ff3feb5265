"""The card-expiry warning: in the month a saved card expires, the hourly sweep emails the client once,
with the link to the portal's card page; a card not expiring yet, or already replaced, gets nothing."""

from __future__ import annotations

from app.models.tables import AuditEvent, EmailMessage, PaymentMethod
from app.services import card_warnings
from app.services.queue import JobQueue
from tests.charging_support import VISA, make_practice, save_card
from tests.helpers import last_email_to, link_in


async def expire_this_month(user_id: int, now) -> None:
    await PaymentMethod.update({PaymentMethod.exp_month: now.month, PaymentMethod.exp_year: now.year}).where(
        (PaymentMethod.user == user_id) & PaymentMethod.removed_at.is_null()
    )


async def test_the_client_is_warned_once_in_the_month_their_card_expires(db, redis, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    assert await card_warnings.warn_expiring(now=clock.now(), settings=settings, queue=queue) == 0
    await expire_this_month(practice.client.user.id, clock.now())
    for expected in (1, 0, 0):  # the sweep runs every hour
        assert await card_warnings.warn_expiring(now=clock.now(), settings=settings, queue=queue) == expected
        clock.advance(hours=1)
    message = await last_email_to(practice.client.email)
    assert message.kind == "card_expiring"
    assert message.subject == "Your Visa ending 4242 expires soon"
    assert f"{clock.now().month:02d}/{clock.now().year}" in message.text_body
    assert link_in(message.text_body, "/portal/card").endswith("/portal/card")
    assert await AuditEvent.count().where(AuditEvent.action == "card_expiry_warned") == 1


async def test_a_replaced_card_is_not_warned_about(db, redis, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await expire_this_month(practice.client.user.id, clock.now())
    await save_card(practice, VISA, clock.now(), settings, queue)  # the new card expires in three years
    assert await card_warnings.warn_expiring(now=clock.now(), settings=settings, queue=queue) == 0
    assert await EmailMessage.count().where(EmailMessage.kind == "card_expiring") == 0
