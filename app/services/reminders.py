"""Session reminders by email, at the practice's offsets (``Clinician.reminder_hours``; default 48 and 2
hours before), unless the client opted out.

Nothing is scheduled ahead: a sweep every minute (the worker's cron) looks at sessions as they are now
and writes the reminders that are due (``domain.reminders.due_reminder``). Each is one ``Reminder`` row,
unique per (appointment, hours before, start time), written in the same transaction as its outbox
message: two sweeps at once, a retried sweep or a Redis that lost its jobs can't send one twice, and a
lost job only delays it until the next sweep. A moved session has a new start time, so it is reminded
again for that time only. Sending re-checks the session (``email.deliver``): a reminder whose session
was cancelled, moved or archived after it was written is kept unsent. The reminder of a client's first
session names the forms still open at the moment it is written (``paperwork.forms_before_first_sessions``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.config import Settings
from app.domain.reminders import (
    CLIENT_EVENTS,
    DEFAULT_HOURS,
    LogLine,
    delivery_log,
    due_reminder,
    format_hours,
    parse_hours,
    reminder_log,
)
from app.domain.statuses import AppointmentStatus
from app.models.db import transaction
from app.models.tables import Appointment, AuditEvent, Clinician, EmailMessage, Reminder
from app.services import email, notices, paperwork, session_links, texts
from app.services.queue import JobQueue, QueuedJob, emails_job

BATCH = 500
WRITE_BATCH = 100  # reminders per transaction: one commit each, a short write lock on SQLite


def practice_hours(stored: str | None) -> list[int]:
    """The practice's reminder offsets from its stored setting (a bad value means the defaults)."""
    if stored is None:
        return list(DEFAULT_HOURS)
    hours, problem = parse_hours(stored)
    return list(DEFAULT_HOURS) if problem else hours


async def _longest_offset() -> int:
    rows = await Clinician.select(Clinician.reminder_hours).distinct()
    return max((max(practice_hours(r["reminder_hours"]), default=0) for r in rows), default=0)


async def _candidates(now: datetime, until: datetime, after_id: int) -> list[dict]:
    return (
        await Appointment.select(
            Appointment.id,
            Appointment.client,
            Appointment.starts_at,
            Appointment.created_at,
            Appointment.clinician.reminder_hours.as_alias("reminder_hours"),
        )
        .where(
            (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at > now)
            & (Appointment.starts_at <= until)
            & (Appointment.id > after_id)
            & Appointment.client.archived_at.is_null()
            & (Appointment.client.reminders_off == False)  # noqa: E712 - a Piccolo condition
        )
        .order_by(Appointment.id)
        .limit(BATCH)
    )


async def send_due(*, now: datetime, settings: Settings, queue: JobQueue | None = None) -> int:
    """Write every reminder due now that was not written yet; returns how many. With a ``queue`` each
    batch's email job (one for the batch, sent on one SMTP connection) is enqueued as soon as its
    transaction has committed, so emails flow while a long sweep goes on (and a sweep cut short by its
    timeout leaves nothing waiting for the unsent-email sweep)."""
    longest = await _longest_offset()
    if not longest:
        return 0
    until = now + timedelta(hours=longest)
    written = 0
    after_id = 0
    while rows := await _candidates(now, until, after_id):
        after_id = rows[-1]["id"]
        due = {}
        for row in rows:
            hours = due_reminder(
                row["starts_at"], row["created_at"], practice_hours(row["reminder_hours"]), now
            )
            if hours is not None:
                due[row["id"]] = (row, hours)
        if not due:
            continue
        found = await Reminder.select(Reminder.appointment, Reminder.hours_before, Reminder.starts_at).where(
            Reminder.appointment.is_in(list(due))
        )
        done = {(w["appointment"], w["hours_before"], w["starts_at"]) for w in found}
        todo = [
            (row, hours) for id_, (row, hours) in due.items() if (id_, hours, row["starts_at"]) not in done
        ]
        for first in range(0, len(todo), WRITE_BATCH):
            count, jobs = await _write_all(todo[first : first + WRITE_BATCH], now=now, settings=settings)
            if queue is not None:
                await queue.enqueue_many(jobs)
            written += count
    return written


async def _write_all(
    todo: list[tuple[dict, int]], *, now: datetime, settings: Settings
) -> tuple[int, list[QueuedJob]]:
    """These reminders, their outbox messages and texts, in one transaction and a few statements; a
    reminder another sweep wrote meanwhile is left to it (the unique index decides, and the message
    written for it here is removed). Returns how many were written and the one job sending them."""
    forms = await paperwork.forms_before_first_sessions(
        [(row["client"], row["id"], row["starts_at"]) for row, _ in todo], now
    )
    pages = {row["id"]: session_links.link(settings, row["id"], row["starts_at"]) for row, _ in todo}
    wanted = [
        notices.ReminderToWrite(
            row["id"],
            {
                "confirm": pages[row["id"]],
                "cancel": f"{pages[row['id']]}#cancel",
                "check_in": f"{pages[row['id']]}#check-in",
            },
            forms[row["id"]],
        )
        for row, _ in todo
    ]
    async with transaction():
        composed = await notices.session_reminders(wanted, now=now, settings=settings)
        message_of = dict(
            zip(
                composed,
                await email.queue_emails(list(composed.values()), now=now, settings=settings),
                strict=True,
            )
        )
        claimed = (
            await Reminder.insert(
                *[
                    Reminder(
                        appointment=row["id"],
                        hours_before=hours,
                        starts_at=row["starts_at"],
                        created_at=now,
                        email_message=message_of.get(row["id"]),
                    )
                    for row, hours in todo
                ]
            )
            .on_conflict(action="DO NOTHING")
            .returning(Reminder.id, Reminder.appointment)
        )
        mine = {c["appointment"]: c["id"] for c in claimed}
        if others := [m for appointment, m in message_of.items() if appointment not in mine]:
            await EmailMessage.delete().where(EmailMessage.id.is_in(others))
        await texts.queue_reminders(
            [
                (row["client"], mine[row["id"]], row["starts_at"], pages[row["id"]])
                for row, _ in todo
                if row["id"] in mine and row["id"] in message_of
            ],
            now=now,
        )
    sending = [m for appointment, m in message_of.items() if appointment in mine]
    return len(mine), [emails_job(sending)] if sending else []


async def session_log(appointment_id: int, clinician_id: int) -> list[LogLine]:
    """The delivery log of one of this clinician's sessions (empty for anyone else's): its reminders
    from the outbox, and the client's confirmation and check-in from the audit trail."""
    written = await Reminder.select(
        Reminder.hours_before,
        Reminder.created_at,
        Reminder.email_message.sent_at.as_alias("sent_at"),
        Reminder.email_message.suppressed_at.as_alias("stopped_at"),
        Reminder.email_message.last_error.as_alias("error"),
    ).where((Reminder.appointment == appointment_id) & (Reminder.appointment.clinician == clinician_id))
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.at).where(
        (AuditEvent.object_type == "appointment")
        & (AuditEvent.object_id == appointment_id)
        & (AuditEvent.clinician_id == clinician_id)
        & AuditEvent.action.is_in(list(CLIENT_EVENTS))
    )
    return delivery_log(
        [
            reminder_log(r["hours_before"], r["created_at"], r["sent_at"], r["stopped_at"], r["error"] or "")
            for r in written
        ],
        [(e["action"], e["at"]) for e in events],
    )


__all__ = ["format_hours", "practice_hours", "send_due", "session_log"]
