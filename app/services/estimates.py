"""Good Faith Estimates for self-pay clients (R16).

An estimate is made from what is booked: the client's scheduled and occurred sessions from the first
one planned, for up to 12 months, with their fees. The worker's cron (every half hour) issues one for
each self-pay client who has sessions booked and none yet, well inside the legal deadline (kept on the
row as ``due_by``), and a new version when the fee or the plan changes. Sent by email with the PDF
and shown in the portal. The clinician sees a warning when billed amounts approach the estimate
plus $400 (``domain.estimates.warning``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.config import Settings
from app.domain import estimates as rules
from app.domain import superbills as superbill_rules
from app.domain.billing_codes import SERVICE_CODES, service_code_of
from app.domain.calendar import local_midnight
from app.domain.practice import format_money
from app.domain.statuses import AppointmentStatus, ChargeStatus
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Client, ClientBillingDetails, Clinician, GoodFaithEstimate
from app.services import audit, billing_pdf, practices, superbills
from app.services.context import Actor, CurrentUser
from app.services.email import Attachment, practice_address, queue_email
from app.services.errors import NotFound
from app.services.queue import JobQueue, QueuedJob, email_job

PLANNED = [AppointmentStatus.SCHEDULED.value, AppointmentStatus.OCCURRED.value]
BILLED = [ChargeStatus.SUCCEEDED.value, ChargeStatus.PARTIALLY_REFUNDED.value]
REASONS = {
    "new": "new",
    "fee_change": "the fee changed",
    "plan_change": "the sessions planned changed",
    "request": "the client asked for one",
}


class EstimateNotFound(NotFound):
    """No such estimate for this person."""


class EstimateRefused(ValueError):
    """Good Faith Estimates are for self-pay clients."""


async def _requested_at(client_id: int) -> datetime | None:
    row = (
        await ClientBillingDetails.select(ClientBillingDetails.estimate_requested_at)
        .where(ClientBillingDetails.client == client_id)
        .first()
    )
    return row["estimate_requested_at"] if row else None


async def _current(client_id: int) -> GoodFaithEstimate | None:
    return (
        await GoodFaithEstimate.objects()
        .where((GoodFaithEstimate.client == client_id) & GoodFaithEstimate.superseded_at.is_null())
        .first()
    )


async def _planned(client: Client, zone, since: datetime) -> list[tuple[rules.PlannedSession, Appointment]]:
    rows = (
        await Appointment.objects()
        .where(
            (Appointment.client == client.id)
            & Appointment.status.is_in(PLANNED)
            & (Appointment.starts_at >= since)
        )
        .order_by(Appointment.starts_at)
    )
    return [
        (rules.PlannedSession(row.id, row.starts_at.astimezone(zone).date(), row.fee_minor), row)
        for row in rows
    ]


def _reason(previous: str, sessions: list[rules.PlannedSession]) -> str:
    before = dict(pair.split(":") for pair in previous.split(",") if pair)
    now = {str(s.appointment_id): str(s.fee_minor) for s in sessions}
    if before.keys() == now.keys():
        return "fee_change"
    return "plan_change"


async def bring_up_to_date(client_id: int, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """Issue this client's estimate if they are self-pay, have sessions booked and none yet, or a new
    version if the fee or plan changed since the last; nothing while the provider's details are
    incomplete (``readiness`` says what is missing). Returns the email job."""
    client = await Client.objects().where(Client.id == client_id).first()
    if client is None or client.billing_type != "self_pay" or client.archived_at is not None:
        return []
    provider = await superbills.provider_of(client.clinician, settings)
    if superbill_rules.missing_provider_fields(provider):
        return []
    ctx = await superbills.billing_context(client_id)
    current = await _current(client_id)
    since = local_midnight(current.first_session_on, ctx.zone) if current is not None else now
    found = await _planned(client, ctx.zone, since)
    if not found:
        return []
    sessions = rules.within_horizon([s for s, _ in found], found[0][0].day)
    plan = rules.plan_fingerprint(sessions)
    requested_at = await _requested_at(client_id)
    if current is not None and current.plan == plan and requested_at is None:
        return []
    if requested_at is not None:
        reason = "request"
    else:
        reason = "new" if current is None else _reason(current.plan, sessions)
    appointments = {a.id: a for _, a in found}
    first = appointments[sessions[0].appointment_id]
    scheduled_on = (
        min(appointments[s.appointment_id].created_at for s in sessions).astimezone(ctx.zone).date()
    )
    if current is not None:
        scheduled_on = now.astimezone(ctx.zone).date()
    if requested_at is not None:
        scheduled_on = requested_at.astimezone(ctx.zone).date()
    due = rules.due_by(scheduled_on, sessions[0].day, requested=requested_at is not None)
    details = await superbills.client_details_of(client_id)
    code = service_code_of(first.service_code, first.kind, first.duration_minutes)
    version = (current.version + 1) if current else 1
    total = sum(s.fee_minor for s in sessions)
    issued_on = now.astimezone(ctx.zone).date()
    pdf = billing_pdf.estimate(
        billing_pdf.Estimate(
            version=version,
            reason=REASONS[reason],
            issued_on=issued_on,
            client_name=client.name,
            client_date_of_birth=details.date_of_birth,
            provider_name=provider.clinician_name,
            licence=f"{provider.licence_type} {provider.licence_number}".strip(),
            npi=provider.npi,
            practice_name=provider.practice_name,
            tax_id=provider.tax_id,
            address=provider.address,
            contact=" · ".join(part for part in (provider.phone, provider.email) if part),
            service_code=code,
            service_label=SERVICE_CODES[code].label if code in SERVICE_CODES else "Psychotherapy",
            diagnosis_codes=details.diagnosis_codes if details.consented else (),
            sessions=[(s.day, s.fee_minor) for s in sessions],
            currency=ctx.currency,
            total_minor=total,
        ),
        now,
    )
    async with transaction():
        if current is not None:
            await GoodFaithEstimate.update({GoodFaithEstimate.superseded_at: now}).where(
                GoodFaithEstimate.id == current.id
            )
        if requested_at is not None:
            await ClientBillingDetails.update({ClientBillingDetails.estimate_requested_at: None}).where(
                ClientBillingDetails.client == client_id
            )
        rows = await GoodFaithEstimate.insert(
            GoodFaithEstimate(
                client=client_id,
                clinician=client.clinician,
                version=version,
                reason=reason,
                plan=plan,
                session_count=len(sessions),
                total_minor=total,
                currency=ctx.currency,
                first_session_on=sessions[0].day,
                last_session_on=sessions[-1].day,
                scheduled_on=scheduled_on,
                due_by=due,
                issued_at=now,
                pdf=pdf,
            )
        ).returning(GoodFaithEstimate.id)
        await audit.client_event(
            "estimate_issued",
            client_id,
            client.clinician,
            actor=Actor.system(),
            at=now,
            detail=f"version {version} {reason}",
        )
        message_id = await queue_email(
            to=client.email,
            subject="Your Good Faith Estimate" if version == 1 else "Your updated Good Faith Estimate",
            template="good_faith_estimate",
            context={
                "name": client.name,
                "practice": provider.practice_name,
                "version": version,
                "sessions": len(sessions),
                "first": f"{sessions[0].day:%-d %B %Y}",
                "last": f"{sessions[-1].day:%-d %B %Y}",
                "total": format_money(total, ctx.currency),
                "url": f"{settings.base_url}/portal/insurance/superbills",
            },
            now=now,
            settings=settings,
            reply_to=await practice_address(client.clinician),
            attachments=[Attachment(f"good-faith-estimate-{rows[0]['id']}.pdf", "application/pdf", pdf)],
        )
    return [email_job(message_id)]


async def request_estimate(
    user_id: int, client_id: int, *, now: datetime, actor: Actor, settings: Settings, queue: JobQueue
) -> bool:
    """A self-pay client asks for a Good Faith Estimate in the portal. The request is kept and
    audited; the estimate goes out at once when sessions are booked and the practice's details are
    complete, else the clinician sees the request, due within 3 business days. True when issued."""
    client = await Client.objects().where((Client.id == client_id) & (Client.user == user_id)).first()
    if client is None:
        raise EstimateNotFound(client_id)
    if client.billing_type != "self_pay":
        raise EstimateRefused(client_id)
    async with transaction():
        await superbills.upsert_client_details(
            client_id, {ClientBillingDetails.estimate_requested_at: now}, now
        )
        await audit.client_event("estimate_requested", client_id, client.clinician, actor=actor, at=now)
    jobs = await bring_up_to_date(client_id, now=now, settings=settings)
    await queue.enqueue_all(jobs)
    return bool(jobs)


@dataclass(frozen=True)
class Request:
    """A client's request for an estimate still to be issued."""

    requested_on: date
    due_by: date


async def pending_request(client_id: int) -> Request | None:
    """The deadline counts from the day of the request in the practice's time zone."""
    requested_at = await _requested_at(client_id)
    if requested_at is None:
        return None
    day = requested_at.astimezone((await superbills.billing_context(client_id)).zone).date()
    return Request(day, rules.add_business_days(day, 3))


async def askable(user_id: int) -> dict[int, Request | None]:
    """The login's self-pay client records that may ask for an estimate, with any request pending."""
    own = await Client.select(Client.id).where(
        (Client.user == user_id) & (Client.billing_type == "self_pay") & Client.archived_at.is_null()
    )
    return {row["id"]: await pending_request(row["id"]) for row in own}


async def readiness(client_id: int, settings: Settings) -> list[str]:
    """What the practice must fill in before this self-pay client's estimate can be issued (empty:
    ready, or the client is not self-pay). Until then no incomplete estimate goes out."""
    client = await Client.objects().where(Client.id == client_id).first()
    if client is None or client.billing_type != "self_pay":
        return []
    return superbill_rules.missing_provider_fields(await superbills.provider_of(client.clinician, settings))


async def sweep(*, now: datetime, settings: Settings) -> list[QueuedJob]:
    """The cron: every self-pay client with a session booked ahead, or with an estimate in force."""
    upcoming = Appointment.select(Appointment.client).where(
        (Appointment.starts_at >= now) & (Appointment.status == AppointmentStatus.SCHEDULED.value)
    )
    with_estimate = GoodFaithEstimate.select(GoodFaithEstimate.client).where(
        GoodFaithEstimate.superseded_at.is_null()
    )
    rows = await Client.select(Client.id).where(
        (Client.billing_type == "self_pay")
        & Client.archived_at.is_null()
        & (Client.id.is_in(upcoming) | Client.id.is_in(with_estimate))
    )
    jobs: list[QueuedJob] = []
    for row in rows:
        jobs += await bring_up_to_date(row["id"], now=now, settings=settings)
        jobs += await warn_clinician(row["id"], now=now, settings=settings)
    return jobs


async def warn_clinician(client_id: int, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """Email the clinician once per estimate when billed amounts approach or pass the estimate plus
    $400: the estimate row is claimed (``warned_at``) in the same transaction, so only one is sent."""
    found = await standing(client_id, now=now)
    if not found.warning:
        return []
    client = await Client.objects().where(Client.id == client_id).first()
    clinician = await Clinician.select(Clinician.user.email).where(Clinician.id == client.clinician).first()
    currency = found.estimate.currency
    async with transaction():
        claimed = (
            await GoodFaithEstimate.update({GoodFaithEstimate.warned_at: now})
            .where((GoodFaithEstimate.id == found.estimate.id) & GoodFaithEstimate.warned_at.is_null())
            .returning(GoodFaithEstimate.id)
        )
        if not claimed:
            return []
        await audit.client_event(
            "estimate_warning_sent",
            client_id,
            client.clinician,
            actor=Actor.system(),
            at=now,
            detail=f"version {found.estimate.version} {found.warning}",
        )
        message_id = await queue_email(
            to=clinician["user.email"],
            subject=f"Billing for {client.name} is near their Good Faith Estimate plus $400",
            template="estimate_warning",
            context={
                "name": client.name,
                "over": found.warning == "over",
                "billed": format_money(found.billed_minor, currency),
                "estimate": format_money(found.estimate.total_minor, currency),
                "limit": format_money(found.limit_minor, currency),
                "url": f"{settings.base_url}/clients/{client_id}/billing",
            },
            now=now,
            settings=settings,
        )
    return [email_job(message_id)]


@dataclass(frozen=True)
class EstimateRow:
    id: int
    version: int
    reason: str
    session_count: int
    total_minor: int
    currency: str
    first_session_on: object
    last_session_on: object
    issued_at: datetime
    due_by: object
    superseded_at: datetime | None

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason)


@dataclass(frozen=True)
class Standing:
    """The estimate in force and what has been billed against it."""

    estimate: EstimateRow | None
    billed_minor: int
    next_fee_minor: int
    warning: str

    @property
    def limit_minor(self) -> int:
        return (self.estimate.total_minor if self.estimate else 0) + rules.DISPUTE_MARGIN_MINOR


def _rows(where):
    return (
        GoodFaithEstimate.select(
            GoodFaithEstimate.id,
            GoodFaithEstimate.version,
            GoodFaithEstimate.reason,
            GoodFaithEstimate.session_count,
            GoodFaithEstimate.total_minor,
            GoodFaithEstimate.currency,
            GoodFaithEstimate.first_session_on,
            GoodFaithEstimate.last_session_on,
            GoodFaithEstimate.issued_at,
            GoodFaithEstimate.due_by,
            GoodFaithEstimate.superseded_at,
        )
        .where(where)
        .order_by(GoodFaithEstimate.version, ascending=False)
    )


async def standing(client_id: int, *, now: datetime) -> Standing:
    """Billed amounts (paid charges, less refunds) for sessions the estimate in force covers, and the
    warning when the next session would bring them to the estimate plus $400."""
    rows = await _rows((GoodFaithEstimate.client == client_id) & GoodFaithEstimate.superseded_at.is_null())
    if not rows:
        return Standing(None, 0, 0, "")
    estimate = EstimateRow(**rows[0])
    ctx = await superbills.billing_context(client_id)
    since = local_midnight(estimate.first_session_on, ctx.zone)
    charged = await Charge.select(Charge.amount_minor, Charge.refunded_minor).where(
        (Charge.client == client_id) & Charge.status.is_in(BILLED) & (Charge.appointment.starts_at >= since)
    )
    billed = sum(row["amount_minor"] - row["refunded_minor"] for row in charged)
    upcoming = (
        await Appointment.select(Appointment.fee_minor)
        .where(
            (Appointment.client == client_id)
            & (Appointment.status == AppointmentStatus.SCHEDULED.value)
            & (Appointment.starts_at >= now)
        )
        .order_by(Appointment.starts_at)
        .first()
    )
    next_fee = upcoming["fee_minor"] if upcoming else 0
    return Standing(estimate, billed, next_fee, rules.warning(estimate.total_minor, billed, next_fee))


async def for_member(
    member: CurrentUser, client_id: int, *, now: datetime
) -> tuple[list[EstimateRow], Standing]:
    await practices.client_for(member, client_id)
    return [EstimateRow(**row) for row in await _rows(GoodFaithEstimate.client == client_id)], await standing(
        client_id, now=now
    )


async def for_portal(user_id: int) -> list[EstimateRow]:
    own = await Client.select(Client.id).where(Client.user == user_id)
    ids = [row["id"] for row in own] or [0]
    return [EstimateRow(**row) for row in await _rows(GoodFaithEstimate.client.is_in(ids))]


async def pdf_for_client(user_id: int, estimate_id: int) -> tuple[str, bytes]:
    own = Client.select(Client.id).where(Client.user == user_id)
    row = (
        await GoodFaithEstimate.select(GoodFaithEstimate.version, GoodFaithEstimate.pdf)
        .where((GoodFaithEstimate.id == estimate_id) & GoodFaithEstimate.client.is_in(own))
        .first()
    )
    if row is None:
        raise EstimateNotFound(estimate_id)
    return f"good-faith-estimate-v{row['version']}.pdf", row["pdf"]
