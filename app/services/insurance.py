"""Insurance details (R6): read and update, with one ``InsuranceChange`` row per changed field.

Both the client (in the portal) and their clinician may edit the policy; only the clinician sets the
coverage status. Callers pass a client record they have already checked access to.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from app.domain.practice import parse_money
from app.domain.statuses import BillingType, CoverageStatus
from app.domain.validation import Form
from app.models.db import transaction
from app.models.tables import Client, InsuranceChange, InsurancePolicy
from app.services import audit
from app.services.context import Actor

RELATIONSHIPS = {
    "self": "Self",
    "spouse": "Spouse or partner",
    "parent": "Parent",
    "child": "Child",
    "other": "Other",
}


@dataclass(frozen=True)
class InsuranceDetails:
    payer: str = ""
    member_id: str = ""
    group_number: str = ""
    subscriber_name: str = ""
    subscriber_relationship: str = "self"
    copay_minor: int | None = None

    @classmethod
    def of(cls, policy: InsurancePolicy | None) -> InsuranceDetails:
        if policy is None:
            return cls()
        return cls(**{f.name: getattr(policy, f.name) for f in fields(cls)})


async def details_of(client_id: int) -> InsuranceDetails:
    policy = await InsurancePolicy.objects().where(InsurancePolicy.client == client_id).first()
    return InsuranceDetails.of(policy)


async def history_of(client_id: int, limit: int = 50) -> list[InsuranceChange]:
    return (
        await InsuranceChange.objects()
        .where(InsuranceChange.client == client_id)
        .order_by(InsuranceChange.id, ascending=False)
        .limit(limit)
    )


def _shown(value: object) -> str:
    return "" if value is None else str(value)


async def apply_update(
    client: Client,
    new: InsuranceDetails,
    *,
    coverage_status: str | None = None,
    billing_type: str | None = None,
    now: datetime,
    actor: Actor,
) -> int:
    """Save ``new`` (inside the caller's transaction); returns how many fields changed."""
    policy = await InsurancePolicy.objects().where(InsurancePolicy.client == client.id).first()
    old = InsuranceDetails.of(policy)
    changed = [
        (f.name, getattr(old, f.name), getattr(new, f.name))
        for f in fields(InsuranceDetails)
        if getattr(old, f.name) != getattr(new, f.name)
    ]
    values = {f.name: getattr(new, f.name) for f in fields(InsuranceDetails)}
    if policy is None:
        await InsurancePolicy.insert(
            InsurancePolicy(client=client.id, updated_at=now, updated_by=actor.user_id, **values)
        )
    elif changed:
        await InsurancePolicy.update({**values, "updated_at": now, "updated_by": actor.user_id}).where(
            InsurancePolicy.client == client.id
        )
    client_changes: dict = {}
    if coverage_status is not None and coverage_status != client.coverage_status:
        changed.append(("coverage_status", client.coverage_status, coverage_status))
        client_changes.update(
            {
                Client.coverage_status: coverage_status,
                Client.coverage_updated_at: now,
                Client.coverage_updated_by: actor.user_id,
            }
        )
    if billing_type is not None and billing_type != client.billing_type:
        changed.append(("billing_type", client.billing_type, billing_type))
        client_changes[Client.billing_type] = billing_type
    if client_changes:
        await Client.update(client_changes).where(Client.id == client.id)
    for name, before, after in changed:
        await InsuranceChange.insert(
            InsuranceChange(
                client=client.id,
                changed_by=actor.user_id,
                changed_at=now,
                field=name,
                old_value=_shown(before),
                new_value=_shown(after),
            )
        )
    if changed:
        await audit.record(
            "insurance_updated",
            actor=actor,
            at=now,
            object_type="client",
            object_id=client.id,
            client_id=client.id,
            clinician_id=client.clinician,
            detail=",".join(name for name, _, _ in changed)[:255],
        )
    return len(changed)


async def update_insurance(
    client: Client,
    new: InsuranceDetails,
    *,
    coverage_status: str | None = None,
    billing_type: str | None = None,
    now: datetime,
    actor: Actor,
) -> int:
    """``apply_update`` as one transaction."""
    async with transaction():
        return await apply_update(
            client, new, coverage_status=coverage_status, billing_type=billing_type, now=now, actor=actor
        )


COVERAGE_CHOICES = {status.value: status.label for status in CoverageStatus}
BILLING_CHOICES = {BillingType.SELF_PAY.value: "Self-pay", BillingType.INSURANCE.value: "Insurance"}


def details_from_form(form: Form) -> InsuranceDetails:
    """Clean the insurance fields of a submitted form; problems are recorded on ``form``."""
    copay_text = form.data.get("copay", "").strip()
    copay = None
    if copay_text:
        copay = parse_money(copay_text)
        if copay is None or copay < 0 or copay > 100_000_00:
            form.error("copay", "Enter the copay as an amount, like 25 or 25.50.")
            copay = None
    return InsuranceDetails(
        payer=form.text("payer", label="Insurance company", required=False, max_length=200),
        member_id=form.text("member_id", label="Member ID", required=False, max_length=80),
        group_number=form.text("group_number", label="Group number", required=False, max_length=80),
        subscriber_name=form.text("subscriber_name", label="Subscriber", required=False, max_length=200),
        subscriber_relationship=form.choice(
            "subscriber_relationship", RELATIONSHIPS, label="Relationship", default="self"
        ),
        copay_minor=copay,
    )
