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
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, make_msgid, parseaddr
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
    kind = kind or template
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}: add it to email.KINDS")
    text, html = render(template, context)
    encoded = [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "content": base64.b64encode(a.content).decode(),
        }
        for a in attachments or []
    ]
    rows = await EmailMessage.insert(
        EmailMessage(
            to_address=header_value(to)[:254],
            subject=header_value(subject)[:255],
            text_body=text,
            html_body=html,
            kind=kind,
            reply_to=header_value(reply_to)[:254],
            attachments=json.dumps(encoded) if encoded else "",
            created_at=now,
            message_id=make_msgid(domain=sender_domain(settings.email_from)),
            **({"suppressed_at": now, "last_error": SUPPRESSED} if await undeliverable(to) else {}),
        )
    ).returning(EmailMessage.id)
    return rows[0]["id"]


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


async def reminder_still_true(message_id: int, now: datetime) -> bool:
    """Whether the session this reminder speaks of is still Scheduled at the time it names, not started,
    and its client still wants reminders (decided when it is sent, not when it was written)."""
    row = (
        await Reminder.select(
            Reminder.starts_at,
            Reminder.appointment.starts_at.as_alias("current_start"),
            Reminder.appointment.status.as_alias("status"),
            Reminder.appointment.client.archived_at.as_alias("archived_at"),
            Reminder.appointment.client.reminders_off.as_alias("reminders_off"),
        )
        .where(Reminder.email_message == message_id)
        .first()
    )
    return bool(
        row
        and row["status"] == AppointmentStatus.SCHEDULED
        and row["current_start"] == row["starts_at"]
        and now < row["starts_at"]
        and row["archived_at"] is None
        and not row["reminders_off"]
    )


def sender_domain(sender: str) -> str:
    """The domain of the ``EMAIL_FROM`` address (Message-IDs are made on it)."""
    return parseaddr(header_value(sender))[1].rpartition("@")[2] or "localhost"


def build_mime(message: EmailMessage, sender: str, now: datetime) -> MimeMessage:
    """The MIME message, dated ``now``; raises ValueError (or another build error) when it can't be made."""
    mime = MimeMessage()
    mime["From"] = header_value(sender)
    mime["To"] = header_value(message.to_address)
    if message.reply_to:
        mime["Reply-To"] = header_value(message.reply_to)
    mime["Subject"] = header_value(message.subject)
    mime["Date"] = format_datetime(now)
    mime["Message-ID"] = message.message_id or make_msgid(
        idstring=f"{message.id}", domain=sender_domain(sender)
    )
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(clean_text(message.text_body, multiline=True))
    if message.html_body:
        mime.add_alternative(clean_text(message.html_body, multiline=True), subtype="html")
    for attachment in attachments_of(message):
        maintype, _, subtype = header_value(attachment.content_type).partition("/")
        mime.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=header_value(attachment.filename)
        )
    return mime


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

    async def send(self, mime: MimeMessage) -> None:
        client = await self._take()
        try:
            await client.send_message(mime)
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


async def smtp_send(mime: MimeMessage, smtp_url: str) -> None:
    """Send one message on a connection of its own."""
    async with smtp_client(smtp_url) as client:
        await client.send_message(mime)


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
        reason = f"{UNBUILDABLE}: {type(exc).__name__}: {exc}"[:255]
        await EmailMessage.update(
            {EmailMessage.attempts: MAX_ATTEMPTS, EmailMessage.last_error: reason}
        ).where(EmailMessage.id == message_id)
        log.error(
            "email %s (%s to %s) failed for good: %s", message_id, message.kind, message.to_address, reason
        )
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
