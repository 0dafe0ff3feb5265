"""Reconciliation (``python -m app reconcile``, and the worker's nightly cron): our charges against the
gateway's payments, matched by the charge id we put in each payment's metadata.

Every difference is printed by the caller and recorded in the audit log. The safe ones are repaired
(the gateway took the money for the attempt we are still waiting on: recorded as the webhook would,
through ``charges.settle_from_gateway``); the rest are flagged for a person (money taken for a charge we
think unpaid, or a charge we think paid that the gateway did not take). Nothing is ever charged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C
from app.models.tables import Charge
from app.payments.base import PaymentGateway, PaymentRecord
from app.services import audit, charges
from app.services.context import Actor
from app.services.queue import JobQueue


@dataclass(frozen=True)
class Difference:
    reference: str
    charge_id: int | None
    ours: str
    theirs: str
    action: str  # "repaired" or "flagged"

    def __str__(self) -> str:
        charge = f"charge {self.charge_id}" if self.charge_id else "no charge of ours"
        return f"{self.action}: {self.reference} ({charge}): Stripe {self.theirs}, ours {self.ours}"


async def reconcile(
    *, since: datetime | None, now: datetime, settings: Settings, gateway: PaymentGateway, queue: JobQueue
) -> list[Difference]:
    """Compare every gateway payment since ``since``; repair the safe differences, flag the rest."""
    differences = []
    for record in await gateway.list_payments(since=since):
        charge = (
            await Charge.objects().where(Charge.id == record.charge_id).first()
            if record.charge_id is not None
            else None
        )
        difference = await _compare(record, charge, now=now, settings=settings, gateway=gateway, queue=queue)
        if difference is not None:
            differences.append(difference)
    return differences


async def _compare(
    record: PaymentRecord,
    charge: Charge | None,
    *,
    now: datetime,
    settings: Settings,
    gateway: PaymentGateway,
    queue: JobQueue,
) -> Difference | None:
    ours = C(charge.status) if charge else None
    same = charge is not None and charge.gateway_reference == record.reference
    action = rules.reconcile_action(ours, same, record.outcome)
    if action == "ok":
        return None
    if action == "repair":
        outcome = await charges.settle_from_gateway(
            record.reference, now=now, settings=settings, gateway=gateway, queue=queue
        )
        action = "flag" if outcome not in {C.SUCCEEDED, "already_recorded"} else action
    difference = Difference(
        record.reference,
        charge.id if charge else None,
        ours.value if ours else "none",
        record.outcome,
        "repaired" if action == "repair" else "flagged",
    )
    await audit.record(
        f"reconcile_{difference.action}",
        actor=Actor.system(),
        at=now,
        object_type="charge" if charge else "payment",
        object_id=charge.id if charge else None,
        client_id=charge.client if charge else None,
        clinician_id=charge.clinician if charge else None,
        outcome="success" if difference.action == "repaired" else "failure",
        detail=f"{record.reference} stripe {record.outcome} ours {difference.ours}"[:200],
    )
    return difference
