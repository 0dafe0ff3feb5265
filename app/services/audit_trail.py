"""A practice's audit trail as its clinician reads it: filtered by client, person, action and date,
a page at a time, or all of it as CSV. Reading or exporting the trail is itself recorded.

A clinician's trail is every row written on behalf of their seat (``clinician_id``), every row about one
of their clients, their own sign-in attempts, and the sign-ins of their clients' portal logins. The
practice's owner reads the whole practice's: every row written while a member acted in it
(``practice_id``) or for any of its seats, about any of its clients, and its clients' sign-ins (R12).
Each row names the acting member and their role in the practice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.devices import describe
from app.domain.members import ROLE_LABELS, Ability, may
from app.domain.spreadsheets import csv_text
from app.models.db import transaction
from app.models.tables import AuditEvent, Client, Clinician, Membership, User
from app.services import audit
from app.services.context import Actor, CurrentUser

PAGE_SIZE = 50
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class TrailFilters:
    client_id: int | None = None
    person_id: int | None = None
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def describe(self) -> str:
        """A short code for the audit row of reading the trail (no names)."""
        parts = [
            f"client={self.client_id}" if self.client_id else "",
            f"person={self.person_id}" if self.person_id else "",
            f"action={self.action}" if self.action else "",
            f"from={self.date_from}" if self.date_from else "",
            f"to={self.date_to}" if self.date_to else "",
        ]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class TrailRow:
    at: datetime
    person: str
    role: str
    action: str
    action_label: str
    client: str
    record: str
    outcome: str
    ip: str
    device: str
    detail: str


@dataclass(frozen=True)
class TrailPage:
    rows: list[TrailRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Choices:
    clients: list[tuple[int, str]]
    people: list[tuple[int, str]]
    actions: list[tuple[str, str]]


def _whole_practice(reader: CurrentUser) -> bool:
    return reader.is_member and may(reader.member_role, Ability.READ_PRACTICE_AUDIT)


async def _practice_people(clinician: CurrentUser) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """The clients in the trail (id → name), their portal logins (user id → name) and everyone who can
    appear as a person in it (user id → name): for the owner, the practice's members too."""
    whole = _whole_practice(clinician)
    clients = await Client.select(Client.id, Client.name, Client.user).where(
        Client.practice == clinician.practice_id if whole else Client.clinician == clinician.own_clinician_id
    )
    client_names = {row["id"]: row["name"] for row in clients}
    client_users = {row["user"]: row["name"] for row in clients if row["user"] is not None}
    colleagues = {}
    if whole:
        rows = await Membership.select(Membership.user, Membership.user.name, Membership.user.email).where(
            Membership.practice == clinician.practice_id
        )
        colleagues = {row["user"]: row["user.name"] or row["user.email"] for row in rows}
    people = {**colleagues, clinician.id: f"{clinician.name or clinician.email} (you)", **client_users}
    return client_names, client_users, people


async def _seats(practice_id: int) -> list[int]:
    return [
        row["id"] for row in await Clinician.select(Clinician.id).where(Clinician.practice == practice_id)
    ]


async def _scope(clinician: CurrentUser, client_ids: list[int], client_user_ids: list[int]):
    if _whole_practice(clinician):
        seats = await _seats(clinician.practice_id)
        where = (AuditEvent.practice_id == clinician.practice_id) | (AuditEvent.actor_id == clinician.id)
        if seats:
            where = where | AuditEvent.clinician_id.is_in(seats)
    else:
        where = (AuditEvent.clinician_id == clinician.own_clinician_id) | (
            AuditEvent.actor_id == clinician.id
        )
    if client_ids:
        where = where | AuditEvent.client_id.is_in(client_ids)
    if client_user_ids:
        where = where | (AuditEvent.actor_id.is_in(client_user_ids) & AuditEvent.clinician_id.is_null())
    return where


def _day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone or "UTC"))


async def _query(clinician: CurrentUser, filters: TrailFilters):
    client_names, client_users, people = await _practice_people(clinician)
    where = await _scope(clinician, list(client_names), list(client_users))
    if filters.client_id:
        where = where & (AuditEvent.client_id == filters.client_id)
    if filters.person_id:
        where = where & (AuditEvent.actor_id == filters.person_id)
    if filters.action:
        where = where & (AuditEvent.action == filters.action)
    if filters.date_from:
        where = where & (AuditEvent.at >= _day_start(filters.date_from, clinician.time_zone))
    if filters.date_to:
        where = where & (AuditEvent.at < _day_start(filters.date_to + timedelta(days=1), clinician.time_zone))
    return where, client_names, people


async def _rows(events: list[dict], client_names: dict[int, str], people: dict[int, str]) -> list[TrailRow]:
    unknown_people = {e["actor_id"] for e in events if e["actor_id"] and e["actor_id"] not in people}
    if unknown_people:
        for row in await User.select(User.id, User.name, User.email).where(
            User.id.is_in(list(unknown_people))
        ):
            people[row["id"]] = row["name"] or row["email"]
    return [
        TrailRow(
            at=e["at"],
            person=people.get(e["actor_id"], "")
            if e["actor_id"]
            else ("System" if e["actor_role"] == "system" else "Unknown"),
            role=ROLE_LABELS.get(e["actor_role"], e["actor_role"]),
            action=e["action"],
            action_label=audit.label(e["action"]),
            client=client_names.get(e["client_id"], "") if e["client_id"] else "",
            record=f"{e['object_type']} {e['object_id']}" if e["object_type"] and e["object_id"] else "",
            outcome=e["outcome"],
            ip=e["ip"],
            device=describe(e["user_agent"]) if e["user_agent"] else "",
            detail=e["detail"],
        )
        for e in events
    ]


async def choices(clinician: CurrentUser) -> Choices:
    client_names, _, people = await _practice_people(clinician)
    return Choices(
        clients=sorted(client_names.items(), key=lambda item: item[1].lower()),
        people=sorted(people.items(), key=lambda item: (item[0] != clinician.id, item[1].lower())),
        actions=sorted(audit.ACTIONS.items(), key=lambda item: item[1]),
    )


async def read(
    clinician: CurrentUser, filters: TrailFilters, page: int, *, now: datetime, actor: Actor
) -> TrailPage:
    """One page of the trail, newest first; records that it was read."""
    where, client_names, people = await _query(clinician, filters)
    async with transaction():
        await audit.record(
            "audit_viewed", actor=actor, at=now, object_type="audit", detail=filters.describe() or "all"
        )
    total = await AuditEvent.count().where(where)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 1), pages)
    events = (
        await AuditEvent.select()
        .where(where)
        .order_by(AuditEvent.at, ascending=False)
        .order_by(AuditEvent.id, ascending=False)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return TrailPage(await _rows(events, client_names, people), total, page, pages)


CSV_HEADER = [
    "When (UTC)",
    "Person",
    "Role",
    "Action",
    "Action code",
    "Client",
    "Record",
    "Outcome",
    "IP",
    "Device",
    "Detail",
]


async def export_csv(clinician: CurrentUser, filters: TrailFilters, *, now: datetime, actor: Actor) -> str:
    """The filtered trail as spreadsheet-safe CSV (oldest first); records the export."""
    where, client_names, people = await _query(clinician, filters)
    async with transaction():
        await audit.record(
            "audit_exported", actor=actor, at=now, object_type="audit", detail=filters.describe() or "all"
        )
    events = await AuditEvent.select().where(where).order_by(AuditEvent.id).limit(EXPORT_LIMIT)
    rows = await _rows(events, client_names, people)
    return csv_text(
        CSV_HEADER,
        (
            [
                row.at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S"),
                row.person,
                row.role,
                row.action_label,
                row.action,
                row.client,
                row.record,
                row.outcome,
                row.ip,
                row.device,
                row.detail,
            ]
            for row in rows
        ),
    )
