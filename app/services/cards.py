"""The client's card on file: added or replaced through the gateway; only references, brand, last four
and expiry are stored, with the client's authorisation (text version, time, address). Saving a new card
retries the client's failed charges at once (R4). Stripe's ``payment_method`` webhooks refresh a card the
bank updated, or take a detached card off file, always from Stripe's current record (any order, repeats).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from app.config import Settings
from app.domain import card_authorisation
from app.models.db import transaction
from app.models.tables import PaymentMethod
from app.payments.base import NOT_CONFIRMED, CardRejected, PaymentGateway, SavedCard
from app.services import audit, charges, portal
from app.services.context import Actor
from app.services.queue import JobQueue

card_on_file = charges.card_on_file


async def customer_ref_for(user_id: int, gateway: PaymentGateway) -> str:
    """The gateway customer of this person: the one already used, or a new one (idempotent per person)."""
    previous = (
        await PaymentMethod.objects()
        .where((PaymentMethod.user == user_id) & (PaymentMethod.gateway == gateway.name))
        .order_by(PaymentMethod.id, ascending=False)
        .first()
    )
    if previous is not None and previous.customer_ref:
        return previous.customer_ref
    return await gateway.create_customer(idempotency_key=f"customer:user:{user_id}", user_id=user_id)


async def authorisation_for(user_id: int) -> str:
    """The authorisation this client gives by saving a card, naming the practices that may charge it."""
    practices = await portal.practices_of(user_id)
    return card_authorisation.authorisation_text([p.practice_name for p in practices])


async def start_card_setup(user_id: int, gateway) -> str:
    """A new SetupIntent on this person's customer; returns the client secret the card form confirms."""
    customer = await customer_ref_for(user_id, gateway)
    _, secret = await gateway.start_card_setup(
        customer, idempotency_key=f"setup:user:{user_id}:{secrets.token_hex(8)}"
    )
    return secret


async def save_confirmed_card(
    user_id: int,
    setup_ref: str,
    *,
    gateway,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> PaymentMethod:
    """Save the card of a SetupIntent the browser confirmed if it is this person's (or ``CardRejected``)."""
    card = await gateway.finish_card_setup(setup_ref)
    if card.customer_ref != await customer_ref_for(user_id, gateway):
        raise CardRejected(NOT_CONFIRMED, code="not_yours")
    return await save_card(
        user_id, card, gateway_name=gateway.name, now=now, actor=actor, settings=settings, queue=queue
    )


def method_row(user_id: int, card: SavedCard, gateway_name: str, now: datetime) -> PaymentMethod:
    """The row of a card saved at the gateway, on file from ``now``."""
    return PaymentMethod(
        user=user_id,
        gateway=gateway_name,
        customer_ref=card.customer_ref,
        method_ref=card.method_ref,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        created_at=now,
    )


async def save_card(
    user_id: int,
    card: SavedCard,
    *,
    gateway_name: str,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> PaymentMethod:
    """Replace the card on file with ``card`` (already saved at the gateway) and retry failed charges."""
    async with transaction():
        await PaymentMethod.update({PaymentMethod.removed_at: now}).where(
            (PaymentMethod.user == user_id) & PaymentMethod.removed_at.is_null()
        )
        row = method_row(user_id, card, gateway_name, now)
        row.authorisation_version = card_authorisation.VERSION
        row.authorised_at = now
        row.authorised_ip = actor.ip or ""
        rows = await PaymentMethod.insert(row).returning(PaymentMethod.id)
        await audit.record(
            "card_saved",
            actor=actor,
            at=now,
            object_type="payment_method",
            object_id=rows[0]["id"],
            detail=card.brand,
        )
        jobs = await charges.retry_failed_for_user(user_id, now=now, actor=actor, settings=settings)
    await queue.enqueue_all(jobs)
    return await PaymentMethod.objects().where(PaymentMethod.id == rows[0]["id"]).first()


async def save_sandbox_card(
    user_id: int,
    number: str,
    exp_month: int,
    exp_year: int,
    *,
    gateway,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> PaymentMethod:
    """The sandbox's card form: tokenise a test number, then save it (raises ``CardRejected``)."""
    customer = await customer_ref_for(user_id, gateway)
    card = gateway.save_test_card(customer, number, exp_month, exp_year)
    return await save_card(
        user_id, card, gateway_name=gateway.name, now=now, actor=actor, settings=settings, queue=queue
    )


async def refresh_from_gateway(method_ref: str, *, now: datetime, gateway) -> str:
    """Bring our copy of a saved card in line with the gateway's: new details, or off file once detached."""
    card = await gateway.get_card(method_ref)
    on_file = (PaymentMethod.method_ref == method_ref) & PaymentMethod.removed_at.is_null()
    if card is None:
        async with transaction():
            removed = (
                await PaymentMethod.update({PaymentMethod.removed_at: now})
                .where(on_file)
                .returning(PaymentMethod.id)
            )
            for row in removed:
                await audit.record(
                    "card_detached",
                    actor=Actor.system(),
                    at=now,
                    object_type="payment_method",
                    object_id=row["id"],
                )
        return f"card detached: {len(removed)}"
    ours = on_file & (PaymentMethod.customer_ref == card.customer_ref)
    new_expiry = (PaymentMethod.exp_month != card.exp_month) | (PaymentMethod.exp_year != card.exp_year)
    async with transaction():
        await PaymentMethod.update({PaymentMethod.expiry_warned_at: None}).where(ours & new_expiry)
        updated = (
            await PaymentMethod.update(
                {
                    PaymentMethod.brand: card.brand,
                    PaymentMethod.last4: card.last4,
                    PaymentMethod.exp_month: card.exp_month,
                    PaymentMethod.exp_year: card.exp_year,
                }
            )
            .where(ours)
            .returning(PaymentMethod.id)
        )
    return f"card refreshed: {len(updated)}"
