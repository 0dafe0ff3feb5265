"""The client portal: what a signed-in client sees, across every practice that has a client record
for their login. Every query starts from the login's own client records, so another person's id
finds nothing (404). Internal notes and staff-only status words never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.domain.accounts import valid_time_zone
from app.domain.availability import cancel_rule
from app.domain.checkin import check_in_open, under_way
from app.domain.clients import portal_status_label
from app.domain.practice import DEFAULT_FEE_CEILING
from app.domain.statuses import AppointmentStatus, ChargeKind, ChargeStatus
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Client, PaymentMethod, User
from app.services import audit, charges, insurance, paperwork, sessions
from app.services.context import Actor


class NotYours(Exception):
    """The record does not belong to this login (answer 404)."""


@dataclass(frozen=True)
class Practice:
    client_id: int
    practice_name: str
    insurance_email: str
    time_zone: str
    billing_type: str
    archived: bool
    cancellation_window_hours: int = 48
    contact_email: str = ""
    contact_phone: str = ""
    licence_type: str = ""
    currency: str = "USD"
    max_fee_minor: int = DEFAULT_FEE_CEILING
    late_cancel_online: bool = False  # a fee policy: inside the window the client cancels with its fee


@dataclass(frozen=True)
class ChargeView:
    amount_minor: int
    currency: str
    status: str
    status_label: str
    due_at: datetime | None
    succeeded_at: datetime | None
    kind: str = ChargeKind.SESSION.value

    @property
    def kind_label(self) -> str:
        """What the charge is for: the session, or a late-cancel or no-show fee (R4)."""
        try:
            return ChargeKind(self.kind).label
        except ValueError:
            return self.kind

    @property
    def pending(self) -> bool:
        return self.status == ChargeStatus.SCHEDULED.value


@dataclass(frozen=True)
class SessionView:
    id: int
    practice_name: str
    starts_at: datetime
    duration_minutes: int
    status_label: str
    status_key: str
    charge: ChargeView | None = None
    cancel_by: datetime | None = None
    can_cancel: bool = False
    practice: Practice | None = None
    ends_at: datetime | None = None
    checked_in_at: datetime | None = None
    can_check_in: bool = False
    video_link: str = ""  # the practice's video room, only while check-in is open
    under_way: bool = False  # started, not ended: no cancelling, check-in still open


@dataclass(frozen=True)
class Overview:
    practices: list[Practice]
    upcoming: list[SessionView]
    past: list[SessionView]
    card: PaymentMethod | None
    forms_left: list[str] = field(default_factory=list)  # "Calm Harbor: 2 forms to complete before Monday"


FEE_COLUMNS = (
    Client.practice.late_cancel_fee_minor,
    Client.practice.late_cancel_fee_percent,
    Client.practice.no_show_fee_minor,
    Client.practice.no_show_fee_percent,
)


async def practices_of(user_id: int) -> list[Practice]:
    rows = (
        await Client.select(
            Client.id,
            Client.billing_type,
            Client.archived_at,
            Client.clinician.practice_name,
            Client.clinician.insurance_email,
            Client.clinician.time_zone,
            Client.clinician.cancellation_window_hours,
            Client.clinician.user.email.as_alias("contact_email"),
            Client.clinician.user.phone.as_alias("contact_phone"),
            Client.clinician.licence_type,
            Client.clinician.currency,
            Client.clinician.max_fee_minor,
            *FEE_COLUMNS,
        )
        .where(Client.user == user_id)
        .order_by(Client.id)
    )
    return [
        Practice(
            client_id=r["id"],
            practice_name=r["clinician.practice_name"],
            insurance_email=r["clinician.insurance_email"],
            time_zone=r["clinician.time_zone"],
            billing_type=r["billing_type"],
            archived=r["archived_at"] is not None,
            cancellation_window_hours=r["clinician.cancellation_window_hours"],
            contact_email=r["contact_email"],
            contact_phone=r["contact_phone"],
            licence_type=r["clinician.licence_type"],
            currency=r["clinician.currency"],
            max_fee_minor=r["clinician.max_fee_minor"],
            late_cancel_online=any(r[f"practice.{column._meta.name}"] for column in FEE_COLUMNS),
        )
        for r in rows
    ]


def _charge_view(charge: dict[str, Any] | None) -> ChargeView | None:
    if charge is None:
        return None
    try:
        label = ChargeStatus(charge["status"]).label
    except ValueError:
        label = charge["status"]
    return ChargeView(
        charge["amount_minor"],
        charge["currency"],
        charge["status"],
        label,
        charge["due_at"],
        charge["succeeded_at"],
        charge["kind"],
    )


# Columns, not whole rows: building a Table object per row was a quarter of the portal's time.
SESSION_COLUMNS = (
    Appointment.id,
    Appointment.client,
    Appointment.starts_at,
    Appointment.duration_minutes,
    Appointment.status,
    Appointment.ends_at,
    Appointment.checked_in_at,
    Appointment.clinician.video_link.as_alias("video_link"),
)
CHARGE_COLUMNS = (
    Charge.appointment,
    Charge.amount_minor,
    Charge.currency,
    Charge.status,
    Charge.due_at,
    Charge.succeeded_at,
    Charge.kind,
)


async def overview(user_id: int, *, now: datetime, past_limit: int = 50) -> Overview:
    """Upcoming and past sessions with what was (or will be) charged, and the card on file."""
    practices = await practices_of(user_id)
    names = {p.client_id: p.practice_name for p in practices}
    client_ids = list(names)
    upcoming: list[SessionView] = []
    past: list[SessionView] = []
    if client_ids:
        rows = (
            await Appointment.select(*SESSION_COLUMNS)
            .where(
                (Appointment.client.is_in(client_ids))
                & (Appointment.status == AppointmentStatus.SCHEDULED.value)
                & (Appointment.ends_at > now)  # one under way stays here until its end (R3)
            )
            .order_by(Appointment.starts_at)
        )
        by_client = {p.client_id: p for p in practices}
        upcoming = [_upcoming(_session(a, names, None), by_client[a["client"]], now) for a in rows]
        rows = (
            await Appointment.select(*SESSION_COLUMNS)
            .where(
                (Appointment.client.is_in(client_ids))
                & (Appointment.starts_at < now)
                & ((Appointment.ends_at <= now) | (Appointment.status != AppointmentStatus.SCHEDULED.value))
            )
            .order_by(Appointment.starts_at, ascending=False)
            .limit(past_limit)
        )
        charge_of: dict[int, dict[str, Any]] = {}
        if rows:
            found = await Charge.select(*CHARGE_COLUMNS).where(
                (Charge.client.is_in(client_ids)) & (Charge.appointment.is_in([a["id"] for a in rows]))
            )
            charge_of = {c["appointment"]: c for c in found}
        past = [_session(a, names, charge_of.get(a["id"])) for a in rows]
    forms = [
        f"{p.practice_name}: {p.line(now)}"
        for p in await paperwork.for_client_user(user_id, now)
        if p.left and not p.archived
    ]
    return Overview(practices, upcoming, past, await charges.card_on_file(user_id), forms)


def _upcoming(session: SessionView, practice: Practice, now: datetime) -> SessionView:
    """An upcoming session with whether the client may still cancel it online (the practice's window)."""
    rule = cancel_rule(session.starts_at, practice.cancellation_window_hours, now)
    open_now = session.ends_at is not None and check_in_open(session.starts_at, session.ends_at, now)
    return replace(
        session,
        cancel_by=rule.deadline,
        can_cancel=rule.allowed,
        practice=practice,
        can_check_in=open_now and session.checked_in_at is None,
        video_link=session.video_link if open_now else "",
        under_way=session.ends_at is not None and under_way(session.starts_at, session.ends_at, now),
    )


def _session(
    appointment: dict[str, Any], names: dict[int, str], charge: dict[str, Any] | None
) -> SessionView:
    label = portal_status_label(appointment["status"])
    return SessionView(
        id=appointment["id"],
        practice_name=names.get(appointment["client"], ""),
        starts_at=appointment["starts_at"],
        duration_minutes=appointment["duration_minutes"],
        status_label=label,
        status_key=label.lower(),
        charge=_charge_view(charge),
        ends_at=appointment["ends_at"],
        checked_in_at=appointment["checked_in_at"],
        video_link=appointment["video_link"] or "",
    )


async def own_record(user_id: int, client_id: int) -> Client:
    client = await Client.objects().where((Client.id == client_id) & (Client.user == user_id)).first()
    if client is None:
        raise NotYours(client_id)
    return client


async def insurance_pages(user_id: int) -> list[tuple[Practice, insurance.InsuranceDetails]]:
    return [(p, await insurance.details_of(p.client_id)) for p in await practices_of(user_id)]


async def insurance_form(user_id: int, client_id: int) -> tuple[Practice, insurance.InsuranceDetails]:
    await own_record(user_id, client_id)
    practice = next(p for p in await practices_of(user_id) if p.client_id == client_id)
    return practice, await insurance.details_of(client_id)


async def update_insurance(
    user_id: int, client_id: int, details: insurance.InsuranceDetails, *, now: datetime, actor: Actor
) -> int:
    """The client edits their own insurance details for one practice."""
    async with transaction():
        client = await own_record(user_id, client_id)
        return await insurance.apply_update(client, details, now=now, actor=actor)


async def save_self_check(
    user_id: int, client_id: int, answers: dict, *, now: datetime, actor: Actor
) -> None:
    """The client saves their coverage self-check answers for one practice."""
    async with transaction():
        client = await own_record(user_id, client_id)
        await insurance.apply_self_check(client, answers, now=now, actor=actor)


@dataclass(frozen=True)
class Profile:
    name: str
    email: str
    phone: str
    time_zone: str


async def profile_of(user_id: int) -> Profile:
    row = (
        await User.select(User.name, User.email, User.phone, User.time_zone).where(User.id == user_id).first()
    )
    return Profile(**row)


async def update_profile(user_id: int, profile: Profile, *, now: datetime, actor: Actor) -> None:
    """Change the client's own name, phone and time zone (their email is their login)."""
    if not valid_time_zone(profile.time_zone):
        raise ValueError(profile.time_zone)
    async with transaction():
        await User.update(
            {User.name: profile.name, User.phone: profile.phone, User.time_zone: profile.time_zone}
        ).where((User.id == user_id) & (User.role == "client"))
        await audit.user_event("profile_updated", user_id, actor=actor, at=now)
        sessions.person_changed(user_id)
