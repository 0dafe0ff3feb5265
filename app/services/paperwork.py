"""Intake paperwork (R14): the practice's documents and intake questions, what each client has left,
signing, and the signed copies (PDF) for the client, the practice and the records export.

Documents belong to the practice through one link (``PracticeDocument.clinician``: the seat of the
practice's owner, who alone edits them; every client of the practice signs the same ones). Published versions,
signatures and intake responses are only ever inserted: there is no function here that changes one,
and the database refuses UPDATE and DELETE on their tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.config import Settings
from app.domain import paperwork as rules
from app.domain.checklist import MAY_BE_INTRO
from app.domain.clients import RESENDS_PER_DAY
from app.domain.paperwork import INTAKE_TITLE, Question, Version
from app.domain.statuses import AppointmentStatus
from app.models.db import is_unique_violation, transaction
from app.models.tables import (
    Appointment,
    AuditEvent,
    Client,
    DocumentSignature,
    DocumentVersion,
    IntakeQuestion,
    IntakeResponse,
    PracticeDocument,
)
from app.services import audit, email, practices, signed_pdf
from app.services.context import Actor
from app.services.errors import ClientNotFound, PaperworkNotFound, PaperworkProblem
from app.services.queue import JobQueue, email_job

ALREADY_SIGNED = "You already signed this version. A signature can't be changed."
INTAKE_HASH_NOTE = "The signed text is the answers as stored: JSON of each question, its key and the answer."
DOCUMENT_HASH_NOTE = "The signed text is the document's title, a blank line, then its text exactly as above."


@dataclass(frozen=True)
class VersionRow:
    id: int
    number: int
    title: str
    body: str
    text_hash: str
    needs_new_signature: bool
    published_at: datetime

    @property
    def html(self) -> str:
        return rules.to_html(self.body)


@dataclass(frozen=True)
class Document:
    id: int
    title: str
    template: str
    retired_at: datetime | None
    versions: tuple[VersionRow, ...]  # oldest first
    signatures: int = 0

    @property
    def latest(self) -> VersionRow:
        return self.versions[-1]


@dataclass(frozen=True)
class Signature:
    id: int
    version_number: int
    signed_name: str
    signed_at: datetime
    text_hash: str


@dataclass(frozen=True)
class DocumentForClient:
    document: Document
    signatures: tuple[Signature, ...]  # oldest first

    @property
    def signed(self) -> bool:
        numbers = {s.version_number for s in self.signatures}
        return rules.is_signed([_version(v) for v in self.document.versions], numbers)

    @property
    def last_signature(self) -> Signature | None:
        return self.signatures[-1] if self.signatures else None


@dataclass(frozen=True)
class Intake:
    id: int
    answers: list[dict[str, str]]
    signed_name: str
    submitted_at: datetime
    text_hash: str


@dataclass(frozen=True)
class Paperwork:
    """One client's forms with one practice."""

    client_id: int
    practice_name: str
    documents: tuple[DocumentForClient, ...] = ()
    intake: Intake | None = None
    first_session: datetime | None = None
    time_zone: str = "UTC"
    archived: bool = False

    @property
    def to_sign(self) -> list[DocumentForClient]:
        return [d for d in self.documents if not d.signed]

    @property
    def left(self) -> int:
        return len(self.to_sign) + (0 if self.intake else 1)

    @property
    def open_titles(self) -> list[str]:
        """What is still to do, by name: the unsigned documents, then the intake."""
        return [d.document.title for d in self.to_sign] + ([] if self.intake else [INTAKE_TITLE])

    def line(self, now: datetime) -> str:
        return rules.forms_left_line(self.left, self.first_session, now, self.time_zone)


def _version(row: VersionRow) -> Version:
    return Version(row.id, row.number, row.needs_new_signature)


# --- Reading ------------------------------------------------------------------------------------


async def _documents(clinician_ids: Iterable[int], *, retired: bool = False) -> dict[int, list[Document]]:
    """Each practice's documents (with every version), by clinician id; retired ones only if asked."""
    ids = sorted(set(clinician_ids))
    if not ids:
        return {}
    query = PracticeDocument.select().where(PracticeDocument.clinician.is_in(ids))
    if not retired:
        query = query.where(PracticeDocument.retired_at.is_null())
    docs = await query.order_by(PracticeDocument.id)
    if not docs:
        return {}
    versions: dict[int, list[VersionRow]] = {}
    for v in (
        await DocumentVersion.select()
        .where(DocumentVersion.document.is_in([d["id"] for d in docs]))
        .order_by(DocumentVersion.number)
    ):
        versions.setdefault(v["document"], []).append(
            VersionRow(
                v["id"],
                v["number"],
                v["title"],
                v["body"],
                v["text_hash"],
                v["needs_new_signature"],
                v["published_at"],
            )
        )
    result: dict[int, list[Document]] = {}
    for d in docs:
        if d["id"] in versions:
            result.setdefault(d["clinician"], []).append(
                Document(d["id"], d["title"], d["template"], d["retired_at"], tuple(versions[d["id"]]))
            )
    return result


async def _signatures(client_ids: list[int]) -> dict[tuple[int, int], list[Signature]]:
    rows = (
        await DocumentSignature.select(
            DocumentSignature.id,
            DocumentSignature.client,
            DocumentSignature.document,
            DocumentSignature.version.number.as_alias("number"),
            DocumentSignature.signed_name,
            DocumentSignature.signed_at,
            DocumentSignature.text_hash,
        )
        .where(DocumentSignature.client.is_in(client_ids))
        .order_by(DocumentSignature.id)
    )
    found: dict[tuple[int, int], list[Signature]] = {}
    for r in rows:
        found.setdefault((r["client"], r["document"]), []).append(
            Signature(r["id"], r["number"], r["signed_name"], r["signed_at"], r["text_hash"])
        )
    return found


async def _intakes(client_ids: list[int]) -> dict[int, list[Intake]]:
    rows = (
        await IntakeResponse.select()
        .where(IntakeResponse.client.is_in(client_ids))
        .order_by(IntakeResponse.id)
    )
    found: dict[int, list[Intake]] = {}
    for r in rows:
        found.setdefault(r["client"], []).append(
            Intake(
                r["id"], rules.load_answers(r["answers"]), r["signed_name"], r["submitted_at"], r["text_hash"]
            )
        )
    return found


async def status_of(client_ids: list[int], now: datetime) -> dict[int, Paperwork]:
    """Every listed client's paperwork, in a fixed number of queries."""
    if not client_ids:
        return {}
    clients = await Client.select(
        Client.id,
        Client.clinician,
        Client.practice,
        Client.archived_at,
        Client.clinician.practice_name,
        Client.clinician.time_zone,
    ).where(Client.id.is_in(client_ids))
    seats = await _document_seats(clients)
    documents = await _documents(seats.values())
    signatures = await _signatures(client_ids)
    intakes = await _intakes(client_ids)
    first: dict[int, datetime] = {}
    for row in (
        await Appointment.select(Appointment.client, Appointment.starts_at)
        .where(
            (Appointment.client.is_in(client_ids))
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at > now)
        )
        .order_by(Appointment.starts_at, ascending=False)
    ):
        first[row["client"]] = row["starts_at"]
    return {
        c["id"]: Paperwork(
            client_id=c["id"],
            practice_name=c["clinician.practice_name"],
            documents=tuple(
                DocumentForClient(d, tuple(signatures.get((c["id"], d.id), ())))
                for d in documents.get(seats[c["id"]], [])
            ),
            intake=(intakes.get(c["id"]) or [None])[-1],
            first_session=first.get(c["id"]),
            time_zone=c["clinician.time_zone"],
            archived=c["archived_at"] is not None,
        )
        for c in clients
    }


async def _document_seats(clients: list[dict[str, Any]]) -> dict[int, int]:
    """The seat each client record's practice documents hang off (the practice owner's), by client id;
    a record with no practice keeps its clinician's."""
    owners = await practices.owner_seats(c["practice"] for c in clients if c["practice"] is not None)
    return {c["id"]: owners.get(c["practice"], c["clinician"]) for c in clients}


async def forms_line(client_id: int, now: datetime) -> str:
    """ "2 forms to complete before Monday" for one client record (empty when nothing is left)."""
    found = await status_of([client_id], now)
    return found[client_id].line(now) if client_id in found else ""


async def forms_before_first_sessions(
    sessions: list[tuple[int, int, datetime]], now: datetime
) -> dict[int, str]:
    """For session reminders, by appointment id: the forms still open, named, when the session (client
    id, appointment id, start) is its client's first (no earlier session took or may take place); empty
    otherwise. A fixed number of queries for any number of sessions."""
    client_ids = list({client_id for client_id, _, _ in sessions})
    others = await Appointment.select(Appointment.id, Appointment.client, Appointment.starts_at).where(
        Appointment.client.is_in(client_ids or [0])
        & Appointment.status.is_in([s.value for s in MAY_BE_INTRO])
    )
    by_client: dict[int, list[tuple[int, datetime]]] = {}
    for o in others:
        by_client.setdefault(o["client"], []).append((o["id"], o["starts_at"]))
    firsts = [
        (client_id, appointment_id)
        for client_id, appointment_id, starts_at in sessions
        if not any(i != appointment_id and at < starts_at for i, at in by_client.get(client_id, []))
    ]
    found = await status_of(list({client_id for client_id, _ in firsts}), now)
    lines = {appointment_id: "" for _, appointment_id, _ in sessions}
    for client_id, appointment_id in firsts:
        if client_id in found:
            lines[appointment_id] = rules.forms_before_session_line(found[client_id].open_titles)
    return lines


async def intake_questions(clinician_id: int) -> list[Question]:
    """The standard intake followed by the practice's own questions."""
    extras = (
        await IntakeQuestion.select()
        .where((IntakeQuestion.clinician == clinician_id) & IntakeQuestion.retired_at.is_null())
        .order_by(IntakeQuestion.id)
    )
    return [
        *rules.STANDARD_INTAKE,
        *(rules.extra_question(q["id"], q["label"], q["kind"], q["required"]) for q in extras),
    ]


# --- The practice's side ------------------------------------------------------------------------


async def documents_of(clinician_id: int) -> list[Document]:
    """The practice's documents, retired ones last, each with how many signatures it has."""
    docs = (await _documents([clinician_id], retired=True)).get(clinician_id, [])
    counts: dict[int, int] = {}
    if docs:
        for row in await DocumentSignature.select(DocumentSignature.document).where(
            DocumentSignature.document.is_in([d.id for d in docs])
        ):
            counts[row["document"]] = counts.get(row["document"], 0) + 1
    ordered = sorted(docs, key=lambda d: (d.retired_at is not None, d.id))
    return [
        Document(d.id, d.title, d.template, d.retired_at, d.versions, counts.get(d.id, 0)) for d in ordered
    ]


async def document_of(clinician_id: int, document_id: int) -> Document:
    found = next((d for d in await documents_of(clinician_id) if d.id == document_id), None)
    if found is None:
        raise PaperworkNotFound(document_id)
    return found


async def publish(
    clinician_id: int,
    title: str,
    body: str,
    *,
    document_id: int | None = None,
    template: str = "",
    needs_new_signature: bool = True,
    now: datetime,
    actor: Actor,
) -> int:
    """Publish a new document (version 1) or the next version of one; returns the document id.

    ``needs_new_signature`` False keeps earlier signatures valid (a typo fixed); True asks everyone who
    signed before to sign this version. Refused: empty text, template ``[[…]]`` left in, or no change."""
    title, body = title.strip(), body.replace("\r\n", "\n").strip() + "\n"
    problems = rules.document_problems(title, body)
    if problems:
        raise PaperworkProblem(*next(iter(problems.items())))
    async with transaction():
        if document_id is None:
            rows = await PracticeDocument.insert(
                PracticeDocument(
                    clinician=clinician_id,
                    title=title,
                    template=template if rules.template_by_key(template) else "",
                    created_at=now,
                )
            ).returning(PracticeDocument.id)
            document_id, number, needs_new_signature = rows[0]["id"], 1, True
        else:
            current = await document_of(clinician_id, document_id)
            if current.retired_at is not None:
                raise PaperworkProblem("body", "This document is no longer requested; start a new one.")
            if (current.latest.title, current.latest.body) == (title, body):
                raise PaperworkProblem("body", "Nothing changed since the last version.")
            number = current.latest.number + 1
            await PracticeDocument.update({PracticeDocument.title: title}).where(
                PracticeDocument.id == document_id
            )
        await DocumentVersion.insert(
            DocumentVersion(
                document=document_id,
                number=number,
                title=title,
                body=body,
                text_hash=rules.text_hash(rules.signed_text(title, body)),
                needs_new_signature=needs_new_signature,
                published_at=now,
                published_by=actor.user_id,
            )
        )
        await audit.record(
            "document_published",
            actor=actor,
            at=now,
            object_type="document",
            object_id=document_id,
            clinician_id=clinician_id,
            detail=f"version {number}" + ("" if needs_new_signature else ", earlier signatures kept"),
        )
    return document_id


async def retire(clinician_id: int, document_id: int, *, now: datetime, actor: Actor) -> None:
    """Stop asking clients to sign a document (what was signed stays)."""
    async with transaction():
        await document_of(clinician_id, document_id)
        await PracticeDocument.update({PracticeDocument.retired_at: now}).where(
            (PracticeDocument.id == document_id) & (PracticeDocument.clinician == clinician_id)
        )
        await audit.record(
            "document_retired",
            actor=actor,
            at=now,
            object_type="document",
            object_id=document_id,
            clinician_id=clinician_id,
        )


async def extra_questions(clinician_id: int) -> list[dict[str, Any]]:
    return (
        await IntakeQuestion.select()
        .where((IntakeQuestion.clinician == clinician_id) & IntakeQuestion.retired_at.is_null())
        .order_by(IntakeQuestion.id)
    )


async def add_question(
    clinician_id: int, label: str, kind: str, required: bool, *, now: datetime, actor: Actor
) -> None:
    """Add a question of the practice's own after the standard intake."""
    label = label.strip()
    if not label:
        raise PaperworkProblem("label", "Write the question.")
    if len(label) > rules.MAX_TITLE:
        raise PaperworkProblem("label", f"Keep the question under {rules.MAX_TITLE} characters.")
    if kind not in rules.EXTRA_KINDS:
        raise PaperworkProblem("kind", "Choose the kind of answer.")
    async with transaction():
        if len(await extra_questions(clinician_id)) >= rules.MAX_QUESTIONS:
            raise PaperworkProblem("label", f"A practice can add up to {rules.MAX_QUESTIONS} questions.")
        await IntakeQuestion.insert(
            IntakeQuestion(clinician=clinician_id, label=label, kind=kind, required=required, created_at=now)
        )
        await audit.practice_event("intake_question_added", clinician_id, actor=actor, at=now)


async def remove_question(clinician_id: int, question_id: int, *, now: datetime, actor: Actor) -> None:
    """Stop asking one of the practice's questions (answers already given stay as they were)."""
    async with transaction():
        updated = (
            await IntakeQuestion.update({IntakeQuestion.retired_at: now})
            .where(
                (IntakeQuestion.id == question_id)
                & (IntakeQuestion.clinician == clinician_id)
                & IntakeQuestion.retired_at.is_null()
            )
            .returning(IntakeQuestion.id)
        )
        if not updated:
            raise PaperworkNotFound(question_id)
        await audit.practice_event("intake_question_removed", clinician_id, actor=actor, at=now)


async def for_clinician(clinician_id: int, client_id: int, *, now: datetime) -> Paperwork:
    """One of the clinician's clients' paperwork; ``ClientNotFound`` for anyone else's."""
    if not await Client.exists().where((Client.id == client_id) & (Client.clinician == clinician_id)):
        raise ClientNotFound(client_id)
    return (await status_of([client_id], now))[client_id]


async def remind(
    clinician_id: int, client_id: int, *, now: datetime, actor: Actor, settings: Settings, queue: JobQueue
) -> None:
    """Email the client what is left to complete, with a link to their portal (a few times a day)."""
    async with transaction():
        client = (
            await Client.select(
                Client.name,
                Client.email,
                Client.archived_at,
                Client.user.password_hash.as_alias("password_hash"),
                Client.clinician.practice_name,
            )
            .where((Client.id == client_id) & (Client.clinician == clinician_id))
            .first()
        )
        if client is None:
            raise ClientNotFound(client_id)
        if client["archived_at"] is not None:
            raise PaperworkProblem("remind", "This client is archived. Restore them first.")
        if client["password_hash"] is None:
            raise PaperworkProblem("remind", "The invitation lists the forms: resend the invitation instead.")
        line = await forms_line(client_id, now)
        if not line:
            raise PaperworkProblem("remind", "Nothing is left to complete.")
        sent_today = await AuditEvent.count().where(
            (AuditEvent.action == "paperwork_requested")
            & (AuditEvent.client_id == client_id)
            & (AuditEvent.at > now - timedelta(days=1))
        )
        if sent_today >= RESENDS_PER_DAY:
            raise PaperworkProblem("remind", f"You can send {RESENDS_PER_DAY} reminders a day. Try tomorrow.")
        message_id = await email.queue_email(
            to=client["email"],
            subject=f"{client['clinician.practice_name']}: {line}",
            template="paperwork_reminder",
            context={
                "name": client["name"],
                "practice_name": client["clinician.practice_name"],
                "line": line,
                "link": f"{settings.base_url}/portal/forms",
            },
            now=now,
            settings=settings,
            kind="paperwork_reminder",
            reply_to=await email.practice_address(clinician_id),
        )
        await audit.client_event("paperwork_requested", client_id, clinician_id, actor=actor, at=now)
    await queue.enqueue_all([email_job(message_id)])


# --- The client's side --------------------------------------------------------------------------


async def for_client_user(user_id: int, now: datetime) -> list[Paperwork]:
    """Every practice's paperwork for this login (current client records first)."""
    rows = await Client.select(Client.id).where(Client.user == user_id).order_by(Client.id)
    found = await status_of([r["id"] for r in rows], now)
    return sorted(found.values(), key=lambda p: (p.archived, p.client_id))


async def _own_record(user_id: int, client_id: int) -> dict[str, Any]:
    row = (
        await Client.select(
            Client.id, Client.clinician, Client.practice, Client.archived_at, Client.clinician.practice_name
        )
        .where((Client.id == client_id) & (Client.user == user_id))
        .first()
    )
    if row is None:
        raise PaperworkNotFound(client_id)
    row["seat"] = (await _document_seats([row]))[client_id]
    return row


async def document_to_sign(
    user_id: int, client_id: int, document_id: int, now: datetime
) -> DocumentForClient:
    """One of this login's practice documents, with the client's signatures of it."""
    await _own_record(user_id, client_id)
    paperwork = (await status_of([client_id], now))[client_id]
    found = next((d for d in paperwork.documents if d.document.id == document_id), None)
    if found is None:
        raise PaperworkNotFound(document_id)
    return found


async def sign(
    user_id: int,
    client_id: int,
    document_id: int,
    version_id: int | None,
    signed_name: str,
    *,
    now: datetime,
    actor: Actor,
) -> int:
    """Sign the latest version of a document: stores the typed name, the time, address and device, and
    the hash of the exact text. A version already signed can't be signed (or changed) again."""
    try:
        async with transaction():
            record = await _own_record(user_id, client_id)
            if record["archived_at"] is not None:
                raise PaperworkProblem(
                    "agree", f"You are no longer a client of {record['clinician.practice_name']}."
                )
            document = (await _documents([record["seat"]])).get(record["seat"], [])
            found = next((d for d in document if d.id == document_id), None)
            if found is None:
                raise PaperworkNotFound(document_id)
            latest = found.latest
            if version_id != latest.id:
                raise PaperworkProblem(
                    "version",
                    "This document was updated while you were reading it. Read the new text and sign.",
                )
            if await DocumentSignature.exists().where(
                (DocumentSignature.client == client_id) & (DocumentSignature.version == latest.id)
            ):
                raise PaperworkProblem("signed_name", ALREADY_SIGNED)
            digest = rules.text_hash(rules.signed_text(latest.title, latest.body))
            if digest != latest.text_hash:
                raise PaperworkProblem(
                    "version", "This document can't be signed right now. Tell your therapist."
                )
            rows = await DocumentSignature.insert(
                DocumentSignature(
                    client=client_id,
                    document=document_id,
                    version=latest.id,
                    signed_name=signed_name,
                    agreed=True,
                    text_hash=digest,
                    signed_at=now,
                    signed_by=user_id,
                    ip=actor.ip[:64],
                    user_agent=actor.user_agent[:255],
                )
            ).returning(DocumentSignature.id)
            await audit.client_event(
                "document_signed",
                client_id,
                record["clinician"],
                actor=actor,
                at=now,
                detail=f"document {document_id} version {latest.number}",
            )
    except Exception as error:
        if not is_unique_violation(error):
            raise
        raise PaperworkProblem("signed_name", ALREADY_SIGNED) from None
    return rows[0]["id"]


async def intake_form(user_id: int, client_id: int, now: datetime) -> tuple[Paperwork, list[Question]]:
    """The questions this client's practice asks, and their paperwork (with any earlier answers)."""
    record = await _own_record(user_id, client_id)
    return (await status_of([client_id], now))[client_id], await intake_questions(record["seat"])


async def submit_intake(
    user_id: int,
    client_id: int,
    answers: list[dict[str, str]],
    signed_name: str,
    *,
    now: datetime,
    actor: Actor,
) -> int:
    """Keep the confirmed answers as a new response (earlier ones stay, unchanged)."""
    text = rules.answers_text(answers)
    async with transaction():
        record = await _own_record(user_id, client_id)
        if record["archived_at"] is not None:
            raise PaperworkProblem(
                "agree", f"You are no longer a client of {record['clinician.practice_name']}."
            )
        rows = await IntakeResponse.insert(
            IntakeResponse(
                client=client_id,
                answers=text,
                text_hash=rules.text_hash(text),
                signed_name=signed_name,
                submitted_at=now,
                submitted_by=user_id,
                ip=actor.ip[:64],
                user_agent=actor.user_agent[:255],
            )
        ).returning(IntakeResponse.id)
        await audit.client_event("intake_submitted", client_id, record["clinician"], actor=actor, at=now)
    return rows[0]["id"]


# --- Signed copies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    filename: str
    content: bytes


def _slug(text: str) -> str:
    kept = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:60] or "document"


async def _people(client_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not client_ids:
        return {}
    rows = await Client.select(
        Client.id,
        Client.name,
        Client.email,
        Client.clinician.practice_name,
        Client.clinician.time_zone,
    ).where(Client.id.is_in(client_ids))
    return {r["id"]: r for r in rows}


async def _document_copies(where) -> list[Copy]:
    rows = (
        await DocumentSignature.select(
            DocumentSignature.all_columns(),
            DocumentSignature.version.number.as_alias("number"),
            DocumentSignature.version.title.as_alias("title"),
            DocumentSignature.version.body.as_alias("body"),
            DocumentSignature.version.published_at.as_alias("published_at"),
        )
        .where(where)
        .order_by(DocumentSignature.id)
    )
    people = await _people(sorted({r["client"] for r in rows}))
    copies = []
    for r in rows:
        who = people[r["client"]]
        copy = signed_pdf.SignedCopy(
            heading=r["title"],
            subheading=(
                f"Version {r['number']}, published {r['published_at']:%Y-%m-%d}. Signed copy for the "
                "client's and the practice's records."
            ),
            sections=[("", r["body"])],
            practice_name=who["clinician.practice_name"],
            client_name=who["name"],
            client_email=who["email"],
            signed_name=r["signed_name"],
            signed_at=r["signed_at"],
            time_zone=who["clinician.time_zone"],
            ip=r["ip"],
            user_agent=r["user_agent"],
            text_hash=r["text_hash"],
            hash_note=DOCUMENT_HASH_NOTE,
        )
        name = f"signed-{_slug(r['title'])}-v{r['number']}-{r['signed_at']:%Y-%m-%d}-{r['id']}.pdf"
        copies.append(Copy(name, signed_pdf.render(copy)))
    return copies


async def _intake_copies(where) -> list[Copy]:
    rows = await IntakeResponse.select().where(where).order_by(IntakeResponse.id)
    people = await _people(sorted({r["client"] for r in rows}))
    copies = []
    for r in rows:
        who = people[r["client"]]
        answers = rules.load_answers(r["answers"])
        copy = signed_pdf.SignedCopy(
            heading=INTAKE_TITLE,
            subheading=f"Answers given {r['submitted_at']:%Y-%m-%d}, confirmed by the client.",
            sections=[(a.get("question", ""), a.get("answer", "")) for a in answers],
            practice_name=who["clinician.practice_name"],
            client_name=who["name"],
            client_email=who["email"],
            signed_name=r["signed_name"],
            signed_at=r["submitted_at"],
            time_zone=who["clinician.time_zone"],
            ip=r["ip"],
            user_agent=r["user_agent"],
            text_hash=r["text_hash"],
            hash_note=INTAKE_HASH_NOTE,
        )
        copies.append(Copy(f"intake-{r['submitted_at']:%Y-%m-%d}-{r['id']}.pdf", signed_pdf.render(copy)))
    return copies


async def copies_for(client_ids: list[int]) -> list[Copy]:
    """Every signed copy of these client records (for the records export)."""
    if not client_ids:
        return []
    return await _document_copies(DocumentSignature.client.is_in(client_ids)) + await _intake_copies(
        IntakeResponse.client.is_in(client_ids)
    )


async def _one_copy(kind: str, record_id: int, client_ids: list[int]) -> Copy:
    if not client_ids:
        raise PaperworkNotFound(record_id)
    if kind == "signature":
        found = await _document_copies(
            (DocumentSignature.id == record_id) & DocumentSignature.client.is_in(client_ids)
        )
    else:
        found = await _intake_copies(
            (IntakeResponse.id == record_id) & IntakeResponse.client.is_in(client_ids)
        )
    if not found:
        raise PaperworkNotFound(record_id)
    return found[0]


async def copy_for_client_user(
    user_id: int, kind: str, record_id: int, *, now: datetime, actor: Actor
) -> Copy:
    """A signed copy of this login's own (``kind``: "signature" or "intake")."""
    ids = [r["id"] for r in await Client.select(Client.id).where(Client.user == user_id)]
    copy = await _one_copy(kind, record_id, ids)
    await _audit_download(kind, record_id, actor, now)
    return copy


async def copy_for_clinician(
    clinician_id: int, client_id: int, kind: str, record_id: int, *, now: datetime, actor: Actor
) -> Copy:
    """A signed copy of one of the clinician's clients."""
    if not await Client.exists().where((Client.id == client_id) & (Client.clinician == clinician_id)):
        raise ClientNotFound(client_id)
    copy = await _one_copy(kind, record_id, [client_id])
    await _audit_download(kind, record_id, actor, now)
    return copy


async def _audit_download(kind: str, record_id: int, actor: Actor, now: datetime) -> None:
    table = DocumentSignature if kind == "signature" else IntakeResponse
    row = (
        await table.select(table.client, table.client.clinician.as_alias("clinician"))
        .where(table.id == record_id)
        .first()
    )
    async with transaction():
        await audit.client_event(
            "signed_copy_downloaded",
            row["client"],
            row["clinician"],
            actor=actor,
            at=now,
            detail=f"{kind} {record_id}",
        )
