"""Delivery events from an email provider's webhook: which addresses must get no more email.

Three common JSON shapes are read: SendGrid's event webhook (a list of ``{"event", "email", "type"}``),
Postmark's bounce and spam-complaint webhooks (``{"RecordType", "Type", "Email"}``) and Mailgun's
(``{"event-data": {"event", "severity", "recipient"}}``). Only a hard bounce or a complaint counts;
soft bounces, deliveries and opens are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.validation import normalize_email

POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}


class Reason(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class Undeliverable:
    address: str
    reason: Reason
    detail: str = ""


def undeliverable(payload: object) -> list[Undeliverable]:
    """The hard bounces and complaints in ``payload`` (a parsed JSON body); nothing for other shapes."""
    items = payload if isinstance(payload, list) else [payload]
    found = [event for item in items if isinstance(item, dict) for event in [_one(item)] if event]
    return list({event.address: event for event in found}.values())


def _one(item: dict) -> Undeliverable | None:
    if isinstance(item.get("event-data"), dict):
        return _mailgun(item["event-data"])
    if "RecordType" in item:
        return _postmark(item)
    return _sendgrid(item)


def _event(address: object, reason: Reason, detail: object) -> Undeliverable | None:
    if not isinstance(address, str) or "@" not in address:
        return None
    return Undeliverable(normalize_email(address)[:254], reason, str(detail or "")[:255])


def _sendgrid(item: dict) -> Undeliverable | None:
    event = item.get("event")
    if event == "spamreport":
        return _event(item.get("email"), Reason.COMPLAINT, "Marked as spam")
    if event == "bounce" and item.get("type", "bounce") == "bounce":  # "blocked" is a soft bounce
        return _event(item.get("email"), Reason.BOUNCE, item.get("reason"))
    return None


def _postmark(item: dict) -> Undeliverable | None:
    if item.get("RecordType") == "SpamComplaint":
        return _event(item.get("Email"), Reason.COMPLAINT, "Marked as spam")
    if item.get("RecordType") == "Bounce" and item.get("Type") in POSTMARK_HARD:
        return _event(item.get("Email"), Reason.BOUNCE, item.get("Description"))
    return None


def _mailgun(data: dict) -> Undeliverable | None:
    if data.get("event") == "complained":
        return _event(data.get("recipient"), Reason.COMPLAINT, "Marked as spam")
    if data.get("event") == "failed" and data.get("severity") == "permanent":
        status = data.get("delivery-status")
        detail = status.get("message") or status.get("description") if isinstance(status, dict) else ""
        return _event(data.get("recipient"), Reason.BOUNCE, detail)
    return None
