"""Switching in (R13): an owner brings the practice's clients and upcoming sessions from another system.

A file becomes an ``ImportBatch`` when uploaded (refused whole if it can't be read). The owner maps its
columns and looks at the preview; nothing is written until they confirm. Confirming a large client list
queues a job that imports it in chunks, each chunk one transaction that also moves the progress on, so a
restarted worker carries on where it stopped. No invitation goes out during an import; afterwards
"Invite all" sends them a few a minute. A batch can be undone while nothing it made has been used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.clock import Clock, FrozenClock
from app.config import Settings
from app.domain import imports as rules
from app.domain.accounts import Role
from app.domain.appointments import overlaps
from app.domain.availability import within_working_hours
from app.domain.imports import ClientField, ClientRow
from app.domain.members import Ability
from app.domain.statuses import AppointmentStatus, BillingType
from app.models.db import transaction
from app.models.tables import (
    AccountToken,
    Appointment,
    AppointmentSeries,
    Charge,
    ChecklistItem,
    Client,
    ClientAssignment,
    ClientShare,
    Clinician,
    ImportBatch,
    ImportedRecord,
    InsuranceChange,
    InsurancePolicy,
    Practice,
    StatusChange,
    User,
)
from app.services import audit, practices
from app.services.appointments import find_clashes
from app.services.availability import working_ranges
from app.services.client_accounts import invite_client
from app.services.context import Actor, CurrentUser
from app.services.errors import NotAllowed, NotFound
from app.services.queue import JobQueue, QueuedJob

CHUNK_ROWS = 250  # rows imported per transaction in the background
INLINE_ROWS = 300  # a list this short is imported while the owner waits
INVITES_PER_MINUTE = 20  # "Invite all" pace, so the practice's mail is not flagged as bulk
STALLED_AFTER = timedelta(minutes=3)  # a running import with no progress for this long is picked up again
SESSION_HORIZON_DAYS = 365  # how far ahead upcoming sessions are read from a calendar


class BatchNotFound(NotFound):
    """No import with that id in the signed-in owner's practice."""


class ImportProblem(Exception):
    """An import step that can't be taken now; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_owner(owner: CurrentUser) -> int:
    """Imports change the whole practice: only its owner (who may change its settings) may run them."""
    practices.require(owner, Ability.CHANGE_PRACTICE_SETTINGS)
    if owner.practice_id is None:
        raise NotAllowed()
    return owner.practice_id


async def _batch(owner: CurrentUser, batch_id: int) -> ImportBatch:
    practice_id = _require_owner(owner)
    batch = (
        await ImportBatch.objects()
        .where((ImportBatch.id == batch_id) & (ImportBatch.practice == practice_id))
        .first()
    )
    if batch is None:
        raise BatchNotFound(batch_id)
    return batch


async def _clinicians_by_name(practice_id: int) -> dict[str, int]:
    return {c.name.casefold(): c.clinician_id for c in await practices.clinicians_of(practice_id)}


# Clients ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientPreview:
    batch_id: int
    file_name: str
    layout: str  # the recognised export, or "" for a hand-made spreadsheet
    headings: tuple[str, ...]
    mapping: dict[ClientField, str]
    mapping_problems: dict[str, str]
    on_existing: str
    rows: list[ClientRow]  # the first rows, for the preview table
    total: int
    with_problems: int
    existing: int  # rows whose address is already a client of the practice

    @property
    def importable(self) -> int:
        return self.total - self.with_problems

    @property
    def columns(self) -> list[ClientField]:
        return rules.preview_columns(self.mapping)


async def upload_clients(owner: CurrentUser, file_name: str, data: bytes, *, now: datetime) -> int:
    """Keep an uploaded client list for mapping and preview; a file that can't be read is refused whole."""
    practice_id = _require_owner(owner)
    table = rules.read_table(rules.decode(data))
    _, mapping = rules.recognise(table.headings)
    async with transaction():
        rows = await ImportBatch.insert(
            ImportBatch(
                practice=practice_id,
                kind="clients",
                status="draft",
                file_name=rules.file_label(file_name),
                content=_table_json(table),
                mapping=_mapping_json(mapping),
                total_rows=len(table.rows),
                created_by=owner.id,
                created_at=now,
            )
        ).returning(ImportBatch.id)
    return rows[0]["id"]


def _table_json(table: rules.Table) -> str:
    return json.dumps({"headings": table.headings, "rows": table.rows}, ensure_ascii=False)


def _table_of(batch: ImportBatch) -> rules.Table:
    data = json.loads(batch.content)
    return rules.Table(tuple(data["headings"]), tuple(tuple(row) for row in data["rows"]))


def _mapping_json(mapping: Mapping[ClientField, str]) -> str:
    return json.dumps({key.value: heading for key, heading in mapping.items() if heading})


def _mapping_of(batch: ImportBatch) -> dict[ClientField, str]:
    return {ClientField(key): heading for key, heading in json.loads(batch.mapping or "{}").items()}


async def client_preview(owner: CurrentUser, batch_id: int) -> ClientPreview:
    """The mapping and the first rows of an uploaded client list, each problem next to its cell."""
    batch = await _batch(owner, batch_id)
    if batch.kind != "clients" or not batch.content:
        raise ImportProblem("This import is not a client list waiting for confirmation.")
    table, mapping = _table_of(batch), _mapping_of(batch)
    layout, recognised = rules.recognise(table.headings)
    problems = rules.mapping_problems(mapping, table.headings)
    rows = [] if problems else rules.read_clients(table, mapping, await _clinicians_by_name(batch.practice))
    emails = [row.email for row in rows if row.email]
    existing = await _existing_emails(batch.practice, emails)
    return ClientPreview(
        batch_id=batch.id,
        file_name=batch.file_name,
        layout=layout if mapping == recognised else "",
        headings=table.headings,
        mapping=mapping,
        mapping_problems=problems,
        on_existing=batch.on_existing,
        rows=rows[: rules.PREVIEW_ROWS],
        total=len(table.rows),
        with_problems=sum(1 for row in rows if row.problems) if rows else len(table.rows),
        existing=sum(1 for row in rows if row.email in existing),
    )


async def _existing_emails(practice_id: int, emails: list[str]) -> set[str]:
    found: set[str] = set()
    for part in _chunks(emails):
        rows = await Client.select(Client.email).where(
            (Client.practice == practice_id) & Client.email.is_in(part)
        )
        found.update(row["email"] for row in rows)
    return found


async def change_mapping(
    owner: CurrentUser, batch_id: int, mapping: Mapping[ClientField, str], on_existing: str
) -> None:
    """The owner's column choices (a field left empty is not imported) and what to do with known clients."""
    batch = await _batch(owner, batch_id)
    if batch.status != "draft":
        raise ImportProblem("This import has already started.")
    headings = _table_of(batch).headings
    chosen = {key: heading for key, heading in mapping.items() if heading in headings}
    await ImportBatch.update(
        {
            ImportBatch.mapping: _mapping_json(chosen),
            ImportBatch.on_existing: "update" if on_existing == "update" else "skip",
        }
    ).where(ImportBatch.id == batch.id)


async def confirm_clients(owner: CurrentUser, batch_id: int, *, now: datetime, queue: JobQueue) -> None:
    """Start importing a previewed list: now for a short one, in the background for a long one."""
    batch = await _batch(owner, batch_id)
    if batch.status != "draft":
        raise ImportProblem("This import has already started.")
    if rules.mapping_problems(_mapping_of(batch), _table_of(batch).headings):
        raise ImportProblem("Choose the columns for the name and the email first.")
    async with transaction():
        await ImportBatch.update({ImportBatch.status: "queued", ImportBatch.heartbeat_at: now}).where(
            (ImportBatch.id == batch.id) & (ImportBatch.status == "draft")
        )
        await audit.record(
            "clients_import_started",
            actor=_actor(owner),
            at=now,
            object_type="import",
            object_id=batch.id,
            detail=f"{batch.total_rows} rows from {batch.file_name}",
        )
    if batch.total_rows <= INLINE_ROWS:
        await run_client_import(batch.id, clock=FrozenClock(now))
    else:
        await queue.enqueue_all([import_job(batch.id)])


def import_job(batch_id: int, *, again_at: datetime | None = None) -> QueuedJob:
    """The background import of a batch; ``again_at``: queued again by the sweep at that minute."""
    suffix = f":{again_at:%Y%m%d%H%M}" if again_at else ""
    return QueuedJob("run_import", (batch_id,), job_id=f"import:{batch_id}{suffix}")


def _actor(owner: CurrentUser) -> Actor:
    return Actor(
        user_id=owner.id,
        role=owner.role,
        clinician_id=owner.clinician_id,
        practice_id=owner.practice_id,
        member_role=owner.member_role,
    )


async def run_client_import(batch_id: int, *, clock: Clock) -> str:
    """Import the rest of a confirmed client list, a chunk per transaction (the background job's work)."""
    batch = await ImportBatch.objects().where(ImportBatch.id == batch_id).first()
    if batch is None or batch.status not in ("queued", "running"):
        return "nothing to do"
    table, mapping = _table_of(batch), _mapping_of(batch)
    clinicians = await _clinicians_by_name(batch.practice)
    rows = rules.read_clients(table, mapping, clinicians)
    owner_seat = await _owner_seat(batch)
    await ImportBatch.update({ImportBatch.status: "running"}).where(ImportBatch.id == batch_id)
    done = batch.done_rows
    while done < len(rows):
        chunk = rows[done : done + CHUNK_ROWS]
        async with transaction():
            # Compare-and-set first: a second worker carrying on the same batch waits here, then stops.
            claimed = (
                await ImportBatch.update(
                    {ImportBatch.done_rows: done + len(chunk), ImportBatch.heartbeat_at: clock.now()}
                )
                .where(
                    (ImportBatch.id == batch_id)
                    & (ImportBatch.done_rows == done)
                    & (ImportBatch.status == "running")
                )
                .returning(ImportBatch.id)
            )
            if not claimed:
                return "taken over"
            created, updated, skipped = await _import_chunk(
                batch, chunk, clinicians, owner_seat, now=clock.now()
            )
            await ImportBatch.update(
                {
                    ImportBatch.created_count: ImportBatch.created_count + created,
                    ImportBatch.updated_count: ImportBatch.updated_count + updated,
                    ImportBatch.skipped_count: ImportBatch.skipped_count + skipped,
                }
            ).where(ImportBatch.id == batch_id)
        done += len(chunk)
    now = clock.now()
    async with transaction():
        final = await ImportBatch.objects().where(ImportBatch.id == batch_id).first()
        await ImportBatch.update(
            {ImportBatch.status: "done", ImportBatch.finished_at: now, ImportBatch.content: ""}
        ).where(ImportBatch.id == batch_id)
        await audit.record(
            "clients_imported",
            actor=Actor(user_id=batch.created_by, role=Role.CLINICIAN.value, practice_id=batch.practice),
            at=now,
            object_type="import",
            object_id=batch_id,
            detail=f"{final.created_count} added, {final.updated_count} updated, "
            f"{final.skipped_count} skipped",
        )
    return "done"


async def _owner_seat(batch: ImportBatch) -> int:
    """The clinician seat a client without an assigned clinician goes to: the owner's."""
    seats = await practices.clinicians_of(batch.practice)
    for seat in seats:
        if seat.user_id == batch.created_by:
            return seat.clinician_id
    return seats[0].clinician_id


async def _import_chunk(
    batch: ImportBatch, rows: list[ClientRow], clinicians: dict[str, int], owner_seat: int, *, now: datetime
) -> tuple[int, int, int]:
    """Create or update the clients of some rows; returns (created, updated, skipped)."""
    created = updated = skipped = 0
    emails = [row.email for row in rows if row.importable]
    existing = {
        c["email"]: c
        for c in await Client.select().where(
            (Client.practice == batch.practice) & Client.email.is_in(emails or [""])
        )
    }
    users = {
        u["email"]: u
        for u in await User.select(User.id, User.email, User.role).where(User.email.is_in(emails or [""]))
    }
    zones = {
        row["id"]: row["time_zone"]
        for row in await Clinician.select(Clinician.id, Clinician.time_zone).where(
            Clinician.practice == batch.practice
        )
    }
    for row in rows:
        known = existing.get(row.email)
        user = users.get(row.email)
        if not row.importable or (user is not None and user["role"] != Role.CLIENT.value):
            skipped += 1
            continue
        if known is not None:
            if batch.on_existing != "update":
                skipped += 1
                continue
            await _update_client(batch, row, known)
            updated += 1
            continue
        clinician_id = clinicians.get(row.clinician.casefold(), owner_seat) if row.clinician else owner_seat
        user_created = None
        if user is None:
            inserted = await User.insert(
                User(
                    email=row.email,
                    name=row.name,
                    role=Role.CLIENT.value,
                    phone=row.phone,
                    time_zone=zones.get(clinician_id, "UTC"),
                    created_at=now,
                )
            ).returning(User.id)
            user_created = inserted[0]["id"]
        inserted = await Client.insert(
            Client(
                clinician=clinician_id,
                practice=batch.practice,
                user=user_created or user["id"],
                name=row.name,
                email=row.email,
                phone=row.phone,
                billing_type=row.billing_type,
                date_of_birth=row.date_of_birth,
                created_at=now,
            )
        ).returning(Client.id)
        client_id = inserted[0]["id"]
        await practices.start_assignment(client_id, clinician_id, now=now, assigned_by=batch.created_by)
        if row.billing_type == BillingType.INSURANCE.value:
            await InsurancePolicy.insert(
                InsurancePolicy(
                    client=client_id,
                    payer=row.payer,
                    member_id=row.member_id,
                    group_number=row.group_number,
                    copay_minor=row.copay_minor,
                    updated_at=now,
                    updated_by=batch.created_by,
                )
            )
        await ImportedRecord.insert(
            ImportedRecord(
                batch=batch.id,
                row_number=row.number,
                action="created",
                client=client_id,
                user_created=user_created,
            )
        )
        created += 1
    return created, updated, skipped


async def _update_client(batch: ImportBatch, row: ClientRow, known: dict) -> None:
    """Bring a known client's contact and billing details in line with the file, keeping the old ones."""
    previous = {
        "name": known["name"],
        "phone": known["phone"],
        "billing_type": known["billing_type"],
        "date_of_birth": known["date_of_birth"].isoformat() if known["date_of_birth"] else None,
    }
    await Client.update(
        {
            Client.name: row.name,
            Client.phone: row.phone or known["phone"],
            Client.billing_type: row.billing_type,
            Client.date_of_birth: row.date_of_birth or known["date_of_birth"],
        }
    ).where(Client.id == known["id"])
    await ImportedRecord.insert(
        ImportedRecord(
            batch=batch.id,
            row_number=row.number,
            action="updated",
            client=known["id"],
            previous=json.dumps(previous),
        )
    )


# Progress, undo and invitations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    batch_id: int
    kind: str
    status: str
    file_name: str
    total: int
    done: int
    created: int
    updated: int
    skipped: int
    error: str
    invited: bool
    undone: bool

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "undone")


async def progress(owner: CurrentUser, batch_id: int) -> Progress:
    batch = await _batch(owner, batch_id)
    return _progress_of(batch)


def _progress_of(batch: ImportBatch) -> Progress:
    return Progress(
        batch_id=batch.id,
        kind=batch.kind,
        status=batch.status,
        file_name=batch.file_name,
        total=batch.total_rows,
        done=batch.done_rows,
        created=batch.created_count,
        updated=batch.updated_count,
        skipped=batch.skipped_count,
        error=batch.error,
        invited=batch.invited_at is not None,
        undone=batch.undone_at is not None,
    )


async def recent_imports(owner: CurrentUser) -> list[Progress]:
    """The practice's imports that were confirmed, newest first."""
    practice_id = _require_owner(owner)
    batches = (
        await ImportBatch.objects()
        .where((ImportBatch.practice == practice_id) & (ImportBatch.status != "draft"))
        .order_by(ImportBatch.created_at, ascending=False)
        .limit(20)
    )
    return [_progress_of(batch) for batch in batches]


def _chunks(ids: list) -> list[list]:
    """Ids in lists short enough for one ``IN (…)`` on either database."""
    return [ids[start : start + 500] for start in range(0, len(ids), 500)]


async def _used_records(batch_id: int) -> str:
    """Why the batch can no longer be undone (something it made was used), or ""."""
    records = await ImportedRecord.select().where(ImportedRecord.batch == batch_id)
    created_clients = [r["client"] for r in records if r["action"] == "created" and r["client"]]
    appointments = [r["appointment"] for r in records if r["appointment"]]
    logins = [r["user_created"] for r in records if r["user_created"]]
    for part in _chunks(logins):
        if await User.exists().where(User.id.is_in(part) & User.last_login_at.is_not_null()):
            return "An imported client has signed in."
    for part in _chunks(created_clients):
        if await Charge.exists().where(Charge.client.is_in(part)):
            return "An imported client has been charged."
        if await Appointment.exists().where(Appointment.client.is_in(part)):
            return "A session has been booked with an imported client."
    for part in _chunks(appointments):
        if await StatusChange.exists().where(StatusChange.appointment.is_in(part)):
            return "An imported session has been given a status."
        if await Charge.exists().where(Charge.appointment.is_in(part)):
            return "An imported session has been charged."
    return ""


async def undo_import(owner: CurrentUser, batch_id: int, *, now: datetime) -> None:
    """Take back everything a finished import made, as one, while none of it has been used."""
    async with transaction():
        batch = await _batch(owner, batch_id)
        if batch.status != "done":
            raise ImportProblem("Only a finished import can be undone.")
        if reason := await _used_records(batch.id):
            raise ImportProblem(f"This import can't be undone any more: {reason.lower()}")
        records = await ImportedRecord.select().where(ImportedRecord.batch == batch.id)
        appointments = [r["appointment"] for r in records if r["appointment"]]
        series = sorted({r["series"] for r in records if r["series"]})
        created = [r["client"] for r in records if r["action"] == "created" and r["client"]]
        logins = [r["user_created"] for r in records if r["user_created"]]
        for part in _chunks(appointments):
            await Appointment.delete().where(Appointment.id.is_in(part))
        if series:
            await AppointmentSeries.delete().where(AppointmentSeries.id.is_in(series))
        for record in records:
            if record["action"] == "updated" and record["client"] and record["previous"]:
                old = json.loads(record["previous"])
                await Client.update(
                    {
                        Client.name: old["name"],
                        Client.phone: old["phone"],
                        Client.billing_type: old["billing_type"],
                        Client.date_of_birth: old["date_of_birth"]
                        and datetime.fromisoformat(old["date_of_birth"]).date(),
                    }
                ).where(Client.id == record["client"])
        await ImportedRecord.delete().where(ImportedRecord.batch == batch.id)
        for part in _chunks(created):
            for table in (
                InsurancePolicy,
                InsuranceChange,
                ChecklistItem,
                ClientAssignment,
                ClientShare,
                AccountToken,
            ):
                await table.delete().where(table.client.is_in(part))
            await Client.delete().where(Client.id.is_in(part))
        for part in _chunks(logins):
            await AccountToken.delete().where(AccountToken.user.is_in(part))
            still_used = {
                row["user"] for row in await Client.select(Client.user).where(Client.user.is_in(part))
            }
            unused = [user_id for user_id in part if user_id not in still_used]
            if unused:
                await User.delete().where(User.id.is_in(unused))
        await ImportBatch.update(
            {ImportBatch.status: "undone", ImportBatch.undone_at: now, ImportBatch.content: ""}
        ).where(ImportBatch.id == batch.id)
        await audit.record(
            "import_undone", actor=_actor(owner), at=now, object_type="import", object_id=batch.id
        )


async def invite_imported(owner: CurrentUser, batch_id: int, *, now: datetime, queue: JobQueue) -> None:
    """Start inviting every client the import added, a few a minute (the ``invite_imported`` job)."""
    async with transaction():
        batch = await _batch(owner, batch_id)
        if batch.kind != "clients" or batch.status != "done":
            raise ImportProblem("Invitations can go out once the import has finished.")
        if batch.invited_at is not None:
            raise ImportProblem("Invitations for this import are already going out.")
        await ImportBatch.update({ImportBatch.invited_at: now}).where(ImportBatch.id == batch.id)
        await audit.record(
            "import_invitations_started",
            actor=_actor(owner),
            at=now,
            object_type="import",
            object_id=batch.id,
        )
    await queue.enqueue_all([invite_job(batch.id, now)])


def invite_job(batch_id: int, at: datetime) -> QueuedJob:
    minute = at.replace(second=0, microsecond=0)
    return QueuedJob(
        "invite_imported", (batch_id,), job_id=f"import-invite:{batch_id}:{minute:%Y%m%d%H%M}", defer_until=at
    )


async def send_next_invitations(
    batch_id: int, *, now: datetime, settings: Settings
) -> tuple[list[QueuedJob], bool]:
    """Invite the next few of a batch's new clients who have no invitation and no password yet.

    Returns the e-mail jobs to queue after commit, and whether any are left for a minute from now."""
    async with transaction():
        batch = await ImportBatch.objects().where(ImportBatch.id == batch_id).first()
        if batch is None or batch.invited_at is None or batch.status != "done":
            return [], False
        waiting = await _waiting_for_invitation(batch_id)
        jobs = []
        actor = Actor(user_id=batch.created_by, role=Role.CLINICIAN.value, practice_id=batch.practice)
        for client_id in waiting[:INVITES_PER_MINUTE]:
            jobs.append(await invite_client(client_id, now=now, actor=actor, settings=settings))
    return jobs, len(waiting) > INVITES_PER_MINUTE


async def _waiting_for_invitation(batch_id: int) -> list[int]:
    records = (
        await ImportedRecord.select(ImportedRecord.client)
        .where(
            (ImportedRecord.batch == batch_id)
            & (ImportedRecord.action == "created")
            & ImportedRecord.client.is_not_null()
        )
        .order_by(ImportedRecord.row_number)
    )
    clients = [r["client"] for r in records]
    invited: set[int] = set()
    with_password: set[int] = set()
    for part in _chunks(clients):
        invited.update(
            row["client"]
            for row in await AccountToken.select(AccountToken.client).where(AccountToken.client.is_in(part))
        )
        with_password.update(
            row["id"]
            for row in await Client.select(Client.id).where(
                Client.id.is_in(part) & Client.user.password_hash.is_not_null()
            )
        )
    return [c for c in clients if c not in invited and c not in with_password]


async def stalled_work(*, now: datetime) -> list[QueuedJob]:
    """Jobs to queue again: imports with no progress for a while (their worker stopped) and invitations
    still to send (their job was lost). For the worker's sweep."""
    jobs = []
    stalled = await ImportBatch.select(ImportBatch.id).where(
        ImportBatch.status.is_in(["queued", "running"]) & (ImportBatch.heartbeat_at < now - STALLED_AFTER)
    )
    jobs.extend(import_job(row["id"], again_at=now) for row in stalled)
    inviting = await ImportBatch.select(ImportBatch.id).where(
        ImportBatch.invited_at.is_not_null() & (ImportBatch.status == "done")
    )
    for row in inviting:
        if await _waiting_for_invitation(row["id"]):
            jobs.append(invite_job(row["id"], now))
    return jobs


# Upcoming sessions --------------------------------------------------------------------------------------

Clash = tuple[str, datetime, datetime]


@dataclass(frozen=True)
class PlannedSession:
    """One event of the calendar as it would be booked: with whom, and what stands in its way."""

    event: rules.CalendarEvent
    client_id: int | None
    client_name: str
    clinician_id: int | None
    clashes: list[Clash]
    outside_hours: bool

    @property
    def bookable(self) -> bool:
        return self.client_id is not None and not self.clashes


@dataclass(frozen=True)
class CalendarPreview:
    batch_id: int
    file_name: str
    sessions: list[PlannedSession]
    unmatched: list[str]  # titles of events with no client found, for the owner to decide
    clients: list[tuple[int, str]]  # the practice's clients, to choose from for an unmatched title
    decisions: dict[str, int]  # title -> client id (0: leave those events out)

    @property
    def series_count(self) -> int:
        return len({s.event.uid for s in self.sessions if s.bookable and s.event.recurring})

    @property
    def bookable(self) -> list[PlannedSession]:
        return [s for s in self.sessions if s.bookable]


def _read_sessions(data: bytes, zone: str, now: datetime) -> list[rules.CalendarEvent]:
    """The upcoming sessions of an ``.ics`` calendar or of a spreadsheet (its times in ``zone``)."""
    end = now + timedelta(days=SESSION_HORIZON_DAYS)
    if rules.is_calendar(data):
        return rules.read_calendar(data, now, end)
    return rules.read_session_table(rules.read_table(rules.decode(data)), zone, now, end)


async def upload_calendar(owner: CurrentUser, file_name: str, data: bytes, *, now: datetime) -> int:
    """Keep an uploaded calendar (``.ics``) or sessions spreadsheet for its preview; a file that can't
    be read is refused whole."""
    practice_id = _require_owner(owner)
    events = _read_sessions(data, owner.time_zone, now)
    async with transaction():
        rows = await ImportBatch.insert(
            ImportBatch(
                practice=practice_id,
                kind="sessions",
                status="draft",
                file_name=rules.file_label(file_name),
                content=data.decode("utf-8-sig", errors="replace")
                if rules.is_calendar(data)
                else rules.decode(data),
                total_rows=len(events),
                created_by=owner.id,
                created_at=now,
            )
        ).returning(ImportBatch.id)
    return rows[0]["id"]


async def calendar_preview(owner: CurrentUser, batch_id: int, *, now: datetime) -> CalendarPreview:
    """Every upcoming event matched to a client, with its clashes and whether it is outside working hours."""
    batch = await _batch(owner, batch_id)
    if batch.kind != "sessions" or not batch.content:
        raise ImportProblem("This import is not a calendar waiting for confirmation.")
    events = _read_sessions(batch.content.encode(), owner.time_zone, now)
    clients = (
        await Client.select(Client.id, Client.name, Client.email, Client.clinician)
        .where((Client.practice == batch.practice) & Client.archived_at.is_null())
        .order_by(Client.name)
    )
    by_email = {c["email"]: c["id"] for c in clients}
    by_name = {c["name"].casefold(): c["id"] for c in clients}
    of_client = {c["id"]: c for c in clients}
    decisions = {title: int(choice) for title, choice in json.loads(batch.mapping or "{}").items()}
    zones = {
        row["id"]: row["time_zone"]
        for row in await Clinician.select(Clinician.id, Clinician.time_zone).where(
            Clinician.practice == batch.practice
        )
    }
    hours: dict[int, list] = {}
    sessions, unmatched = [], []
    for event in events:
        client_id = rules.match_client(event, by_email, by_name)
        if client_id is None:
            if event.summary not in unmatched:
                unmatched.append(event.summary)
            client_id = decisions.get(event.summary) or None
            client_id = client_id if client_id in of_client else None
        client = of_client.get(client_id)
        clinician_id = client["clinician"] if client else None
        clashes, outside = [], False
        if clinician_id is not None:
            clashes = await find_clashes(clinician_id, event.starts_at, event.ends_at)
            clashes += [
                (of_client[other.client_id]["name"], other.event.starts_at, other.event.ends_at)
                for other in sessions
                if other.clinician_id == clinician_id
                and other.bookable
                and overlaps(event.starts_at, event.ends_at, other.event.starts_at, other.event.ends_at)
            ]
            if clinician_id not in hours:
                hours[clinician_id] = await working_ranges(clinician_id)
            outside = bool(hours[clinician_id]) and not within_working_hours(
                event.starts_at, event.ends_at, hours[clinician_id], zones.get(clinician_id, "UTC")
            )
        sessions.append(
            PlannedSession(event, client_id, client["name"] if client else "", clinician_id, clashes, outside)
        )
    return CalendarPreview(
        batch.id,
        batch.file_name,
        sessions,
        unmatched,
        [(c["id"], c["name"]) for c in clients],
        decisions,
    )


async def decide_unmatched(
    owner: CurrentUser, batch_id: int, decisions: Mapping[str, int], *, now: datetime
) -> None:
    """Which client each unmatched event title is with (0 leaves those events out); titles that are not
    in the calendar and clients not of the practice are ignored."""
    batch = await _batch(owner, batch_id)
    if batch.status != "draft" or batch.kind != "sessions":
        raise ImportProblem("This import has already started.")
    preview = await calendar_preview(owner, batch_id, now=now)
    clients = {client_id for client_id, _ in preview.clients}
    kept = {
        title: choice
        for title, choice in decisions.items()
        if title in preview.unmatched and choice in clients
    }
    await ImportBatch.update({ImportBatch.mapping: json.dumps(kept)}).where(ImportBatch.id == batch.id)


async def confirm_sessions(owner: CurrentUser, batch_id: int, *, now: datetime) -> Progress:
    """Book the calendar's sessions that have a client and no clash, a recurring event as a series.

    One transaction: the whole calendar is booked or nothing is."""
    preview = await calendar_preview(owner, batch_id, now=now)
    async with transaction():
        claimed = (
            await ImportBatch.update({ImportBatch.status: "running", ImportBatch.heartbeat_at: now})
            .where((ImportBatch.id == batch_id) & (ImportBatch.status == "draft"))
            .returning(ImportBatch.id)
        )
        if not claimed:
            raise ImportProblem("This import has already started.")
        practice = await Practice.objects().where(Practice.id == owner.practice_id).first()
        fees = {
            row["id"]: row["default_fee_minor"]
            for row in await Clinician.select(Clinician.id, Clinician.default_fee_minor).where(
                Clinician.practice == owner.practice_id
            )
        }
        groups: dict[tuple[str, int], list[PlannedSession]] = {}
        for session in preview.bookable:
            groups.setdefault((session.event.uid, session.client_id), []).append(session)
        created = 0
        for (_, client_id), sessions in groups.items():
            first = sessions[0]
            zone = (await Clinician.select(Clinician.time_zone).where(Clinician.id == first.clinician_id))[0]
            series_id = None
            if first.event.recurring and len(sessions) > 1:
                local = first.event.starts_at.astimezone(ZoneInfo(zone["time_zone"]))
                rows = await AppointmentSeries.insert(
                    AppointmentSeries(
                        clinician=first.clinician_id,
                        client=client_id,
                        interval_weeks=first.event.interval_weeks,
                        occurrences=len(sessions),
                        local_start_time=f"{local:%H:%M}",
                        time_zone=zone["time_zone"],
                        duration_minutes=first.event.minutes,
                        fee_minor=fees[first.clinician_id],
                        created_at=now,
                        created_by=owner.id,
                    )
                ).returning(AppointmentSeries.id)
                series_id = rows[0]["id"]
            for index, session in enumerate(sessions):
                rows = await Appointment.insert(
                    Appointment(
                        clinician=session.clinician_id,
                        client=client_id,
                        series=series_id,
                        series_index=index if series_id else None,
                        changed_from_series=session.event.moved and series_id is not None,
                        starts_at=session.event.starts_at,
                        ends_at=session.event.ends_at,
                        duration_minutes=session.event.minutes,
                        fee_minor=fees[session.clinician_id],
                        currency=practice.currency,
                        status=AppointmentStatus.SCHEDULED.value,
                        booked_via="import",
                        created_at=now,
                        created_by=owner.id,
                    )
                ).returning(Appointment.id)
                await ImportedRecord.insert(
                    ImportedRecord(
                        batch=batch_id,
                        action="booked",
                        client=client_id,
                        appointment=rows[0]["id"],
                        series=series_id,
                    )
                )
                created += 1
        await ImportBatch.update(
            {
                ImportBatch.status: "done",
                ImportBatch.done_rows: len(preview.sessions),
                ImportBatch.created_count: created,
                ImportBatch.skipped_count: len(preview.sessions) - created,
                ImportBatch.finished_at: now,
                ImportBatch.content: "",
            }
        ).where(ImportBatch.id == batch_id)
        await audit.record(
            "sessions_imported",
            actor=_actor(owner),
            at=now,
            object_type="import",
            object_id=batch_id,
            detail=f"{created} sessions booked from {preview.file_name}",
        )
    return await progress(owner, batch_id)
