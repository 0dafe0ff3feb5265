"""Superbills (R15): provider and client billing details, the readiness check, and issuing the PDF
for a paid session or a month; the client's choice of how often, downloads, resend and regenerate.

Issued automatically: per session by a job queued when the session's charge succeeds
(``after_charge_job``), monthly by the worker's cron for the month just ended. Every lookup for a
member goes through ``practices.client_for``; for a client, through their own client records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.config import Settings
from app.domain import superbills as rules
from app.domain.billing_codes import (
    DEFAULT_PLACE_OF_SERVICE,
    PLACES_OF_SERVICE,
    SERVICE_CODES,
    masked_tax_id,
    service_code_of,
)
from app.domain.calendar import local_midnight
from app.domain.members import Ability
from app.domain.statuses import AppointmentStatus, ChargeStatus
from app.models.db import transaction
from app.models.tables import (
    Appointment,
    Charge,
    Client,
    ClientBillingDetails,
    Clinician,
    Practice,
    PracticeBillingDetails,
    ProviderDetails,
    ServiceFee,
    Superbill,
)
from app.services import audit, billing_pdf, practices, sealing
from app.services.context import Actor, CurrentUser
from app.services.email import practice_address, queue_email
from app.services.errors import AppointmentNotFound, NotFound
from app.services.queue import QueuedJob, email_job

PAID = [ChargeStatus.SUCCEEDED.value, ChargeStatus.PARTIALLY_REFUNDED.value]
CATCH_UP_MONTHS = 12


class SuperbillNotFound(NotFound):
    """No such superbill for this person."""


class FrequencyRefused(ValueError):
    """Not one of the superbill choices."""


def after_charge_job(charge_id: int) -> QueuedJob:
    """The job queued once a charge succeeds: the session's superbill, if the client wants one each time."""
    return QueuedJob("issue_superbill", (charge_id,), job_id=f"superbill:{charge_id}")


# ---- details -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillingSetup:
    """A clinician's and their practice's billing details as the form shows them (tax ID masked)."""

    licence_type: str
    licence_number: str
    npi: str
    legal_name: str
    tax_id_kind: str
    tax_id_masked: str
    group_npi: str
    address: str
    phone: str
    place_of_service: str
    fees: dict[str, int]
    fee_ceiling: int
    currency: str


async def _practice_id(clinician_id: int) -> int:
    return await practices.practice_of_clinician(clinician_id)


async def provider_of(clinician_id: int, settings: Settings) -> rules.Provider:
    clinician = await Clinician.objects(Clinician.user).where(Clinician.id == clinician_id).first()
    own = await ProviderDetails.objects().where(ProviderDetails.clinician == clinician_id).first()
    practice = (
        await PracticeBillingDetails.objects()
        .where(PracticeBillingDetails.practice == await _practice_id(clinician_id))
        .first()
    )
    return rules.Provider(
        clinician_name=clinician.user.name,
        licence_type=clinician.licence_type,
        licence_number=own.licence_number if own else "",
        npi=own.npi if own else "",
        practice_name=(practice.legal_name if practice and practice.legal_name else clinician.practice_name),
        tax_id_kind=practice.tax_id_kind if practice else "ein",
        tax_id=sealing.unseal(practice.tax_id, settings) if practice and practice.tax_id else "",
        address=practice.address if practice else "",
        group_npi=practice.group_npi if practice else "",
        phone=practice.phone if practice else "",
        email=await practice_address(clinician_id),
    )


def _own_seat(member: CurrentUser) -> int:
    """The member's own clinician seat: billing details are theirs even while in a colleague's calendar."""
    if member.own_clinician_id is None:
        raise practices.NotAllowed()
    return member.own_clinician_id


async def billing_setup(member: CurrentUser, settings: Settings) -> BillingSetup:
    provider = await provider_of(_own_seat(member), settings)
    settings_row = (
        await Practice.select(Practice.max_fee_minor, Practice.currency)
        .where(Practice.id == member.practice_id)
        .first()
    )
    practice = (
        await PracticeBillingDetails.objects()
        .where(PracticeBillingDetails.practice == member.practice_id)
        .first()
    )
    return BillingSetup(
        licence_type=provider.licence_type,
        licence_number=provider.licence_number,
        npi=provider.npi,
        legal_name=practice.legal_name if practice else "",
        tax_id_kind=provider.tax_id_kind,
        tax_id_masked=masked_tax_id(provider.tax_id),
        group_npi=provider.group_npi,
        address=provider.address,
        phone=provider.phone,
        place_of_service=practice.place_of_service if practice else DEFAULT_PLACE_OF_SERVICE,
        fees=await service_fees(member.practice_id),
        fee_ceiling=settings_row["max_fee_minor"],
        currency=settings_row["currency"],
    )


async def save_billing_setup(
    member: CurrentUser,
    *,
    licence_number: str,
    npi: str,
    now: datetime,
    actor: Actor,
    settings: Settings,
    legal_name: str | None = None,
    tax_id_kind: str = "ein",
    tax_id: str | None = None,
    group_npi: str = "",
    address: str = "",
    phone: str = "",
    place_of_service: str = DEFAULT_PLACE_OF_SERVICE,
    fees: dict[str, int | None] | None = None,
) -> None:
    """Save the clinician's licence number and NPI and, when ``legal_name`` is given, the practice's
    details and default fees per service type (an owner's change; a fee of None clears it). ``tax_id``
    None keeps the stored one; it is sealed before it is written."""
    if legal_name is not None:
        practices.require(member, Ability.CHANGE_PRACTICE_SETTINGS)
    async with transaction():
        own = {ProviderDetails.licence_number: licence_number, ProviderDetails.npi: npi}
        if await ProviderDetails.exists().where(ProviderDetails.clinician == _own_seat(member)):
            await ProviderDetails.update({**own, ProviderDetails.updated_at: now}).where(
                ProviderDetails.clinician == _own_seat(member)
            )
        else:
            await ProviderDetails.insert(
                ProviderDetails(
                    clinician=_own_seat(member), licence_number=licence_number, npi=npi, updated_at=now
                )
            )
        if legal_name is not None:
            values = {
                PracticeBillingDetails.legal_name: legal_name,
                PracticeBillingDetails.tax_id_kind: tax_id_kind,
                PracticeBillingDetails.group_npi: group_npi,
                PracticeBillingDetails.address: address,
                PracticeBillingDetails.phone: phone,
                PracticeBillingDetails.place_of_service: place_of_service,
                PracticeBillingDetails.updated_at: now,
            }
            if tax_id is not None:
                values[PracticeBillingDetails.tax_id] = sealing.seal(tax_id, settings)
            where = PracticeBillingDetails.practice == member.practice_id
            if await PracticeBillingDetails.exists().where(where):
                await PracticeBillingDetails.update(values).where(where)
            else:
                await PracticeBillingDetails.insert(
                    PracticeBillingDetails(
                        practice=member.practice_id,
                        **{column._meta.name: value for column, value in values.items()},
                    )
                )
            await _save_fees(member.practice_id, fees or {}, now=now)
        await audit.practice_event(
            "billing_details_changed",
            _own_seat(member),
            actor=actor,
            at=now,
            detail="tax ID changed" if tax_id else "",
        )


async def client_details_of(client_id: int) -> rules.ClientDetails:
    client = await Client.objects().where(Client.id == client_id).first()
    row = await ClientBillingDetails.objects().where(ClientBillingDetails.client == client_id).first()
    return rules.ClientDetails(
        name=client.name,
        date_of_birth=row.date_of_birth if row else None,
        address=row.address if row else "",
        diagnosis_codes=tuple(code for code in (row.diagnosis_codes if row else "").split(",") if code),
        consented=bool(row and row.diagnosis_consent_at),
    )


async def frequency_of(client_id: int) -> str:
    row = (
        await ClientBillingDetails.select(ClientBillingDetails.superbill_frequency)
        .where(ClientBillingDetails.client == client_id)
        .first()
    )
    return row["superbill_frequency"] if row else rules.PER_SESSION


async def upsert_client_details(client_id: int, values: dict, now: datetime) -> None:
    values = {**values, ClientBillingDetails.updated_at: now}
    where = ClientBillingDetails.client == client_id
    if await ClientBillingDetails.exists().where(where):
        await ClientBillingDetails.update(values).where(where)
    else:
        await ClientBillingDetails.insert(
            ClientBillingDetails(
                client=client_id, **{column._meta.name: value for column, value in values.items()}
            )
        )


async def save_client_details(
    member: CurrentUser,
    client_id: int,
    *,
    date_of_birth: date | None,
    address: str,
    diagnosis_codes: list[str],
    consented: bool,
    now: datetime,
    actor: Actor,
) -> None:
    """The clinician records the client's birth date, address and diagnosis codes, and whether the
    client agreed to share the diagnosis on superbills (the consent's time is kept)."""
    found = await practices.client_for(member, client_id)
    if not found.sees_clinical_details:
        raise practices.NotAllowed()
    current = await ClientBillingDetails.objects().where(ClientBillingDetails.client == client_id).first()
    consent_at = (
        (current.diagnosis_consent_at if current and current.diagnosis_consent_at else now)
        if consented
        else None
    )
    async with transaction():
        await upsert_client_details(
            client_id,
            {
                ClientBillingDetails.date_of_birth: date_of_birth,
                ClientBillingDetails.address: address,
                ClientBillingDetails.diagnosis_codes: ",".join(diagnosis_codes),
                ClientBillingDetails.diagnosis_consent_at: consent_at,
            },
            now,
        )
        await audit.client_event(
            "client_billing_details_changed", client_id, found.client.clinician, actor=actor, at=now
        )


async def service_fees(practice_id: int) -> dict[str, int]:
    """The practice's default fee per service type (CPT code)."""
    rows = await ServiceFee.select(ServiceFee.service_code, ServiceFee.fee_minor).where(
        ServiceFee.practice == practice_id
    )
    return {row["service_code"]: row["fee_minor"] for row in rows}


async def _save_fees(practice_id: int, fees: dict[str, int | None], *, now: datetime) -> None:
    for code, fee in fees.items():
        if code not in SERVICE_CODES:
            continue
        where = (ServiceFee.practice == practice_id) & (ServiceFee.service_code == code)
        if fee is None:
            await ServiceFee.delete().where(where)
        elif await ServiceFee.exists().where(where):
            await ServiceFee.update({ServiceFee.fee_minor: fee, ServiceFee.updated_at: now}).where(where)
        else:
            await ServiceFee.insert(
                ServiceFee(practice=practice_id, service_code=code, fee_minor=fee, updated_at=now)
            )


@dataclass(frozen=True)
class SessionCodes:
    """A session as the billing page lists it: its code (chosen or default) and place of service."""

    appointment_id: int
    starts_at: datetime
    status: str
    chosen_code: str
    default_code: str
    place_of_service: str
    fee_minor: int
    currency: str


SESSIONS_LISTED = 12


async def sessions_to_code(member: CurrentUser, client_id: int, *, now: datetime) -> list[SessionCodes]:
    """The client's latest sessions (past and next), newest first, that can go on a superbill."""
    await practices.client_for(member, client_id)
    rows = (
        await Appointment.select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.status,
            Appointment.kind,
            Appointment.duration_minutes,
            Appointment.service_code,
            Appointment.place_of_service,
            Appointment.fee_minor,
            Appointment.currency,
        )
        .where(
            (Appointment.client == client_id)
            & Appointment.status.is_in([AppointmentStatus.SCHEDULED.value, AppointmentStatus.OCCURRED.value])
            & (Appointment.starts_at < now + timedelta(days=31))
        )
        .order_by(Appointment.starts_at, ascending=False)
        .limit(SESSIONS_LISTED)
    )
    return [
        SessionCodes(
            row["id"],
            row["starts_at"],
            row["status"],
            row["service_code"],
            service_code_of("", row["kind"], row["duration_minutes"]),
            row["place_of_service"],
            row["fee_minor"],
            row["currency"],
        )
        for row in rows
    ]


class CodeRefused(ValueError):
    """Not a service code or place of service on the list."""


async def set_session_codes(
    member: CurrentUser,
    client_id: int,
    appointment_id: int,
    *,
    service_code: str,
    place_of_service: str,
    now: datetime,
    actor: Actor,
) -> bool:
    """Choose the session's CPT code and place of service (empty: the defaults). A session still
    scheduled takes the practice's default fee for that code, if it has one. Returns whether the fee
    changed."""
    found = await practices.client_for(member, client_id)
    appointment = (
        await Appointment.objects()
        .where((Appointment.id == appointment_id) & (Appointment.client == client_id))
        .first()
    )
    if appointment is None:
        raise AppointmentNotFound(appointment_id)
    if (service_code and service_code not in SERVICE_CODES) or (
        place_of_service and place_of_service not in PLACES_OF_SERVICE
    ):
        raise CodeRefused(service_code)
    values = {Appointment.service_code: service_code, Appointment.place_of_service: place_of_service}
    fee = (await service_fees(found.client.practice)).get(service_code)
    new_fee = (
        fee is not None
        and appointment.status == AppointmentStatus.SCHEDULED.value
        and fee != appointment.fee_minor
    )
    if new_fee:
        values[Appointment.fee_minor] = fee
    async with transaction():
        await Appointment.update(values).where(Appointment.id == appointment_id)
        await audit.appointment_event(
            "session_codes_changed",
            appointment_id,
            client_id,
            appointment.clinician,
            actor=actor,
            at=now,
            detail=f"{service_code or 'default'} {place_of_service or 'default'}",
        )
    return new_fee


# ---- lines, readiness, issuing ------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    client: Client
    zone: ZoneInfo
    currency: str
    place_of_service: str


async def billing_context(client_id: int) -> _Context:
    """The client with their practice's zone, currency and usual place of service."""
    client = await Client.objects().where(Client.id == client_id).first()
    if client is None:
        raise SuperbillNotFound(client_id)
    practice_id = client.practice or await _practice_id(client.clinician)
    practice = await Practice.objects().where(Practice.id == practice_id).first()
    billing = (
        await PracticeBillingDetails.objects().where(PracticeBillingDetails.practice == practice_id).first()
    )
    return _Context(
        client,
        ZoneInfo(practice.time_zone if practice else "UTC"),
        practice.currency if practice else "USD",
        billing.place_of_service if billing else DEFAULT_PLACE_OF_SERVICE,
    )


async def _lines(ctx: _Context, start: datetime, end: datetime) -> list[rules.Line]:
    """The client's sessions with their clinician that took place and were paid, in [start, end)."""
    rows = (
        await Charge.select(
            Charge.appointment.id.as_alias("appointment_id"),
            Charge.appointment.starts_at.as_alias("starts_at"),
            Charge.appointment.fee_minor.as_alias("fee_minor"),
            Charge.appointment.kind.as_alias("kind"),
            Charge.appointment.duration_minutes.as_alias("minutes"),
            Charge.appointment.service_code.as_alias("service_code"),
            Charge.appointment.place_of_service.as_alias("place_of_service"),
            Charge.amount_minor,
            Charge.refunded_minor,
        )
        .where(
            (Charge.client == ctx.client.id)
            & (Charge.clinician == ctx.client.clinician)
            & Charge.status.is_in(PAID)
            & (Charge.appointment.status == AppointmentStatus.OCCURRED.value)
            & (Charge.appointment.starts_at >= start)
            & (Charge.appointment.starts_at < end)
        )
        .order_by(Charge.appointment.starts_at)
    )
    return [
        rules.Line(
            appointment_id=row["appointment_id"],
            date_of_service=row["starts_at"].astimezone(ctx.zone).date(),
            place_of_service=row["place_of_service"] or ctx.place_of_service,
            service_code=service_code_of(row["service_code"], row["kind"], row["minutes"]),
            fee_minor=row["fee_minor"],
            paid_minor=row["amount_minor"] - row["refunded_minor"],
        )
        for row in rows
    ]


async def readiness(client_id: int, settings: Settings) -> list[str]:
    """What is missing before this client's next superbill can be made (empty: ready)."""
    client = await Client.objects().where(Client.id == client_id).first()
    return rules.missing_fields(
        await provider_of(client.clinician, settings), await client_details_of(client_id), []
    )


@dataclass(frozen=True)
class Issued:
    superbill_id: int | None
    missing: list[str]


async def _issue(
    ctx: _Context,
    key: str,
    period: str,
    title: str,
    lines: list[rules.Line],
    *,
    now: datetime,
    settings: Settings,
) -> Issued:
    """Make (or remake) the superbill ``key`` from ``lines``; nothing when a required field is missing."""
    provider = await provider_of(ctx.client.clinician, settings)
    client = await client_details_of(ctx.client.id)
    missing = rules.missing_fields(provider, client, lines)
    if missing or not lines:
        return Issued(None, missing)
    doc = rules.Document(
        title, period, now.astimezone(ctx.zone).date(), ctx.currency, provider, client, lines
    )
    values = {
        Superbill.period: period,
        Superbill.line_count: len(lines),
        Superbill.total_fee_minor: doc.total_fee_minor,
        Superbill.total_paid_minor: doc.total_paid_minor,
        Superbill.currency: ctx.currency,
        Superbill.pdf: billing_pdf.superbill(doc, now),
    }
    existing = await Superbill.select(Superbill.id).where(Superbill.key == key).first()
    if existing:
        await Superbill.update({**values, Superbill.regenerated_at: now}).where(
            Superbill.id == existing["id"]
        )
        return Issued(existing["id"], [])
    rows = await Superbill.insert(
        Superbill(
            key=key,
            client=ctx.client.id,
            clinician=ctx.client.clinician,
            issued_at=now,
            **{column._meta.name: value for column, value in values.items()},
        )
    ).returning(Superbill.id)
    await audit.client_event(
        "superbill_issued", ctx.client.id, ctx.client.clinician, actor=Actor.system(), at=now, detail=period
    )
    return Issued(rows[0]["id"], [])


async def _session_superbill(
    ctx: _Context, appointment_id: int, starts_at: datetime, *, now, settings
) -> Issued:
    day = starts_at.astimezone(ctx.zone).date()
    start = local_midnight(day, ctx.zone)
    lines = [
        line
        for line in await _lines(ctx, start, local_midnight(day + timedelta(days=1), ctx.zone))
        if line.appointment_id == appointment_id
    ]
    return await _issue(
        ctx,
        f"session:{appointment_id}",
        f"Session of {day:%-d %B %Y}",
        "Superbill",
        lines,
        now=now,
        settings=settings,
    )


async def _month_superbill(ctx: _Context, month: str, *, now: datetime, settings: Settings) -> Issued:
    first, after = rules.month_bounds(month)
    lines = await _lines(ctx, local_midnight(first, ctx.zone), local_midnight(after, ctx.zone))
    return await _issue(
        ctx,
        f"month:{ctx.client.id}:{month}",
        rules.month_label(month),
        "Monthly superbill",
        lines,
        now=now,
        settings=settings,
    )


async def _ready_email(
    ctx: _Context, superbill_id: int, period: str, *, now: datetime, settings: Settings
) -> QueuedJob:
    message_id = await queue_email(
        to=ctx.client.email,
        subject=f"Your superbill for {period}",
        template="superbill_ready",
        context={
            "name": ctx.client.name,
            "period": period,
            "url": f"{settings.base_url}/portal/insurance/superbills",
        },
        now=now,
        settings=settings,
        reply_to=await practice_address(ctx.client.clinician),
    )
    await Superbill.update({Superbill.sent_at: now}).where(Superbill.id == superbill_id)
    return email_job(message_id)


async def issue_after_charge(charge_id: int, *, now: datetime, settings: Settings) -> list[QueuedJob]:
    """The job after a charge succeeded: the session's superbill when the client wants one per session
    and everything it needs is known (else the readiness check on the client's page says what's missing)."""
    charge = await Charge.objects(Charge.appointment).where(Charge.id == charge_id).first()
    if charge is None or charge.status not in PAID or await frequency_of(charge.client) != rules.PER_SESSION:
        return []
    async with transaction():
        ctx = await billing_context(charge.client)
        if await Superbill.exists().where(Superbill.key == f"session:{charge.appointment.id}"):
            return []
        issued = await _session_superbill(
            ctx, charge.appointment.id, charge.appointment.starts_at, now=now, settings=settings
        )
        if issued.superbill_id is None:
            return []
        period = (
            await Superbill.select(Superbill.period).where(Superbill.id == issued.superbill_id).first()
        )["period"]
        return [await _ready_email(ctx, issued.superbill_id, period, now=now, settings=settings)]


def previous_month(now: datetime, zone: ZoneInfo) -> str:
    return rules.month_key(now.astimezone(zone).date().replace(day=1) - timedelta(days=1))


async def issue_month_end(*, now: datetime, settings: Settings) -> list[QueuedJob]:
    """The cron: each client who wants monthly superbills gets the one for the month just ended (in the
    practice's zone), once, if they had paid sessions in it."""
    rows = await ClientBillingDetails.select(ClientBillingDetails.client).where(
        (ClientBillingDetails.superbill_frequency == rules.MONTHLY)
        & ClientBillingDetails.client.archived_at.is_null()
    )
    jobs: list[QueuedJob] = []
    for row in rows:
        async with transaction():
            ctx = await billing_context(row["client"])
            month = previous_month(now, ctx.zone)
            if await Superbill.exists().where(Superbill.key == f"month:{ctx.client.id}:{month}"):
                continue
            issued = await _month_superbill(ctx, month, now=now, settings=settings)
            if issued.superbill_id is not None:
                jobs.append(
                    await _ready_email(
                        ctx, issued.superbill_id, rules.month_label(month), now=now, settings=settings
                    )
                )
    return jobs


async def sweep(*, now: datetime, settings: Settings) -> list[QueuedJob]:
    """The cron: month-end superbills, and per-session ones for charges paid in the last week whose
    job was lost (a session's superbill is made once: its key is unique)."""
    jobs = await issue_month_end(now=now, settings=settings)
    paid = await Charge.select(Charge.id).where(
        Charge.status.is_in(PAID) & (Charge.succeeded_at >= now - timedelta(days=7))
    )
    for row in paid:
        jobs += await issue_after_charge(row["id"], now=now, settings=settings)
    return jobs


# ---- the portal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuperbillRow:
    id: int
    period: str
    line_count: int
    total_fee_minor: int
    total_paid_minor: int
    currency: str
    issued_at: datetime
    regenerated_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True)
class PortalRecord:
    client_id: int
    practice_name: str
    frequency: str
    superbills: list[SuperbillRow]


def _rows(where) -> list:
    return (
        Superbill.select(
            Superbill.id,
            Superbill.period,
            Superbill.line_count,
            Superbill.total_fee_minor,
            Superbill.total_paid_minor,
            Superbill.currency,
            Superbill.issued_at,
            Superbill.regenerated_at,
            Superbill.sent_at,
        )
        .where(where)
        .order_by(Superbill.issued_at, ascending=False)
        .order_by(Superbill.id, ascending=False)
    )


async def _own_clients(user_id: int) -> list[Client]:
    return await Client.objects(Client.clinician).where(Client.user == user_id).order_by(Client.id)


async def portal_records(user_id: int) -> list[PortalRecord]:
    """Each of the login's client records with its superbill choice and issued superbills."""
    records = []
    for client in await _own_clients(user_id):
        rows = await _rows(Superbill.client == client.id)
        records.append(
            PortalRecord(
                client.id,
                client.clinician.practice_name,
                await frequency_of(client.id),
                [SuperbillRow(**row) for row in rows],
            )
        )
    return records


async def choose_frequency(
    user_id: int, client_id: int, frequency: str, *, now: datetime, actor: Actor, settings: Settings
) -> int:
    """The client chooses per-session, monthly or no superbills. Choosing monthly makes the ones for
    past months (up to a year) with paid sessions at once. Returns how many were made."""
    if client_id not in [client.id for client in await _own_clients(user_id)]:
        raise SuperbillNotFound(client_id)
    if frequency not in rules.FREQUENCIES:
        raise FrequencyRefused(frequency)
    made = 0
    async with transaction():
        await upsert_client_details(client_id, {ClientBillingDetails.superbill_frequency: frequency}, now)
        await audit.client_event(
            "superbill_frequency_chosen", client_id, actor=actor, at=now, detail=frequency
        )
        if frequency == rules.MONTHLY:
            ctx = await billing_context(client_id)
            month = previous_month(now, ctx.zone)
            for _ in range(CATCH_UP_MONTHS):
                if not await Superbill.exists().where(Superbill.key == f"month:{client_id}:{month}"):
                    made += (
                        await _month_superbill(ctx, month, now=now, settings=settings)
                    ).superbill_id is not None
                month = rules.month_key(rules.month_bounds(month)[0] - timedelta(days=1))
    return made


async def pdf_for_client(user_id: int, superbill_id: int) -> tuple[str, bytes]:
    own = [client.id for client in await _own_clients(user_id)]
    row = (
        await Superbill.select(Superbill.period, Superbill.pdf)
        .where((Superbill.id == superbill_id) & Superbill.client.is_in(own or [0]))
        .first()
    )
    if row is None:
        raise SuperbillNotFound(superbill_id)
    return filename(row["period"]), row["pdf"]


def filename(period: str) -> str:
    return "superbill-" + "-".join(period.lower().replace(",", "").split()) + ".pdf"


# ---- the clinician --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientBilling:
    client_id: int
    details: rules.ClientDetails
    frequency: str
    missing: list[str]
    superbills: list[SuperbillRow]


async def client_billing(member: CurrentUser, client_id: int, settings: Settings) -> ClientBilling:
    found = await practices.client_for(member, client_id)
    if not found.sees_clinical_details:
        raise practices.NotAllowed()
    return ClientBilling(
        client_id,
        await client_details_of(client_id),
        await frequency_of(client_id),
        await readiness(client_id, settings),
        [SuperbillRow(**row) for row in await _rows(Superbill.client == client_id)],
    )


async def _members_superbill(member: CurrentUser, client_id: int, superbill_id: int) -> Superbill:
    await practices.client_for(member, client_id)
    superbill = (
        await Superbill.objects()
        .where((Superbill.id == superbill_id) & (Superbill.client == client_id))
        .first()
    )
    if superbill is None:
        raise SuperbillNotFound(superbill_id)
    return superbill


async def pdf_for_member(member: CurrentUser, client_id: int, superbill_id: int) -> tuple[str, bytes]:
    superbill = await _members_superbill(member, client_id, superbill_id)
    return filename(superbill.period), superbill.pdf


async def regenerate(
    member: CurrentUser, client_id: int, superbill_id: int, *, now: datetime, actor: Actor, settings: Settings
) -> Issued:
    """Make the superbill again from today's details (a corrected NPI, a new diagnosis)."""
    superbill = await _members_superbill(member, client_id, superbill_id)
    async with transaction():
        ctx = await billing_context(client_id)
        kind, *rest = superbill.key.split(":")
        if kind == "session":
            charge = (
                await Charge.objects(Charge.appointment).where(Charge.appointment == int(rest[0])).first()
            )
            issued = await _session_superbill(
                ctx, charge.appointment.id, charge.appointment.starts_at, now=now, settings=settings
            )
        else:
            issued = await _month_superbill(ctx, rest[1], now=now, settings=settings)
        if issued.superbill_id is not None:
            await audit.client_event(
                "superbill_regenerated", client_id, actor=actor, at=now, detail=superbill.period
            )
    return issued


async def resend(
    member: CurrentUser, client_id: int, superbill_id: int, *, now: datetime, actor: Actor, settings: Settings
) -> list[QueuedJob]:
    superbill = await _members_superbill(member, client_id, superbill_id)
    async with transaction():
        ctx = await billing_context(client_id)
        job = await _ready_email(ctx, superbill.id, superbill.period, now=now, settings=settings)
        await audit.client_event("superbill_sent", client_id, actor=actor, at=now, detail=superbill.period)
    return [job]
