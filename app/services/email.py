"""E-mail through an outbox table.

``queue_email`` writes the message in the caller's transaction; after commit the caller enqueues
``send_email``. Without ``SMTP_URL`` messages stay in the outbox, readable at the dev mailbox page.
Header values are cleaned of line breaks and control characters whatever text was stored; a message
that still can't be built is marked failed (``last_error``, no more attempts) and logged once.
Every message carries ``Date``, a ``Message-ID`` on the sender's domain (made when queued and kept, so
a retry is recognisably the same message), ``Auto-Submitted`` and, for
mail to clients, a ``Reply-To`` that reaches the practice. Mail to an address that bounced or
complained (``UndeliverableAddress``) is kept in the outbox as suppressed, never sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, make_msgid, parseaddr
from functools import cache
from urllib.parse import unquote, urlparse

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.config import ROOT, Settings
from app.domain.statuses import AppointmentStatus
from app.domain.validation import clean_text
from app.models.tables import Clinician, EmailMessage, Reminder, UndeliverableAddress

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
UNBUILDABLE = "Can't be built"
SUPPRESSED = "Not sent: this address bounces"
OUTDATED = "Not sent: the session changed after this reminder was written"

# Every kind of message the app sends (the template's name) and who reads it. A new kind goes here,
# and tests/test_email_deliverability.py fails until it has a case there.
KINDS: dict[str, str] = {
    "invitation": "client",
    "password_reset": "anyone",
    "signup_confirm": "clinician",
    "signup_existing": "anyone",
    "sessions_booked": "client",
    "paperwork_reminder": "client",
    "sessions_moved": "client",
    "sessions_cancelled": "client",
    "sessions_reminder": "client",
    "charge_failed_client": "client",
    "charge_failed_clinician": "clinician",
    "charge_needs_confirmation": "client",
    "charge_disputed": "clinician",
    "card_expiring": "client",
    "member_invitation": "clinician",
    "superbill_ready": "client",
    "good_faith_estimate": "client",
    "estimate_warning": "clinician",
    "evening_summary": "clinician",
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@cache
def email_templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(ROOT / "templates" / "email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, context: dict[str, object]) -> tuple[str, str]:
    env = email_templates()
    text = env.get_template(f"{template}.txt").render(**context)
    html = env.get_template(f"{template}.html").render(**context)
    return text, html


@dataclass(frozen=True)
class Outgoing:
    """A message to write to the outbox: ``queue_email``'s arguments, for writing many at once."""

    to: str
    subject: str
    template: str
    context: dict[str, object]
    kind: str = ""
    reply_to: str = ""
    attachments: list[Attachment] | None = None


async def queue_email(
    *,
    to: str,
    subject: str,
    template: str,
    context: dict[str, object],
    now: datetime,
    settings: Settings,
    kind: str = "",
    reply_to: str = "",
    attachments: list[Attachment] | None = None,
) -> int:
    """Write one message to the outbox (inside the caller's transaction); returns its id.
    ``reply_to`` is where a reply should go (the practice); a message to an undeliverable address is
    written as suppressed. Its ``Message-ID`` is made now, so a retried send repeats it."""
    outgoing = Outgoing(to, subject, template, context, kind, reply_to, attachments)
    return (await queue_emails([outgoing], now=now, settings=settings))[0]


async def queue_emails(messages: list[Outgoing], *, now: datetime, settings: Settings) -> list[int]:
    """Write these messages to the outbox in one statement (caller's transaction), as ``queue_email``
    writes each; returns their ids in the same order."""
    if not messages:
        return []
    blocked = await undeliverable_among([m.to for m in messages])
    rows = [_outbox_row(m, now, settings, m.to.strip().lower() in blocked) for m in messages]
    written = await EmailMessage.insert(*rows).returning(EmailMessage.id, EmailMessage.message_id)
    ids = {w["message_id"]: w["id"] for w in written}
    return [ids[row.message_id] for row in rows]


def _outbox_row(message: Outgoing, now: datetime, settings: Settings, blocked: bool) -> EmailMessage:
    kind = message.kind or message.template
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}: add it to email.KINDS")
    text, html = render(message.template, message.context)
    encoded = [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "content": base64.b64encode(a.content).decode(),
        }
        for a in message.attachments or []
    ]
    return EmailMessage(
        to_address=header_value(message.to)[:254],
        subject=header_value(message.subject)[:255],
        text_body=text,
        html_body=html,
        kind=kind,
        reply_to=header_value(message.reply_to)[:254],
        attachments=json.dumps(encoded) if encoded else "",
        created_at=now,
        message_id=make_msgid(domain=sender_domain(settings.email_from)),
        **({"suppressed_at": now, "last_error": SUPPRESSED} if blocked else {}),
    )


def attachments_of(message: EmailMessage) -> list[Attachment]:
    if not message.attachments:
        return []
    return [
        Attachment(a["filename"], a["content_type"], base64.b64decode(a["content"]))
        for a in json.loads(message.attachments)
    ]


def header_value(text: str) -> str:
    """``text`` fit for one header line: line breaks become spaces, control characters go."""
    return " ".join(clean_text(text or "").split())


async def practice_address(clinician_id: int) -> str:
    """Where a client's reply reaches the practice: its insurance-questions address, else the clinician."""
    row = (
        await Clinician.select(Clinician.insurance_email, Clinician.user.email.as_alias("email"))
        .where(Clinician.id == clinician_id)
        .first()
    )
    return (row["insurance_email"] or row["email"]) if row else ""


async def undeliverable(address: str) -> bool:
    """Whether mail to ``address`` hard-bounced or drew a complaint."""
    return await UndeliverableAddress.exists().where(UndeliverableAddress.address == address.strip().lower())


async def undeliverable_among(addresses: list[str]) -> set[str]:
    """Those of ``addresses`` (lower-cased) that hard-bounced or drew a complaint, in one query."""
    wanted = list({a.strip().lower() for a in addresses})
    rows = await UndeliverableAddress.select(UndeliverableAddress.address).where(
        UndeliverableAddress.address.is_in(wanted or [""])
    )
    return {r["address"] for r in rows}


async def reminder_still_true(message_id: int, now: datetime) -> bool:
    """Whether the session this reminder speaks of is still Scheduled at the time it names, not started,
    and its client still wants reminders (decided when it is sent, not when it was written)."""
    return message_id in await reminders_still_true([message_id], now)


async def reminders_still_true(message_ids: list[int], now: datetime) -> set[int]:
    """Those of these reminder messages that are still true (``reminder_still_true``), in one query."""
    rows = await Reminder.select(
        Reminder.email_message,
        Reminder.starts_at,
        Reminder.appointment.starts_at.as_alias("current_start"),
        Reminder.appointment.status.as_alias("status"),
        Reminder.appointment.client.archived_at.as_alias("archived_at"),
        Reminder.appointment.client.reminders_off.as_alias("reminders_off"),
    ).where(Reminder.email_message.is_in(message_ids or [0]))
    return {
        row["email_message"]
        for row in rows
        if row["status"] == AppointmentStatus.SCHEDULED
        and row["current_start"] == row["starts_at"]
        and now < row["starts_at"]
        and row["archived_at"] is None
        and not row["reminders_off"]
    }


def sender_domain(sender: str) -> str:
    """The domain of the ``EMAIL_FROM`` address (Message-IDs are made on it)."""
    return parseaddr(header_value(sender))[1].rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class Built:
    """A message ready for SMTP: the envelope and the bytes (headers and MIME body, CRLF lines)."""

    sender: str
    to: str
    data: bytes


TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")


def build_mime(message: EmailMessage, sender: str, now: datetime) -> Built:
    """The message, dated ``now``, written out directly: multipart/mixed (the attachments) around
    multipart/alternative (plain text and HTML, UTF-8 quoted-printable); non-ASCII header text as encoded
    words. The ``email`` package took ~4 ms a message to build and flatten this, most of the cost of a
    send; raises ValueError (or another build error) when it can't be made."""
    body = _text_part("plain", message.text_body)
    if message.html_body:
        body = _multipart("alternative", [body, _text_part("html", message.html_body)])
    attachments = attachments_of(message)
    if attachments:
        body = _multipart("mixed", [body, *map(_attachment_part, attachments)])
    headers = [("From", _address_header(sender)), ("To", _address_header(message.to_address))]
    if message.reply_to:
        headers.append(("Reply-To", _address_header(message.reply_to)))
    headers += [
        ("Subject", _text_header(message.subject)),
        ("Date", format_datetime(now)),
        (
            "Message-ID",
            header_value(message.message_id) or make_msgid(str(message.id), sender_domain(sender)),
        ),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    to = parseaddr(header_value(message.to_address))[1]
    return Built(parseaddr(header_value(sender))[1], to, head + body)


def _text_part(subtype: str, text: str) -> bytes:
    lines = clean_text(text, multiline=True).splitlines()
    encoded = binascii.b2a_qp("\r\n".join(lines).encode("utf-8"), istext=True)
    return (
        (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        + encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        + b"\r\n"
    )


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"==============={secrets.token_hex(12)}=="
    between = f"--{boundary}\r\n".encode()
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
        + b"".join(between + part for part in parts)
        + f"--{boundary}--\r\n".encode()
    )


def _attachment_part(attachment: Attachment) -> bytes:
    maintype, _, subtype = header_value(attachment.content_type).partition("/")
    if not TOKEN.fullmatch(maintype) or not TOKEN.fullmatch(subtype):
        raise ValueError(f"not a content type: {attachment.content_type!r}")
    name = header_value(attachment.filename)
    disposition = (
        f'filename="{name}"'
        if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name
        else f"filename*={encode_rfc2231(name, 'utf-8')}"
    )
    content = base64.encodebytes(attachment.content).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {maintype}/{subtype}\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; {disposition}\r\n\r\n"
    ).encode() + content


def _text_header(text: str) -> str:
    value = header_value(text)
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _address_header(text: str) -> str:
    value = header_value(text)
    if value.isascii():
        return value
    name, address = parseaddr(value)
    if not address.isascii():
        raise ValueError(f"an address that is not ASCII: {address!r}")
    return Header(name, "utf-8").encode(linesep="\r\n") + f" <{address}>"


def smtp_client(smtp_url: str) -> aiosmtplib.SMTP:
    """A client for ``SMTP_URL``: smtp://, smtp+starttls:// or smtps://, with an optional user:password."""
    url = urlparse(smtp_url)
    use_tls = url.scheme == "smtps"
    return aiosmtplib.SMTP(
        hostname=url.hostname or "127.0.0.1",
        port=url.port or (465 if use_tls else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=use_tls,
        start_tls=True if url.scheme == "smtp+starttls" else None if not use_tls else False,
        timeout=30,
    )


class Mailer:
    """A worker's SMTP connections, kept open between consecutive sends (one per send running at once).
    A connection that failed is closed, never reused; one idle longer than ``IDLE_SECONDS`` is replaced,
    as servers drop idle clients."""

    IDLE_SECONDS = 20

    def __init__(self, smtp_url: str) -> None:
        self.smtp_url = smtp_url
        self.idle: list[tuple[float, aiosmtplib.SMTP]] = []

    async def send(self, built: Built) -> None:
        client = await self._take()
        try:
            await client.sendmail(built.sender, [built.to], built.data)
        except BaseException:
            client.close()
            raise
        self.idle.append((time.monotonic(), client))

    async def _take(self) -> aiosmtplib.SMTP:
        while self.idle:
            since, client = self.idle.pop()
            if client.is_connected and time.monotonic() - since < self.IDLE_SECONDS:
                return client
            client.close()
        client = smtp_client(self.smtp_url)
        await client.connect()
        return client

    async def close(self) -> None:
        """Say goodbye on every idle connection (at worker shutdown)."""
        idle, self.idle = self.idle, []
        for _, client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def smtp_send(built: Built, smtp_url: str) -> None:
    """Send one message on a connection of its own."""
    async with smtp_client(smtp_url) as client:
        await client.sendmail(built.sender, [built.to], built.data)


async def deliver(message_id: int, settings: Settings, now: datetime, mailer: Mailer | None = None) -> str:
    """Send one outbox message over SMTP (on the ``mailer``'s open connections when given). Returns
    'sent', 'kept' (no SMTP configured), 'skipped', 'suppressed' (the address bounces), 'outdated' (a
    reminder whose session changed) or 'failed' (it can never be built)."""
    message = await EmailMessage.objects().where(EmailMessage.id == message_id).first()
    if message is None or message.sent_at is not None or message.suppressed_at is not None:
        return "skipped"
    if await undeliverable(message.to_address):
        suppressed = {EmailMessage.suppressed_at: now, EmailMessage.last_error: SUPPRESSED}
        await EmailMessage.update(suppressed).where(EmailMessage.id == message_id)
        return "suppressed"
    if message.kind == "sessions_reminder" and not await reminder_still_true(message_id, now):
        outdated = {EmailMessage.suppressed_at: now, EmailMessage.last_error: OUTDATED}
        await EmailMessage.update(outdated).where(EmailMessage.id == message_id)
        return "outdated"
    if not settings.smtp_url:
        return "kept"
    try:
        mime = build_mime(message, settings.email_from, now)
    except Exception as exc:  # noqa: BLE001 - any build error is permanent: retrying rebuilds the same
        await _unbuildable(message, exc)
        return "failed"
    await EmailMessage.update({EmailMessage.attempts: EmailMessage.attempts + 1}).where(
        EmailMessage.id == message_id
    )
    try:
        await (mailer.send(mime) if mailer else smtp_send(mime, settings.smtp_url))
    except (aiosmtplib.SMTPException, OSError) as exc:
        await EmailMessage.update({EmailMessage.last_error: f"{type(exc).__name__}: {exc}"[:255]}).where(
            EmailMessage.id == message_id
        )
        raise
    await EmailMessage.update({EmailMessage.sent_at: now, EmailMessage.last_error: ""}).where(
        EmailMessage.id == message_id
    )
    return "sent"


# The server answered, about this message only (the connection is fine): the batch goes on without it.
REFUSALS = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)
SENT_MARK_EVERY = 20  # sends recorded together: a worker killed mid-batch repeats at most these


async def deliver_many(
    message_ids: list[int], settings: Settings, now: datetime, mailer: Mailer | None = None
) -> dict[str, int]:
    """Send these outbox messages in the order they were queued, on one SMTP connection, with a few
    queries for the lot; each is decided as ``deliver`` decides one (a bounced address, an outdated
    reminder). Sends are recorded every ``SENT_MARK_EVERY`` and when an SMTP error stops the batch (it is
    raised: a retry sends only what is still unsent). Returns how many ended each way."""
    messages = (
        await EmailMessage.objects()
        .where(
            EmailMessage.id.is_in(message_ids or [0])
            & EmailMessage.sent_at.is_null()
            & EmailMessage.suppressed_at.is_null()
        )
        .order_by(EmailMessage.id)
    )
    blocked = await undeliverable_among([m.to_address for m in messages])
    reminders = [m.id for m in messages if m.kind == "sessions_reminder"]
    true = await reminders_still_true(reminders, now) if reminders else set()
    suppressed = [m.id for m in messages if m.to_address.strip().lower() in blocked]
    outdated = [m.id for m in messages if m.id in reminders and m.id not in true and m.id not in suppressed]
    await _set_aside(suppressed, SUPPRESSED, now)
    await _set_aside(outdated, OUTDATED, now)
    outcome = {"sent": 0, "suppressed": len(suppressed), "outdated": len(outdated), "failed": 0, "kept": 0}
    to_send = [m for m in messages if m.id not in suppressed and m.id not in outdated]
    if not settings.smtp_url:
        outcome["kept"] = len(to_send)
        return outcome
    built = []
    for message in to_send:
        try:
            built.append((message.id, build_mime(message, settings.email_from, now)))
        except Exception as exc:  # noqa: BLE001 - any build error is permanent, as in ``deliver``
            await _unbuildable(message, exc)
            outcome["failed"] += 1
    own = mailer is None
    mailer = mailer or Mailer(settings.smtp_url)
    try:
        outcome["sent"] = await _send_in_turn(built, mailer, now)
    finally:
        if own:
            await mailer.close()
    return outcome


async def _set_aside(ids: list[int], why: str, now: datetime) -> None:
    if ids:
        await EmailMessage.update({EmailMessage.suppressed_at: now, EmailMessage.last_error: why}).where(
            EmailMessage.id.is_in(ids)
        )


async def _unbuildable(message: EmailMessage, exc: Exception) -> None:
    reason = f"{UNBUILDABLE}: {type(exc).__name__}: {exc}"[:255]
    await EmailMessage.update({EmailMessage.attempts: MAX_ATTEMPTS, EmailMessage.last_error: reason}).where(
        EmailMessage.id == message.id
    )
    log.error("email %s (%s to %s) failed for good: %s", message.id, message.kind, message.to_address, reason)


async def _send_in_turn(built: list[tuple[int, Built]], mailer: Mailer, now: datetime) -> int:
    """Send each on the mailer's connection; record the sent ones in groups. A message the server refuses
    gets its error and the others still go (then the first refusal is raised, so a retry sends only what
    is unsent); a connection that fails stops the batch at once."""
    if not built:
        return 0
    await EmailMessage.update({EmailMessage.attempts: EmailMessage.attempts + 1}).where(
        EmailMessage.id.is_in([id_ for id_, _ in built])
    )
    sent: list[int] = []
    done = 0
    refused: aiosmtplib.SMTPException | None = None
    try:
        for id_, mime in built:
            try:
                await mailer.send(mime)
            except (aiosmtplib.SMTPException, OSError) as exc:
                await EmailMessage.update(
                    {EmailMessage.last_error: f"{type(exc).__name__}: {exc}"[:255]}
                ).where(EmailMessage.id == id_)
                if not isinstance(exc, REFUSALS):
                    raise
                refused = refused or exc
                continue
            sent.append(id_)
            if len(sent) >= SENT_MARK_EVERY:
                done += await _mark_sent(sent, now)
                sent = []
    finally:
        done += await _mark_sent(sent, now)
    if refused is not None:
        raise refused
    return done


async def _mark_sent(ids: list[int], now: datetime) -> int:
    if ids:
        await EmailMessage.update({EmailMessage.sent_at: now, EmailMessage.last_error: ""}).where(
            EmailMessage.id.is_in(ids)
        )
    return len(ids)


async def unsent_ids(older_than: datetime, limit: int = 100) -> list[int]:
    """Messages still waiting (their job was lost or failed); for the worker's sweep."""
    rows = (
        await EmailMessage.select(EmailMessage.id)
        .where(
            (EmailMessage.sent_at.is_null())
            & (EmailMessage.suppressed_at.is_null())
            & (EmailMessage.created_at < older_than)
            & (EmailMessage.attempts < MAX_ATTEMPTS)
        )
        .order_by(EmailMessage.id)
        .limit(limit)
    )
    return [row["id"] for row in rows]
