"""Text messages: what a reminder text says, when it may go (never at night in the client's
zone), what a reply means (STOP / START), and the provider's webhook signature (Twilio's scheme)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_TEXT = 160
QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)
CONSENT = "Session reminders by text from your practice. Reply STOP to stop, START to start again."
# The words carriers and Twilio treat as opting out and back in.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}


def e164(phone: str) -> str:
    """'+1 (555) 010-2000' -> '+15550102000'; ten digits are taken as a US/Canada number; '' if unusable."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit() and ch.isascii())
    if not (phone or "").strip().startswith("+"):
        digits = f"1{digits}" if len(digits) == 10 else digits
    return f"+{digits}" if 8 <= len(digits) <= 15 else ""


def send_after(now: datetime, zone: ZoneInfo) -> datetime:
    """Now, unless it is night (21:00-08:00) where the client is: then 08:00 their next morning."""
    local = now.astimezone(zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return now
    morning = local.date() + timedelta(days=1 if local.time() >= QUIET_FROM else 0)
    return datetime.combine(morning, QUIET_UNTIL, zone)


def reminder_text(practice_name: str, starts_at: datetime, zone: ZoneInfo, link: str) -> str:
    """A reminder in one text (160 characters): the practice's name is shortened to fit, the link kept."""
    when = f"{starts_at.astimezone(zone):%a %-d %b %H:%M}"
    tail = f" on {when}. Confirm or cancel: {link} Reply STOP to stop."
    room = MAX_TEXT - len("Reminder: ") - len(tail)
    name = practice_name if len(practice_name) <= room else practice_name[: max(room - 1, 0)] + "…"
    return f"Reminder: {name}{tail}"[:MAX_TEXT]


def reply_means(body: str) -> str | None:
    """'stop', 'start' or None (anything else) for a client's reply."""
    word = (body or "").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 of the URL followed by each parameter's name and value,
    sorted by name, base64-encoded."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_by(auth_token: str, url: str, params: dict[str, str], given: str) -> bool:
    return bool(auth_token) and hmac.compare_digest(signature(auth_token, url, params), given or "")
