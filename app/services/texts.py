"""Text messages to clients: session reminders for those who opted in, through a Twilio-compatible
HTTP API (``TEXT_PROVIDER_URL``, ``TEXT_ACCOUNT_SID``, ``TEXT_AUTH_TOKEN``, ``TEXT_FROM``).

A reminder's text is written beside its email, in the same transaction (one per reminder, unique),
with ``send_after`` pushed out of the client's night. The text sweep (the worker's cron) claims each due
text once (queued -> sending) and sends it, after checking that the client still wants texts and the
session is still on at that time; so a lost Redis or a second worker neither loses nor doubles one. A
reply of STOP (through the provider's signed webhook) stops texts to that number until START.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx

from app.config import Settings
from app.domain import texts as rules
from app.domain.statuses import AppointmentStatus
from app.models.db import transaction
from app.models.tables import Appointment, Client, TextMessage
from app.services import audit
from app.services.context import Actor

BATCH = 200


class TextRefused(Exception):
    """The provider refused the text for good (a bad number, a blocked one)."""


class TextProvider(Protocol):
    async def send(self, to: str, body: str) -> str:
        """Send one text; returns the provider's id for it. ``TextRefused`` or ``httpx.HTTPError``."""


class TwilioTexts:
    """Twilio's Messages API (or any service speaking it): a form-encoded POST with basic auth."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, to: str, body: str) -> str:
        s = self.settings
        url = f"{s.text_provider_url.rstrip('/')}/2010-04-01/Accounts/{s.text_account_sid}/Messages.json"
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                url,
                data={"To": to, "From": s.text_from, "Body": body},
                auth=(s.text_account_sid, s.text_auth_token),
            )
        if answer.status_code >= 500:
            answer.raise_for_status()
        found = answer.json()
        if answer.status_code >= 400:
            raise TextRefused(str(found.get("message", "refused"))[:255])
        return str(found["sid"])


async def queue_reminders(reminders: list[tuple[int, int, datetime, str]], *, now: datetime) -> None:
    """Write the texts of these reminders (client id, reminder id, start, link) in one statement, for
    the clients who opted in and have a number (caller's transaction)."""
    found = await Client.select(
        Client.id,
        Client.phone,
        Client.texts_opt_in_at,
        Client.user.time_zone.as_alias("client_zone"),
        Client.clinician.time_zone.as_alias("practice_zone"),
        Client.clinician.practice_name.as_alias("practice_name"),
    ).where(Client.id.is_in(list({r[0] for r in reminders}) or [0]) & Client.texts_opt_in_at.is_not_null())
    clients = {c["id"]: c for c in found if rules.e164(c["phone"])}
    rows = []
    for client_id, reminder_id, starts_at, link in reminders:
        client = clients.get(client_id)
        if client is None:
            continue
        zone = ZoneInfo(client["client_zone"] or client["practice_zone"] or "UTC")
        rows.append(
            TextMessage(
                reminder=reminder_id,
                client=client_id,
                phone=rules.e164(client["phone"]),
                body=rules.reminder_text(client["practice_name"], starts_at, zone, link),
                send_after=rules.send_after(now, zone),
                created_at=now,
            )
        )
    if rows:
        await TextMessage.insert(*rows).on_conflict(action="DO NOTHING")


async def _claim(text_id: int) -> dict | None:
    """Take one due text for sending (once, whoever else sweeps), with what decides whether it still goes."""
    claimed = (
        await TextMessage.update({TextMessage.status: "sending"})
        .where((TextMessage.id == text_id) & (TextMessage.status == "queued"))
        .returning(TextMessage.id)
    )
    if not claimed:
        return None
    return (
        await TextMessage.select(
            TextMessage.id,
            TextMessage.phone,
            TextMessage.body,
            TextMessage.client.texts_opt_in_at.as_alias("opted_in"),
            TextMessage.reminder.starts_at.as_alias("reminded_for"),
            TextMessage.reminder.appointment.as_alias("appointment"),
        )
        .where(TextMessage.id == text_id)
        .first()
    )


async def _still_wanted(text: dict) -> bool:
    if text["opted_in"] is None or text["appointment"] is None:
        return False
    return await Appointment.exists().where(
        (Appointment.id == text["appointment"])
        & (Appointment.starts_at == text["reminded_for"])
        & (Appointment.status == AppointmentStatus.SCHEDULED.value)
    )


async def send_due(*, now: datetime, settings: Settings, provider: TextProvider | None = None) -> int:
    """Send every text due now; returns how many went. Without a provider configured nothing is sent."""
    if provider is None:
        if not settings.text_provider_url:
            return 0
        provider = TwilioTexts(settings)
    due = (
        await TextMessage.select(TextMessage.id)
        .where((TextMessage.status == "queued") & (TextMessage.send_after <= now))
        .order_by(TextMessage.id)
        .limit(BATCH)
    )
    sent = 0
    for row in due:
        text = await _claim(row["id"])
        if text is None:
            continue
        changes: dict = {TextMessage.status: "stopped"}
        if await _still_wanted(text):
            try:
                changes = {
                    TextMessage.status: "sent",
                    TextMessage.provider_id: await provider.send(text["phone"], text["body"]),
                    TextMessage.sent_at: now,
                }
                sent += 1
            except TextRefused as refused:
                changes = {TextMessage.status: "failed", TextMessage.error: str(refused)}
            except httpx.HTTPError as exc:  # the provider is down: the next sweep tries again
                changes = {TextMessage.status: "queued", TextMessage.error: type(exc).__name__}
        await TextMessage.update(changes).where(TextMessage.id == text["id"])
    return sent


async def reply(number: str, body: str, *, now: datetime) -> str | None:
    """A client's reply from ``number``: STOP ends texts to every client record with that number (and
    stops those still queued), START brings them back. Returns 'stop', 'start' or None."""
    meaning = rules.reply_means(body)
    number = rules.e164(number)
    if meaning is None or not number:
        return None
    async with transaction():
        # Numbers are stored as typed ("(555) 010-2000"): narrow by the last digits, then compare whole.
        found = await Client.select(Client.id, Client.clinician, Client.phone).where(
            Client.phone.like(f"%{number[-4:]}")
        )
        clients = [c for c in found if rules.e164(c["phone"]) == number]
        ids = [c["id"] for c in clients]
        if not ids:
            return meaning
        if meaning == "stop":
            await Client.update({Client.texts_opt_in_at: None}).where(Client.id.is_in(ids))
            await TextMessage.update({TextMessage.status: "stopped"}).where(
                TextMessage.client.is_in(ids) & (TextMessage.status == "queued")
            )
        else:
            await Client.update({Client.texts_opt_in_at: now, Client.texts_consent: rules.CONSENT}).where(
                Client.id.is_in(ids)
            )
        for c in clients:
            await audit.client_event(
                f"texts_{meaning}", c["id"], c["clinician"], actor=Actor(user_id=None, role="client"), at=now
            )
    return meaning


async def reply_from_dev_mailbox(text_id: int, body: str, *, settings: Settings) -> str:
    """Debug only: answer a text as its phone would, by posting a reply signed as the provider signs it
    to this app's own webhook (``BASE_URL``/texts/inbound), so the reply takes the real path. Returns
    what happened, in a line for the dev mailbox."""
    text = await TextMessage.select(TextMessage.phone).where(TextMessage.id == text_id).first()
    if text is None:
        return "No such text."
    if not settings.text_auth_token:
        return "Replies need TEXT_AUTH_TOKEN (the webhook is off without it)."
    url = f"{settings.base_url}/texts/inbound"
    params = {
        "From": text["phone"],
        "To": settings.text_from,
        "Body": body[:1600],
        "MessageSid": f"SMdev{text_id}",
    }
    headers = {"X-Twilio-Signature": rules.signature(settings.text_auth_token, url, params)}
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(url, data=params, headers=headers)
    except httpx.HTTPError as exc:
        return f"The webhook at {url} did not answer ({type(exc).__name__})."
    if answer.status_code != 200:
        return f"The webhook at {url} answered {answer.status_code}."
    return f"Reply \u201c{body}\u201d from {text['phone']} delivered to the webhook."


__all__ = ["TextProvider", "TwilioTexts", "queue_reminders", "reply", "reply_from_dev_mailbox", "send_due"]
