"""Reading charges: the appointment panel, the portal, receipts and the e-mails about a charge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain import charges as rules
from app.domain import disputes as dispute_rules
from app.domain import fees
from app.domain.practice import format_money
from app.domain.statuses import ChargeKind
from app.domain.statuses import ChargeStatus as C
from app.models.tables import (
    Appointment,
    Charge,
    Client,
    Clinician,
    Dispute,
    PaymentMethod,
    Refund,
    User,
)
from app.services.errors import ChargeNotFound


@dataclass
class ChargeView:
    """A charge with what screens and emails show about it."""

    charge: Charge
    appointment: Appointment
    client: Client
    clinician_email: str
    clinician_zone: str
    client_zone: str
    practice_name: str
    card: PaymentMethod | None
    refunds: list[Refund] = field(default_factory=list)
    now: datetime | None = None
    disputes: list[Dispute] = field(default_factory=list)
    charging_paused: bool = False  # a dispute of one of this client's charges paused their charging

    @property
    def status(self) -> C:
        return C(self.charge.status)

    @property
    def kind(self) -> ChargeKind:
        return ChargeKind(self.charge.kind)

    @property
    def owed_by(self) -> str:
        """The status that owes this charge ("Occurred", "Late cancelled", "No-show")."""
        return fees.STATUS_BY_KIND[self.kind].label

    @property
    def amount_text(self) -> str:
        return format_money(self.charge.amount_minor, self.charge.currency)

    @property
    def countdown(self) -> str:
        if self.status == C.PROCESSING:
            return rules.countdown_text(0)
        return rules.countdown(self.charge.due_at, self.now).text if self.now else ""

    @property
    def refresh_seconds(self) -> int | None:
        """How soon a screen showing this charge should ask again (None: it won't change by itself)."""
        return rules.refresh_seconds(self.charge.status, self.charge.due_at, self.now) if self.now else None

    @property
    def card_text(self) -> str:
        """ "Visa ending 4242": the card this charge was (or will be) paid with."""
        return f"{self.card.brand} ending {self.card.last4}" if self.card else "the card on file"

    @property
    def refundable_minor(self) -> int:
        return rules.refundable_minor(self.charge.amount_minor, self.charge.refunded_minor)

    @property
    def can_waive(self) -> bool:
        return self.status in rules.WAIVABLE

    @property
    def can_retry(self) -> bool:
        return self.status in rules.RETRYABLE

    @property
    def can_refund(self) -> bool:
        return self.status in rules.REFUNDABLE and self.refundable_minor > 0

    @property
    def has_receipt(self) -> bool:
        return self.charge.succeeded_at is not None

    def dispute_lines(self) -> list[dict[str, object]]:
        """Each dispute of this charge as the practice reads it: amount, reason, state, respond-by date."""
        return [
            {
                "amount": format_money(d.amount_minor, d.currency),
                "reason": dispute_rules.reason_text(d.reason),
                "status": dispute_rules.status_text(d.status),
                "closed": dispute_rules.is_closed(d.status),
                "respond_by": None if dispute_rules.is_closed(d.status) else d.respond_by,
            }
            for d in self.disputes
        ]

    def session_text(self, zone: str) -> str:
        return self.appointment.starts_at.astimezone(ZoneInfo(zone or "UTC")).strftime("%a %d %b %Y, %H:%M")


async def view_of(charge: Charge, *, now: datetime | None = None) -> ChargeView:
    return (await views_of([charge], now=now))[0]


async def views_of(charge_rows: list[Charge], *, now: datetime | None = None) -> list[ChargeView]:
    """Screen views of many charges with a fixed number of queries (no query per charge)."""
    if not charge_rows:
        return []

    async def by_id(table, ids) -> dict:
        ids = list({i for i in ids if i is not None})
        return {row.id: row for row in await table.objects().where(table.id.is_in(ids))} if ids else {}

    appointments = await by_id(Appointment, [c.appointment for c in charge_rows])
    clients = await by_id(Client, [c.client for c in charge_rows])
    clinicians = await by_id(Clinician, [c.clinician for c in charge_rows])
    users = await by_id(User, [c.user for c in clients.values()] + [c.user for c in clinicians.values()])
    methods = await by_id(PaymentMethod, [c.payment_method for c in charge_rows])
    current_cards: dict[int, PaymentMethod] = {}
    client_user_ids = [c.user for c in clients.values() if c.user is not None]
    if client_user_ids:
        for method in (
            await PaymentMethod.objects()
            .where(PaymentMethod.user.is_in(client_user_ids) & PaymentMethod.removed_at.is_null())
            .order_by(PaymentMethod.id)
        ):
            current_cards[method.user] = method  # ascending ids: the newest wins
    refunds: dict[int, list[Refund]] = {}
    for refund in (
        await Refund.objects().where(Refund.charge.is_in([c.id for c in charge_rows])).order_by(Refund.id)
    ):
        refunds.setdefault(refund.charge, []).append(refund)
    disputes: dict[int, list[Dispute]] = {}
    paused: set[int] = set()
    for dispute in await Dispute.objects().where(Dispute.client.is_in(list(clients))).order_by(Dispute.id):
        disputes.setdefault(dispute.charge, []).append(dispute)
        if dispute.charging_resumed_at is None:
            paused.add(dispute.client)
    views = []
    for charge in charge_rows:
        client = clients[charge.client]
        clinician = clinicians[charge.clinician]
        client_user = users.get(client.user) if client.user else None
        views.append(
            ChargeView(
                charge=charge,
                appointment=appointments[charge.appointment],
                client=client,
                clinician_email=users[clinician.user].email,
                clinician_zone=clinician.time_zone,
                client_zone=client_user.time_zone if client_user else clinician.time_zone,
                practice_name=clinician.practice_name,
                card=methods.get(charge.payment_method) or current_cards.get(client.user),
                refunds=refunds.get(charge.id, []),
                now=now,
                disputes=disputes.get(charge.id, []),
                charging_paused=charge.client in paused,
            )
        )
    return views


async def panel_for_clinician(
    appointment_id: int, *, clinician_id: int, now: datetime
) -> tuple[Appointment, ChargeView | None]:
    """The appointment and its charge (None before it is marked Occurred) for the appointment panel."""
    appointment = (
        await Appointment.objects()
        .where((Appointment.id == appointment_id) & (Appointment.clinician == clinician_id))
        .first()
    )
    if appointment is None:
        raise ChargeNotFound(appointment_id)
    charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
    return appointment, (await view_of(charge, now=now) if charge else None)


async def for_client_user(user_id: int, *, now: datetime) -> list[ChargeView]:
    """Every charge of this client (all their practices), newest session first: for the portal."""
    client_ids = [row["id"] for row in await Client.select(Client.id).where(Client.user == user_id)]
    if not client_ids:
        return []
    charges = (
        await Charge.objects().where(Charge.client.is_in(client_ids)).order_by(Charge.due_at, ascending=False)
    )
    return await views_of(list(charges), now=now)


async def receipt_for_clinician(charge_id: int, *, clinician_id: int) -> ChargeView:
    charge = (
        await Charge.objects().where((Charge.id == charge_id) & (Charge.clinician == clinician_id)).first()
    )
    if charge is None or charge.succeeded_at is None:
        raise ChargeNotFound(charge_id)
    return await view_of(charge)


async def receipt_for_client(charge_id: int, *, user_id: int) -> ChargeView:
    client_ids = [row["id"] for row in await Client.select(Client.id).where(Client.user == user_id)]
    charge = (
        await Charge.objects().where((Charge.id == charge_id) & Charge.client.is_in(client_ids)).first()
        if client_ids
        else None
    )
    if charge is None or charge.succeeded_at is None:
        raise ChargeNotFound(charge_id)
    return await view_of(charge)
