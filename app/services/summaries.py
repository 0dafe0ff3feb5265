"""The clinician's evening summary email (opt-out: ``Clinician.evening_summary``).

A sweep (the worker's cron) writes, for every clinician whose evening it is and who has something
tomorrow, one ``EveningSummary`` row and its outbox message in one transaction. The row is unique per
(clinician, local date), so a second sweep, a retried one or a Redis that lost its jobs never sends a
second summary; a lost job only waits for the email sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain.practice import format_money
from app.domain.statuses import AppointmentStatus, ChargeStatus
from app.domain.summaries import SummaryLine, session_line, summary_day, tomorrow_of
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Clinician, EveningSummary
from app.services.email import queue_email
from app.services.queue import JobQueue, QueuedJob, email_job


async def send_due(*, now: datetime, settings: Settings, queue: JobQueue | None = None) -> list[QueuedJob]:
    """Write the summaries due now that were not written yet; returns their email jobs (enqueued too
    when a ``queue`` is given)."""
    clinicians = await Clinician.select(
        Clinician.id, Clinician.time_zone, Clinician.practice_name, Clinician.user.email.as_alias("email")
    ).where(Clinician.evening_summary == True)  # noqa: E712 - a Piccolo condition
    jobs = []
    for clinician in clinicians:
        zone = ZoneInfo(clinician["time_zone"] or "UTC")
        day = summary_day(now, zone)
        if day is None:
            continue
        done = await EveningSummary.exists().where(
            (EveningSummary.clinician == clinician["id"]) & (EveningSummary.day == day)
        )
        if not done:
            jobs += await _write(clinician, day, now=now, settings=settings)
    if queue is not None:
        await queue.enqueue_all(jobs)
    return jobs


async def _lines(clinician: dict, day, *, now: datetime, settings: Settings):
    zone = ZoneInfo(clinician["time_zone"] or "UTC")
    starts, ends = tomorrow_of(day, zone)
    sessions = (
        await Appointment.select(
            Appointment.id, Appointment.starts_at, Appointment.confirmed_at, Appointment.client.name
        )
        .where(
            (Appointment.clinician == clinician["id"])
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at >= starts)
            & (Appointment.starts_at < ends)
        )
        .order_by(Appointment.starts_at)
    )
    charges = (
        await Charge.select(
            Charge.appointment, Charge.amount_minor, Charge.currency, Charge.due_at, Charge.client.name
        )
        .where(
            (Charge.clinician == clinician["id"])
            & (Charge.status == ChargeStatus.SCHEDULED.value)
            & (Charge.due_at <= now + timedelta(hours=24))
        )
        .order_by(Charge.due_at)
    )
    page = f"{settings.base_url}/appointments/"
    session_lines = []
    for s in sessions:
        text, attention = session_line(s["starts_at"], zone, s["client.name"], s["confirmed_at"] is not None)
        session_lines.append(SummaryLine(text, f"{page}{s['id']}", attention))
    charge_lines = [
        SummaryLine(
            f"{format_money(c['amount_minor'], c['currency'])} from {c['client.name']}, "
            f"{c['due_at'].astimezone(zone):%a %H:%M}",
            f"{page}{c['appointment']}",
        )
        for c in charges
    ]
    return session_lines, charge_lines


async def _write(clinician: dict, day, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """One summary and its outbox message, in one transaction; nothing if there is nothing to tell or
    another sweep wrote it."""
    sessions, charges = await _lines(clinician, day, now=now, settings=settings)
    if not sessions and not charges:
        return []
    async with transaction():
        claimed = (
            await EveningSummary.insert(EveningSummary(clinician=clinician["id"], day=day, created_at=now))
            .on_conflict(action="DO NOTHING")
            .returning(EveningSummary.id)
        )
        if not claimed:
            return []
        waiting = sum(1 for line in sessions if line.attention)
        message_id = await queue_email(
            to=clinician["email"],
            subject=f"Tomorrow: {len(sessions)} session{'s' if len(sessions) != 1 else ''}"
            + (f", {waiting} not confirmed" if waiting else ""),
            template="evening_summary",
            context={"sessions": sessions, "charges": charges, "waiting": waiting},
            now=now,
            settings=settings,
        )
        await EveningSummary.update({EveningSummary.email_message: message_id}).where(
            EveningSummary.id == claimed[0]["id"]
        )
    return [email_job(message_id)]
