"""The first-meeting checklist (R7) for one client, and for every client with open items.

The facts are read in a fixed number of queries whatever the number of clients (one loader per kind
of fact, for all clients at once), then ``app.domain.checklist.derive`` turns them into item states.
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
    PaymentMethod,
    StatusChange,
    User,
)
from app.services import appointments, audit, insurance, paperwork
from app.services.client_accounts import Invitation, invitations_of
from app.services.clients import own_client
from app.services.context import Actor
from app.services.errors import ClientNotFound
from app.services.paperwork import Paperwork
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
    paperwork: Paperwork | None = None

    @property
    def id(self) -> int:
        return self.client["id"]

    @property
    def archived(self) -> bool:
        return self.client["archived_at"] is not None

    def name_of(self, user_id: int | None) -> str:
        return self.names.get(user_id, "") if user_id is not None else ""


async def _practice(clinician_id: int) -> dict[str, Any]:
    return (
        await Clinician.select(
            Clinician.insurance_email, Clinician.licence_type, Clinician.practice_name, Clinician.currency
        )
        .where(Clinician.id == clinician_id)
        .first()
    )


async def _logins(user_ids: list[int]) -> dict[int, dict]:
    """Each client login's password state, by user id."""
    if not user_ids:
        return {}
    rows = await User.select(User.id, User.password_hash, User.password_changed_at).where(
        User.id.is_in(user_ids)
    )
    return {r["id"]: r for r in rows}


async def _resends(ids: list[int], now: datetime) -> dict[int, int]:
    """Invitations resent in the last day, by client."""
    resent = await AuditEvent.select(AuditEvent.client_id).where(
        (AuditEvent.action == "invitation_resent")
        & (AuditEvent.client_id.is_in(ids))
        & (AuditEvent.at > now - timedelta(days=1))
    )
    counts: dict[int, int] = {}
    for row in resent:
        counts[row["client_id"]] = counts.get(row["client_id"], 0) + 1
    return counts


async def _sessions(clinician_id: int, ids: list[int]) -> dict[int, tuple[Session, ...]]:
    """Every session of each client, with who marked it Occurred."""
    rows = await Appointment.select(
        Appointment.id,
        Appointment.client,
        Appointment.starts_at,
        Appointment.status,
        Appointment.created_at,
        Appointment.created_by,
        Appointment.status_changed_at,
    ).where((Appointment.clinician == clinician_id) & (Appointment.client.is_in(ids)))
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
    sessions: dict[int, list[Session]] = {}
    for r in rows:
        sessions.setdefault(r["client"], []).append(
            Session(
                id=r["id"],
                starts_at=r["starts_at"],
                status=r["status"],
                created_at=r["created_at"],
                created_by=r["created_by"],
                status_changed_at=r["status_changed_at"],
                occurred_by=occurred_by.get(r["id"]),
            )
        )
    return {client: tuple(found) for client, found in sessions.items()}


async def _not_applicable(ids: list[int]) -> dict[int, dict[str, NotApplicable]]:
    marks = await ChecklistItem.objects().where(
        (ChecklistItem.client.is_in(ids)) & (ChecklistItem.not_applicable.eq(True))
    )
    found: dict[int, dict[str, NotApplicable]] = {}
    for mark in marks:
        found.setdefault(mark.client, {})[mark.item] = NotApplicable(
            mark.reason, mark.recorded_by, mark.recorded_at
        )
    return found


async def _policies(ids: list[int]) -> dict[int, dict]:
    rows = await InsurancePolicy.select(
        InsurancePolicy.client,
        InsurancePolicy.copay_minor,
        InsurancePolicy.self_check,
        InsurancePolicy.self_check_updated_at,
    ).where(InsurancePolicy.client.is_in(ids))
    return {p["client"]: p for p in rows}


async def _cards(user_ids: list[int]) -> dict[int, datetime]:
    """When each login saved its current card, by user id."""
    if not user_ids:
        return {}
    rows = await PaymentMethod.select(PaymentMethod.user, PaymentMethod.created_at).where(
        PaymentMethod.user.is_in(user_ids) & PaymentMethod.removed_at.is_null()
    )
    return {r["user"]: r["created_at"] for r in rows}


async def _names(checklists: list[Checklist]) -> dict[int, str]:
    """The names of everyone who did or waived an item."""
    people = {
        person
        for checklist in checklists
        for state in checklist.items
        for person in (state.by, state.not_applicable.by if state.not_applicable else None)
        if person is not None
    }
    if not people:
        return {}
    rows = await User.select(User.id, User.name, User.email).where(User.id.is_in(list(people)))
    return {r["id"]: r["name"] or r["email"] for r in rows}


def _facts(client: dict, login, sessions, not_applicable, card_at, forms: Paperwork | None) -> Facts:
    signed = [d.last_signature.signed_at for d in forms.documents if d.signed] if forms else []
    return Facts(
        client_user_id=client["user"],
        password_set_at=login["password_changed_at"] if login else None,
        has_password=bool(login and login["password_hash"] is not None),
        sessions=sessions,
        coverage_status=client["coverage_status"],
        coverage_updated_at=client["coverage_updated_at"],
        coverage_updated_by=client["coverage_updated_by"],
        not_applicable=not_applicable,
        documents_to_sign=len(forms.to_sign) if forms and forms.documents else None,
        documents_signed_at=max(signed, default=None),
        intake_at=forms.intake.submitted_at if forms and forms.intake else None,
        card_saved_at=card_at,
    )


async def _build(clinician_id: int, clients: list[dict], now: datetime) -> list[ClientChecklist]:
    """The checklists of ``clients`` (rows of ``CLIENT_COLUMNS``): one loader per kind of fact, each one
    query for all the clients at once."""
    if not clients:
        return []
    ids = [c["id"] for c in clients]
    user_ids = [c["user"] for c in clients if c["user"]]
    practice = await _practice(clinician_id)
    logins = await _logins(user_ids)
    invitations = await invitations_of({c["id"]: c["user"] for c in clients}, now)
    resends = await _resends(ids, now)
    sessions = await _sessions(clinician_id, ids)
    not_applicable = await _not_applicable(ids)
    policies = await _policies(ids)
    cards = await _cards(user_ids)
    forms = await paperwork.status_of(ids, now)
    checklists = [
        derive(
            _facts(
                c,
                logins.get(c["user"]),
                sessions.get(c["id"], ()),
                not_applicable.get(c["id"], {}),
                cards.get(c["user"]),
                forms.get(c["id"]),
            ),
            now,
        )
        for c in clients
    ]
    names = await _names(checklists)
    asked = questions(practice["licence_type"], practice["practice_name"])
    result = []
    for c, checklist in zip(clients, checklists, strict=True):
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
                paperwork=forms.get(c["id"]),
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
