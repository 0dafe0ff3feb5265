"""E-mail through an outbox table.

``queue_email`` writes the message in the caller's transaction; after commit the caller enqueues
``send_email``. Without ``SMTP_URL`` messages stay in the outbox, readable at the dev mailbox page.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from functools import cache
from urllib.parse import unquote, urlparse

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.config import ROOT, Settings
from app.models.tables import EmailMessage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


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
    kind: str = "",
    attachments: list[Attachment] | None = None,
) -> int:
    """Write one message to the outbox (inside the caller's transaction); returns its id."""
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
            to_address=to,
            subject=subject[:255],
            text_body=text,
            html_body=html,
            kind=kind or template,
            attachments=json.dumps(encoded) if encoded else "",
            created_at=now,
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


def build_mime(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(domain="stillwater.local")
    mime.set_content(message.text_body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    for attachment in attachments_of(message):
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return mime


async def smtp_send(mime: MimeMessage, smtp_url: str) -> None:
    url = urlparse(smtp_url)
    use_tls = url.scheme == "smtps"
    await aiosmtplib.send(
        mime,
        hostname=url.hostname or "127.0.0.1",
        port=url.port or (465 if use_tls else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=use_tls,
        start_tls=True if url.scheme == "smtp+starttls" else None if not use_tls else False,
        timeout=30,
    )


async def deliver(message_id: int, settings: Settings, now: datetime) -> str:
    """Send one outbox message over SMTP. Returns 'sent', 'kept' (no SMTP configured) or 'skipped'."""
    message = await EmailMessage.objects().where(EmailMessage.id == message_id).first()
    if message is None or message.sent_at is not None:
        return "skipped"
    if not settings.smtp_url:
        return "kept"
    await EmailMessage.update({EmailMessage.attempts: EmailMessage.attempts + 1}).where(
        EmailMessage.id == message_id
    )
    try:
        await smtp_send(build_mime(message, settings.email_from), settings.smtp_url)
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
            & (EmailMessage.created_at < older_than)
            & (EmailMessage.attempts < MAX_ATTEMPTS)
        )
        .order_by(EmailMessage.id)
        .limit(limit)
    )
    return [row["id"] for row in rows]
