"""A charge that needs the cardholder (3-D Secure off-session): the portal page where the client confirms
the payment with their bank, its completion (the gateway's own answer, also reached by the webhook) and
one reminder two days later. A clinician may waive it meanwhile (``actions.waive_charge``), or the session
be un-marked: the payment is then cancelled at the gateway, and an old link says it is no longer needed."""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import Charge, Client
from app.payments.base import PaymentGateway
from app.services.charges.processing import confirmation_email, settle_from_gateway
from app.services.charges.views import ChargeView, view_of, views_of
from app.services.errors import ChargeNotFound
from app.services.queue import JobQueue, email_job

NO_LONGER_NEEDED = frozenset({C.WAIVED, C.CANCELLED})


async def cancel_stale_payment(charge_id: int, *, gateway: PaymentGateway) -> str:
    """Cancel at the gateway the payment of a charge no longer owed, so an old emailed link cannot
    confirm it (raises ``GatewayUnavailable`` to be retried)."""
    charge = await Charge.objects().where(Charge.id == charge_id).first()
    if charge is None or charge.status not in NO_LONGER_NEEDED or not charge.gateway_reference:
        return "nothing_to_do"
    key = f"cancel:{charge.id}:{charge.gateway_reference}"
    return await gateway.cancel_payment(charge.gateway_reference, idempotency_key=key)


async def _own_charge(charge_id: int, user_id: int) -> Charge | None:
    client_ids = Client.select(Client.id).where(Client.user == user_id)
    return await Charge.objects().where((Charge.id == charge_id) & Charge.client.is_in(client_ids)).first()


async def awaiting_confirmation(charge_id: int, *, user_id: int, now: datetime) -> ChargeView:
    """This client's charge that waits for them to confirm it with their bank (else ``ChargeNotFound``)."""
    charge = await _own_charge(charge_id, user_id)
    if charge is None or charge.status not in rules.CONFIRMABLE or not charge.gateway_reference:
        raise ChargeNotFound(charge_id)
    return await view_of(charge, now=now)


async def confirmation_page(
    charge_id: int, *, user_id: int, now: datetime, gateway: PaymentGateway
) -> tuple[ChargeView, str | None]:
    """The charge to confirm and the secret the bank's check needs in the browser ("" in the sandbox);
    None instead of a secret when the payment is no longer needed (waived, or the session un-marked)."""
    charge = await _own_charge(charge_id, user_id)
    if charge is not None and charge.status in NO_LONGER_NEEDED and charge.gateway_reference:
        return await view_of(charge, now=now), None
    view = await awaiting_confirmation(charge_id, user_id=user_id, now=now)
    return view, await gateway.confirmation_secret(view.charge.gateway_reference)


async def confirmed_by_cardholder(
    charge_id: int,
    *,
    user_id: int,
    now: datetime,
    settings: Settings,
    gateway: PaymentGateway,
    queue: JobQueue,
) -> str:
    """Back from the bank's check: record what the gateway says ('succeeded', or 'pending' if not yet)."""
    charge = await _own_charge(charge_id, user_id)
    if charge is not None and charge.status == C.SUCCEEDED:
        return "already_recorded"  # the webhook was quicker
    view = await awaiting_confirmation(charge_id, user_id=user_id, now=now)
    reference = view.charge.gateway_reference
    if gateway.name == "sandbox":
        await gateway.authenticate(reference)  # the sandbox's bank page is our own
    return await settle_from_gateway(reference, now=now, settings=settings, gateway=gateway, queue=queue)


async def remind_unconfirmed(*, now: datetime, settings: Settings, queue: JobQueue) -> int:
    """Remind once the clients whose payment has waited two days for their bank's confirmation."""
    due = (
        await Charge.objects()
        .where(
            Charge.status.is_in(list(rules.CONFIRMABLE))
            & Charge.confirmation_reminded_at.is_null()
            & (Charge.updated_at <= now - rules.CONFIRMATION_REMINDER)
        )
        .order_by(Charge.id)
        .limit(500)
    )
    jobs = []
    for view in await views_of(list(due), now=now):
        async with transaction():
            marked = (
                await Charge.update({Charge.confirmation_reminded_at: now})
                .where((Charge.id == view.charge.id) & Charge.confirmation_reminded_at.is_null())
                .returning(Charge.id)
            )
            if marked:
                jobs.append(
                    email_job(await confirmation_email(view, now=now, settings=settings, reminder=True))
                )
    await queue.enqueue_all(jobs)
    return len(jobs)
