"""Insurance details (R6): read and update, with one ``InsuranceChange`` row per changed field.

Both the client (in the portal) and their clinician may edit the policy; only the clinician sets the
coverage status (with a note) and the billing type. Callers pass a client record they have already
checked access to. Also here: the client's coverage self-check answers and the practice's
insurance-questions contact (email and licence type).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from app.domain.insurance import MAX_COVERAGE_NOTE, MAX_PLAN_NOTES, copay_problem, dump_answers, load_answers
from app.domain.practice import format_money, parse_money
from app.domain.statuses import BillingType, CoverageStatus
from app.domain.validation import Form, is_digits
from app.models.db import transaction
from app.models.tables import Client, Clinician, InsuranceChange, InsurancePolicy, User
from app.services import audit, practices
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
    plan_notes: str = ""

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
    coverage_note: str | None = None,
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
    if policy is None and changed:
        await InsurancePolicy.insert(
            InsurancePolicy(client=client.id, updated_at=now, updated_by=actor.user_id, **values)
        )
    elif changed:
        await InsurancePolicy.update({**values, "updated_at": now, "updated_by": actor.user_id}).where(
            InsurancePolicy.client == client.id
        )
    client_changes: dict = {}
    for field, value in (("coverage_status", coverage_status), ("coverage_note", coverage_note)):
        if value is not None and value != getattr(client, field):
            changed.append((field, getattr(client, field), value))
            client_changes[getattr(Client, field)] = value
            client_changes.update(
                {Client.coverage_updated_at: now, Client.coverage_updated_by: actor.user_id}
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
        await audit.client_event(
            "insurance_updated",
            client.id,
            client.clinician,
            actor=actor,
            at=now,
            detail=",".join(name for name, _, _ in changed)[:255],
        )
    return len(changed)


async def update_insurance(client: Client, new: InsuranceDetails, **changes: Any) -> int:
    """``apply_update`` (with the same keywords) as one transaction."""
    async with transaction():
        return await apply_update(client, new, **changes)


COVERAGE_CHOICES = {status.value: status.label for status in CoverageStatus}
BILLING_CHOICES = {BillingType.SELF_PAY.value: "Self-pay", BillingType.INSURANCE.value: "Insurance"}


def details_from_form(
    form: Form, *, billing_type: str | None = None, ceiling: int | None = None
) -> InsuranceDetails:
    """Clean the insurance fields of a submitted form; problems are recorded on ``form``.

    With insurance billing the insurance company is required (the copay is what gets charged).
    """
    copay_text = form.data.get("copay", "").strip()
    copay = None
    if copay_text:
        copay = parse_money(copay_text)
        problem = (
            "Enter the copay as an amount, like 25 or 25.50."
            if copay is None
            else copay_problem(copay, ceiling)
        )
        if problem:
            form.error("copay", problem)
            copay = None
    payer = form.text("payer", label="Insurance company", required=False, max_length=200)
    if billing_type == BillingType.INSURANCE.value and not payer and "payer" not in form.errors:
        form.error("payer", "Enter the insurance company, or choose self-pay billing.")
    return InsuranceDetails(
        payer=payer,
        member_id=form.text("member_id", label="Member ID", required=False, max_length=80),
        group_number=form.text("group_number", label="Group number", required=False, max_length=80),
        subscriber_name=form.name("subscriber_name", label="Subscriber", required=False, max_length=200),
        subscriber_relationship=form.choice(
            "subscriber_relationship", RELATIONSHIPS, label="Relationship", default="self"
        ),
        copay_minor=copay,
        plan_notes=form.text("plan_notes", label="Plan notes", required=False, max_length=MAX_PLAN_NOTES),
    )


def coverage_note_from_form(form: Form) -> str:
    return form.text("coverage_note", label="Note", required=False, max_length=MAX_COVERAGE_NOTE)


# --- History: who changed what -------------------------------------------------------------------

FIELD_LABELS = {
    "payer": "Insurance company",
    "member_id": "Member ID",
    "group_number": "Group number",
    "subscriber_name": "Subscriber",
    "subscriber_relationship": "Relationship",
    "copay_minor": "Copay",
    "plan_notes": "Plan notes",
    "coverage_status": "Coverage status",
    "coverage_note": "Coverage note",
    "billing_type": "Billing",
    "self_check": "Coverage self-check",
}


@dataclass(frozen=True)
class HistoryLine:
    field: str
    old: str
    new: str
    by_name: str
    by_id: int | None
    at: datetime


def _readable(name: str, value: str, currency: str) -> str:
    if not value:
        return "—"
    if name == "copay_minor" and is_digits(value.lstrip("-")):
        return format_money(int(value), currency)
    if name == "coverage_status":
        return COVERAGE_CHOICES.get(value, value)
    if name == "billing_type":
        return BILLING_CHOICES.get(value, value)
    if name == "subscriber_relationship":
        return RELATIONSHIPS.get(value, value)
    return value


async def history_lines(client_id: int, *, currency: str = "USD", limit: int = 50) -> list[HistoryLine]:
    """The client's insurance history, newest first, with readable values and who made each change."""
    rows = await history_of(client_id, limit)
    ids = list({row.changed_by for row in rows if row.changed_by is not None})
    names = {}
    if ids:
        names = {
            u["id"]: u["name"] or u["email"]
            for u in await User.select(User.id, User.name, User.email).where(User.id.is_in(ids))
        }
    return [
        HistoryLine(
            field=FIELD_LABELS.get(row.field, row.field),
            old=_readable(row.field, row.old_value, currency),
            new=_readable(row.field, row.new_value, currency),
            by_name=names.get(row.changed_by, "Stillwater"),
            by_id=row.changed_by,
            at=row.changed_at,
        )
        for row in rows
    ]


# --- The client's coverage self-check ------------------------------------------------------------


async def self_check_of(client_id: int) -> tuple[dict, datetime | None]:
    row = (
        await InsurancePolicy.select(InsurancePolicy.self_check, InsurancePolicy.self_check_updated_at)
        .where(InsurancePolicy.client == client_id)
        .first()
    )
    if row is None:
        return {}, None
    return load_answers(row["self_check"]), row["self_check_updated_at"]


async def apply_self_check(client: Client, answers: dict, *, now: datetime, actor: Actor) -> None:
    """Save the client's self-check answers (inside the caller's transaction), with a history line."""
    text = dump_answers(answers)
    policy = await InsurancePolicy.objects().where(InsurancePolicy.client == client.id).first()
    if policy is None:
        await InsurancePolicy.insert(
            InsurancePolicy(
                client=client.id,
                self_check=text,
                self_check_updated_at=now,
                updated_at=now,
                updated_by=actor.user_id,
            )
        )
    elif policy.self_check == text:
        return
    else:
        await InsurancePolicy.update(
            {InsurancePolicy.self_check: text, InsurancePolicy.self_check_updated_at: now}
        ).where(InsurancePolicy.client == client.id)
    await InsuranceChange.insert(
        InsuranceChange(
            client=client.id,
            changed_by=actor.user_id,
            changed_at=now,
            field="self_check",
            old_value="",
            new_value=f"{len(answers)} answers saved",
        )
    )
    await audit.client_event("coverage_self_check_saved", client.id, client.clinician, actor=actor, at=now)


# --- The practice's insurance-questions contact --------------------------------------------------


@dataclass(frozen=True)
class InsuranceContact:
    email: str
    licence_type: str
    practice_name: str


async def contact_of(clinician_id: int) -> InsuranceContact:
    row = (
        await Clinician.select(Clinician.insurance_email, Clinician.licence_type, Clinician.practice_name)
        .where(Clinician.id == clinician_id)
        .first()
    )
    return InsuranceContact(row["insurance_email"], row["licence_type"], row["practice_name"])


async def set_contact(
    clinician_id: int, *, email: str, licence_type: str, now: datetime, actor: Actor
) -> None:
    """Set where clients send insurance questions, and the licence type they ask their insurer about."""
    async with transaction():
        await Clinician.update(
            {Clinician.insurance_email: email, Clinician.licence_type: licence_type}
        ).where(Clinician.id == clinician_id)
        await practices.keep_practice_in_step(clinician_id)
        await audit.practice_event("insurance_contact_updated", clinician_id, actor=actor, at=now)
