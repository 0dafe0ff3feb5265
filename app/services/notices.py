"""Emails to a client about booked, moved and cancelled sessions, each with an ``.ics`` file that adds,
updates or removes the event in their calendar, and the client's calendar feed.

The feed address is ``/feed/<client id>/<token>.ics``; the token is an HMAC of a random per-client key
with the app's secret, so neither the database alone nor guessing finds it. The clinician turns feeds on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain.appointments import CALLED_OFF, Notice
from app.domain.ics import SessionEvent, calendar_bytes
from app.models.tables import Appointment, Client, Clinician
from app.services import email
from app.services.queue import QueuedJob, email_job

ICS_TYPE = "text/calendar"


def _token(settings: Settings, client_id: int, key: str) -> str:
    message = f"calendar-feed:{client_id}:{key}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


async def feed_url(client_id: int, *, settings: Settings) -> str | None:
    """The client's feed address if their clinician turned feeds on (creates the key on first use)."""
    row = (
        await Client.select(Client.calendar_feed_key, Client.clinician.calendar_feed_enabled.as_alias("on"))
        .where(Client.id == client_id)
        .first()
    )
    if row is None or not row["on"]:
        return None
    key = row["calendar_feed_key"]
    if not key:
        key = secrets.token_urlsafe(24)
        await Client.update({Client.calendar_feed_key: key}).where(Client.id == client_id)
    return _feed_address(settings, client_id, key)


def _feed_address(settings: Settings, client_id: int, key: str) -> str:
    return f"{settings.base_url}/feed/{client_id}/{_token(settings, client_id, key)}.ics"


_EVENT_COLUMNS = (
    Appointment.id,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.status,
    Appointment.sequence,
)
"""What a calendar event of a session is made from."""


def _event(appointment: dict, practice_name: str, organizer: str = "", attendee: str = "") -> SessionEvent:
    return SessionEvent(
        uid=f"appointment-{appointment['id']}@stillwater",
        starts_at=appointment["starts_at"],
        ends_at=appointment["ends_at"],
        summary=f"Session with {practice_name}",
        cancelled=appointment["status"] in CALLED_OFF,
        sequence=appointment["sequence"],
        organizer=organizer,
        attendee=attendee,
    )


async def feed(client_id: int, token: str, *, settings: Settings, now: datetime) -> bytes | None:
    """The client's sessions as a calendar, or None for a wrong token or a feed that is off."""
    row = (
        await Client.select(
            Client.calendar_feed_key,
            Client.clinician.calendar_feed_enabled.as_alias("on"),
            Client.clinician.practice_name.as_alias("practice_name"),
        )
        .where(Client.id == client_id)
        .first()
    )
    if row is None or not row["on"] or not row["calendar_feed_key"]:
        return None
    if not hmac.compare_digest(
        token.encode(), _token(settings, client_id, row["calendar_feed_key"]).encode()
    ):
        return None
    sessions = (
        await Appointment.select(*_EVENT_COLUMNS)
        .where(Appointment.client == client_id)
        .order_by(Appointment.starts_at)
    )
    events = [_event(s, row["practice_name"]) for s in sessions]
    return calendar_bytes(events, name=row["practice_name"], stamp=now)


async def sessions_booked(
    client_id: int,
    appointment_ids: list[int],
    *,
    now: datetime,
    settings: Settings,
    series: bool = False,
    by_client: bool = False,
) -> QueuedJob:
    """Write one email listing the booked sessions with an ``.ics`` attachment (caller's transaction)."""
    job = await _sessions_email(
        client_id,
        appointment_ids,
        Notice.BOOKED,
        now=now,
        settings=settings,
        extra={"series": series, "by_client": by_client},
    )
    assert job is not None, "sessions_booked is called for sessions just booked"
    return job


async def sessions_changed(
    client_id: int, appointment_ids: list[int], notice: Notice, *, now: datetime, settings: Settings
) -> list[QueuedJob]:
    """Tell the client that sessions moved, were cancelled or are back on, with an ``.ics`` that updates
    the event their calendar already has (same UID, the stored SEQUENCE). Sessions that have ended are
    left out; nothing is written when none is left. Caller's transaction."""
    if not appointment_ids:
        return []
    job = await _sessions_email(
        client_id, appointment_ids, notice, now=now, settings=settings, upcoming_only=True
    )
    return [job] if job else []


SUBJECTS = {
    Notice.BOOKED: ("Session booked with {}", "{n} sessions booked with {}"),
    Notice.MOVED: ("Session moved: {}", "{n} sessions moved: {}"),
    Notice.CANCELLED: ("Session cancelled: {}", "{n} sessions cancelled: {}"),
    Notice.REMINDER: ("Reminder: your session with {} on {when}", ""),
}


async def _sessions_email(
    client_id: int,
    appointment_ids: list[int],
    notice: Notice,
    *,
    now: datetime,
    settings: Settings,
    extra: dict | None = None,
    upcoming_only: bool = False,
) -> QueuedJob | None:
    client = (
        await Client.select(
            Client.name,
            Client.email,
            Client.user.time_zone.as_alias("zone"),
            Client.clinician.id.as_alias("clinician_id"),
        )
        .where(Client.id == client_id)
        .first()
    )
    practice = (
        await Clinician.select(
            Clinician.practice_name,
            Clinician.time_zone,
            Clinician.cancellation_window_hours,
            Clinician.insurance_email,
            Clinician.user.email.as_alias("email"),
        )
        .where(Clinician.id == client["clinician_id"])
        .first()
    )
    condition = Appointment.id.is_in(appointment_ids) & (Appointment.client == client_id)
    if upcoming_only:
        condition &= Appointment.ends_at > now
    sessions = await Appointment.select(*_EVENT_COLUMNS).where(condition).order_by(Appointment.starts_at)
    if not sessions:
        return None
    feed_link = await feed_url(client_id, settings=settings)
    message = _compose(
        client, practice, sessions, notice, now=now, settings=settings, extra=extra, feed=feed_link
    )
    return email_job((await email.queue_emails([message], now=now, settings=settings))[0])


def _compose(
    client: dict,
    practice: dict,
    sessions: list[dict],
    notice: Notice,
    *,
    now: datetime,
    settings: Settings,
    extra: dict | None,
    feed: str | None,
) -> email.Outgoing:
    """The email about these sessions of one client, with its ``.ics`` (no I/O)."""
    zone = client["zone"] or practice["time_zone"]
    reply_to = practice["insurance_email"] or practice["email"]
    cancelling = notice == Notice.CANCELLED
    events = [_event(s, practice["practice_name"], reply_to, client["email"]) for s in sessions]
    attachment = email.Attachment(
        "sessions.ics",
        ICS_TYPE,
        calendar_bytes(
            events,
            name=practice["practice_name"],
            stamp=now,
            method="CANCEL" if cancelling else "REQUEST",
            zone=zone,
        ),
    )
    one, many = SUBJECTS[notice]
    count = len(sessions)
    name = practice["practice_name"]
    dates = [_when(s, zone) for s in sessions]
    return email.Outgoing(
        to=client["email"],
        subject=many.format(name, n=count)
        if count > 1
        else one.format(name, when=_short_when(sessions[0], zone)),
        template=f"sessions_{notice.value}",
        context={
            "name": client["name"],
            "practice_name": name,
            "practice_email": practice["email"],
            "insurance_email": practice["insurance_email"],
            "dates": dates,
            "zone": zone,
            "cancellation_window_hours": practice["cancellation_window_hours"],
            "portal_link": f"{settings.base_url}/portal",
            "feed_link": feed,
            **(extra or {}),
        },
        reply_to=reply_to,
        attachments=[attachment],
    )


@dataclass(frozen=True)
class ReminderToWrite:
    """One session reminder to compose: its session, the one-tap links and the open-forms line."""

    appointment_id: int
    links: dict[str, str]
    forms_line: str = ""


_REMINDER_COLUMNS = (
    *_EVENT_COLUMNS,
    Appointment.client,
    Appointment.client.name.as_alias("name"),
    Appointment.client.email.as_alias("email"),
    Appointment.client.user.time_zone.as_alias("zone"),
    Appointment.client.calendar_feed_key.as_alias("feed_key"),
    Appointment.client.clinician.calendar_feed_enabled.as_alias("feed_on"),
    Appointment.client.clinician.practice_name.as_alias("practice_name"),
    Appointment.client.clinician.time_zone.as_alias("time_zone"),
    Appointment.client.clinician.cancellation_window_hours.as_alias("cancellation_window_hours"),
    Appointment.client.clinician.insurance_email.as_alias("insurance_email"),
    Appointment.client.clinician.user.email.as_alias("practice_email"),
)


async def session_reminders(
    reminders: list[ReminderToWrite], *, now: datetime, settings: Settings
) -> dict[int, email.Outgoing]:
    """The reminder emails of many upcoming sessions, by appointment id, from one query (a session that
    has ended gets none), each with an ``.ics`` holding its current time. Caller's transaction."""
    wanted = {r.appointment_id: r for r in reminders}
    rows = await Appointment.select(*_REMINDER_COLUMNS).where(
        Appointment.id.is_in(list(wanted) or [0]) & (Appointment.ends_at > now)
    )
    composed = {}
    for row in rows:
        feed = None
        if row["feed_on"]:
            feed = (
                _feed_address(settings, row["client"], row["feed_key"])
                if row["feed_key"]
                else await feed_url(row["client"], settings=settings)
            )
        practice = {**row, "email": row["practice_email"]}
        reminder = wanted[row["id"]]
        extra = {
            "links": reminder.links,
            "forms_line": reminder.forms_line,
            "forms_link": f"{settings.base_url}/portal/forms",
        }
        composed[row["id"]] = _compose(
            row, practice, [row], Notice.REMINDER, now=now, settings=settings, extra=extra, feed=feed
        )
    return composed


def _short_when(session: dict, zone: str) -> str:
    return f"{session['starts_at'].astimezone(ZoneInfo(zone or 'UTC')):%a %-d %b, %H:%M}"


def _when(session: dict, zone: str) -> str:
    tz = ZoneInfo(zone or "UTC")
    start, end = session["starts_at"].astimezone(tz), session["ends_at"].astimezone(tz)
    return f"{start:%A %-d %B %Y, %H:%M}–{end:%H:%M}"
