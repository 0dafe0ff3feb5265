"""The first-meeting checklist (R7) for one client, and for every client with open items.

The facts are read in a fixed number of queries whatever the number of clients (one per kind of
fact, for all clients at once), then ``app.domain.checklist.derive`` turns them into item states.
Only "not applicable" marks are stored (``ChecklistItem``); the coverage status lives on the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.config import Settings
from app.domain.checklist import Checklist, Facts, Item, NotApplicable, Session, derive, reason_problem
from app.domain.clients import RESENDS_PER_DAY, InvitationState
from app.domain.insurance import load_answers, questions, summary
from app.domain.statuses import AppointmentStatus
from app.domain.validation import FieldProblem
from app.models.db import transaction
from app.models.tables import (
    Appointment,
    AuditEvent,
    ChecklistItem,
    Client,
    Clinician,
    InsurancePolicy,
    StatusChange,
    User,
)
from app.services import appointments, audit, insurance
from app.services.client_accounts import Invitation, invitations_of
from app.services.clients import own_client
from app.services.context import Actor
from app.services.errors import ClientNotFound
from app.services.queue import JobQueue

CLIENT_COLUMNS = (
    Client.id,
    Client.user,
    Client.name,
    Client.email,
    Client.billing_type,
    Client.coverage_status,
    Client.coverage_note,
    Client.coverage_updated_at,
    Client.coverage_updated_by,
    Client.archived_at,
    Client.created_at,
)


class ChecklistProblem(FieldProblem):
    """An action can't be done; ``field`` names where the message belongs."""


@dataclass(frozen=True)
class ClientChecklist:
    """One client's checklist with what the partial shows beside it."""

    client: dict[str, Any]
    checklist: Checklist
    invitation: Invitation
    names: dict[int, str] = field(default_factory=dict)
    copay_minor: int | None = None
    self_check: list[tuple[str, str]] = field(default_factory=list)
    self_check_at: datetime | None = None
    insurance_email: str = ""
    currency: str = "USD"

    @property
    def id(self) -> int:
        return self.client["id"]

    @property
    def archived(self) -> bool:
        return self.client["archived_at"] is not None

    def name_of(self, user_id: int | None) -> str:
        return self.names.get(user_id, "") if user_id is not None else ""


async def _build(clinician_id: int, clients: list[dict], now: datetime) -> list[ClientChecklist]:
    """The checklists of ``clients`` (rows of ``CLIENT_COLUMNS``) in a constant number of queries."""
    if not clients:
        return []
    ids = [c["id"] for c in clients]
    user_ids = [c["user"] for c in clients if c["user"]]
    practice = (
        await Clinician.select(
            Clinician.insurance_email, Clinician.licence_type, Clinician.practice_name, Clinician.currency
        )
        .where(Clinician.id == clinician_id)
        .first()
    )
    logins = {}
    if user_ids:
        rows = await User.select(User.id, User.password_hash, User.password_changed_at).where(
            User.id.is_in(user_ids)
        )
        logins = {r["id"]: r for r in rows}
    invitations = await invitations_of({c["id"]: c["user"] for c in clients}, now)
    resent = await AuditEvent.select(AuditEvent.client_id).where(
        (AuditEvent.action == "invitation_resent")
        & (AuditEvent.client_id.is_in(ids))
        & (AuditEvent.at > now - timedelta(days=1))
    )
    resends: dict[int, int] = {}
    for row in resent:
        resends[row["client_id"]] = resends.get(row["client_id"], 0) + 1
    sessions_by_client: dict[int, list[dict]] = {}
    rows = await Appointment.select(
        Appointment.id,
        Appointment.client,
        Appointment.starts_at,
        Appointment.status,
        Appointment.created_at,
        Appointment.created_by,
        Appointment.status_changed_at,
    ).where((Appointment.clinician == clinician_id) & (Appointment.client.is_in(ids)))
    for row in rows:
        sessions_by_client.setdefault(row["client"], []).append(row)
    occurred_ids = [r["id"] for r in rows if r["status"] == AppointmentStatus.OCCURRED.value]
    occurred_by: dict[int, int | None] = {}
    if occurred_ids:
        marks = (
            await StatusChange.select(StatusChange.appointment, StatusChange.changed_by)
            .where(
                (StatusChange.appointment.is_in(occurred_ids))
                & (StatusChange.to_status == AppointmentStatus.OCCURRED.value)
            )
            .order_by(StatusChange.id)
        )
        occurred_by = {m["appointment"]: m["changed_by"] for m in marks}
    marks = await ChecklistItem.objects().where(
        (ChecklistItem.client.is_in(ids)) & (ChecklistItem.not_applicable.eq(True))
    )
    not_applicable: dict[int, dict[str, NotApplicable]] = {}
    for mark in marks:
        not_applicable.setdefault(mark.client, {})[mark.item] = NotApplicable(
            mark.reason, mark.recorded_by, mark.recorded_at
        )
    policies = {
        p["client"]: p
        for p in await InsurancePolicy.select(
            InsurancePolicy.client,
            InsurancePolicy.copay_minor,
            InsurancePolicy.self_check,
            InsurancePolicy.self_check_updated_at,
        ).where(InsurancePolicy.client.is_in(ids))
    }
    asked = questions(practice["licence_type"], practice["practice_name"])
    built: list[tuple[dict, Checklist]] = []
    for c in clients:
        login = logins.get(c["user"])
        facts = Facts(
            client_user_id=c["user"],
            password_set_at=login["password_changed_at"] if login else None,
            has_password=bool(login and login["password_hash"] is not None),
            sessions=tuple(
                Session(
                    id=r["id"],
                    starts_at=r["starts_at"],
                    status=r["status"],
                    created_at=r["created_at"],
                    created_by=r["created_by"],
                    status_changed_at=r["status_changed_at"],
                    occurred_by=occurred_by.get(r["id"]),
                )
                for r in sessions_by_client.get(c["id"], [])
            ),
            coverage_status=c["coverage_status"],
            coverage_updated_at=c["coverage_updated_at"],
            coverage_updated_by=c["coverage_updated_by"],
            not_applicable=not_applicable.get(c["id"], {}),
        )
        built.append((c, derive(facts, now)))
    people = {
        person
        for _, checklist in built
        for state in checklist.items
        for person in (state.by, state.not_applicable.by if state.not_applicable else None)
        if person is not None
    }
    names = {}
    if people:
        rows = await User.select(User.id, User.name, User.email).where(User.id.is_in(list(people)))
        names = {r["id"]: r["name"] or r["email"] for r in rows}
    result = []
    for c, checklist in built:
        invitation = invitations.get(c["id"]) or Invitation(InvitationState.NOT_SENT)
        policy = policies.get(c["id"])
        answers = load_answers(policy["self_check"]) if policy else {}
        result.append(
            ClientChecklist(
                client=c,
                checklist=checklist,
                invitation=Invitation(
                    invitation.state,
                    invitation.sent_at,
                    invitation.opened_at,
                    invitation.expires_at,
                    max(0, RESENDS_PER_DAY - resends.get(c["id"], 0)),
                ),
                names=names,
                copay_minor=policy["copay_minor"] if policy else None,
                self_check=summary(answers, asked, practice["currency"]),
                self_check_at=policy["self_check_updated_at"] if policy else None,
                insurance_email=practice["insurance_email"],
                currency=practice["currency"],
            )
        )
    return result


async def for_client(clinician_id: int, client_id: int, *, now: datetime) -> ClientChecklist:
    """One client's checklist; ``ClientNotFound`` for another practice's client."""
    rows = await Client.select(*CLIENT_COLUMNS).where(
        (Client.id == client_id) & (Client.clinician == clinician_id)
    )
    if not rows:
        raise ClientNotFound(client_id)
    return (await _build(clinician_id, rows, now))[0]


async def with_open_items(clinician_id: int, *, now: datetime) -> list[ClientChecklist]:
    """Every active client with at least one open item, newest client first."""
    rows = (
        await Client.select(*CLIENT_COLUMNS)
        .where((Client.clinician == clinician_id) & Client.archived_at.is_null())
        .order_by(Client.created_at, ascending=False)
        .order_by(Client.id, ascending=False)
    )
    return [c for c in await _build(clinician_id, rows, now) if c.checklist.open_count]


async def open_count(clinician_id: int, *, now: datetime) -> int:
    """How many clients have open items (the navigation badge)."""
    return len(await with_open_items(clinician_id, now=now))


def _item(value: str) -> Item:
    try:
        return Item(value)
    except ValueError:
        raise ChecklistProblem("item", "That isn't a checklist item.") from None


async def mark_not_applicable(
    clinician_id: int, client_id: int, item: str, reason: str, *, now: datetime, actor: Actor
) -> None:
    """Mark an item "not applicable" for this client, with the reason (replaces an earlier mark)."""
    which = _item(item)
    problem = reason_problem(reason)
    if problem:
        raise ChecklistProblem(f"reason_{which.value}", problem)
    async with transaction():
        await own_client(clinician_id, client_id)
        values = {
            ChecklistItem.not_applicable: True,
            ChecklistItem.reason: reason.strip(),
            ChecklistItem.recorded_by: actor.user_id,
            ChecklistItem.recorded_at: now,
        }
        updated = (
            await ChecklistItem.update(values)
            .where((ChecklistItem.client == client_id) & (ChecklistItem.item == which.value))
            .returning(ChecklistItem.id)
        )
        if not updated:
            await ChecklistItem.insert(
                ChecklistItem(
                    client=client_id,
                    item=which.value,
                    not_applicable=True,
                    reason=reason.strip(),
                    recorded_by=actor.user_id,
                    recorded_at=now,
                )
            )
        await audit.client_event(
            "checklist_not_applicable", client_id, clinician_id, actor=actor, at=now, detail=which.value
        )


async def clear_not_applicable(
    clinician_id: int, client_id: int, item: str, *, now: datetime, actor: Actor
) -> None:
    """Put a "not applicable" item back on the list."""
    which = _item(item)
    async with transaction():
        await own_client(clinician_id, client_id)
        await ChecklistItem.update(
            {
                ChecklistItem.not_applicable: False,
                ChecklistItem.recorded_by: actor.user_id,
                ChecklistItem.recorded_at: now,
            }
        ).where((ChecklistItem.client == client_id) & (ChecklistItem.item == which.value))
        await audit.client_event(
            "checklist_applicable_again", client_id, clinician_id, actor=actor, at=now, detail=which.value
        )


async def mark_intro_occurred(
    clinician_id: int,
    client_id: int,
    appointment_id: int,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
    queue: JobQueue,
) -> None:
    """Mark the client's intro session Occurred through the one status service (charging follows)."""
    belongs = await Appointment.exists().where(
        (Appointment.id == appointment_id)
        & (Appointment.client == client_id)
        & (Appointment.clinician == clinician_id)
    )
    if not belongs:
        raise ClientNotFound(client_id)
    try:
        await appointments.change_status(
            appointment_id,
            AppointmentStatus.OCCURRED.value,
            clinician_id=clinician_id,
            now=now,
            actor=actor,
            settings=settings,
            queue=queue,
        )
    except appointments.StatusChangeRefused as refused:
        raise ChecklistProblem(Item.INTRO.value, refused.message) from None


async def record_coverage(
    clinician_id: int, client_id: int, coverage_status: str, note: str, *, now: datetime, actor: Actor
) -> int:
    """The clinician records how the coverage talk went: a coverage status and a note."""
    async with transaction():
        client = await own_client(clinician_id, client_id)
        current = await insurance.details_of(client_id)
        return await insurance.apply_update(
            client, current, coverage_status=coverage_status, coverage_note=note, now=now, actor=actor
        )
