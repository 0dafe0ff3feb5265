"""The sandbox gateway (default): behaves like a card processor in test mode.

It accepts only the usual test card numbers (4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is
declined, 4000 0000 0000 9995 has insufficient funds, 4000 0027 6000 3184 needs authentication),
keeps only brand, last four and expiry, and answers a repeated idempotency key with the stored
result. Its records live in the database (``SandboxPayment``), shared by every process.

Faults for tests (``SANDBOX_FAULT``, comma-separated, each used once per process):
``unavailable`` (fail before doing anything), ``lose_response`` (charge, then fail as if the
connection dropped) and ``crash_after_charge`` (charge, then SIGKILL this process).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
from datetime import UTC, datetime

from app.models.db import is_unique_violation, transaction
from app.models.tables import SandboxPayment
from app.payments.base import (
    CardRejected,
    DisputeInfo,
    GatewayRefused,
    GatewayUnavailable,
    PaymentRecord,
    PaymentResult,
    RefundResult,
    SavedCard,
)

# Test number → (brand, behaviour when charged off-session).
TEST_CARDS = {
    "4242424242424242": ("Visa", "ok"),
    "5555555555554444": ("Mastercard", "ok"),
    "4000000000000002": ("Visa", "card_declined"),
    "4000000000009995": ("Visa", "insufficient_funds"),
    "4000002760003184": ("Visa", "authentication_required"),
}
BEHAVIOUR_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "Your card's bank needs you to confirm this payment.",
}


def _digest(text: str, length: int = 24) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _behaviour(method_ref: str) -> str:
    """The sandbox encodes a test card's behaviour in its method reference, like Stripe's pm_card_*."""
    parts = method_ref.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "pm_sbx" else "unknown"


class SandboxGateway:
    name = "sandbox"

    def __init__(self, faults: list[str] | None = None) -> None:
        self.faults = list(faults or [])

    @classmethod
    def from_env(cls) -> SandboxGateway:
        return cls([f.strip() for f in os.environ.get("SANDBOX_FAULT", "").split(",") if f.strip()])

    def _fault(self, name: str) -> bool:
        if name in self.faults:
            self.faults.remove(name)
            return True
        return False

    async def create_customer(self, *, idempotency_key: str, user_id: int) -> str:
        return f"cus_sbx_{_digest(f'{idempotency_key}:{user_id}')}"

    def save_test_card(self, customer_ref: str, number: str, exp_month: int, exp_year: int) -> SavedCard:
        """Tokenise a test card number (the card form of the sandbox). Real numbers are refused."""
        digits = "".join(ch for ch in number if ch.isdigit())
        if digits not in TEST_CARDS:
            raise CardRejected(
                "This is a test payment system: use a test card number such as 4242 4242 4242 4242.",
                code="not_a_test_card",
            )
        brand, behaviour = TEST_CARDS[digits]
        return SavedCard(
            customer_ref=customer_ref,
            method_ref=f"pm_sbx:{behaviour}:{secrets.token_hex(8)}",
            brand=brand,
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
        )

    async def _stored(self, key: str) -> SandboxPayment | None:
        return await SandboxPayment.objects().where(SandboxPayment.idempotency_key == key).first()

    async def _insert_once(self, row: SandboxPayment) -> SandboxPayment:
        """Insert a record for a new idempotency key, or return the one stored for it."""
        try:
            async with transaction():
                await SandboxPayment.insert(row)
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            stored = await self._stored(row.idempotency_key)
            if stored is None:  # pragma: no cover - a unique violation means it exists
                raise
            return stored
        return row

    async def create_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_ref: str,
        method_ref: str,
        idempotency_key: str,
        charge_id: int,
    ) -> str:
        if self._fault("unavailable"):
            raise GatewayUnavailable("sandbox: injected outage")
        row = await self._insert_once(
            SandboxPayment(
                idempotency_key=idempotency_key,
                kind="payment",
                reference=f"pi_sbx_{_digest(idempotency_key)}",
                amount_minor=amount_minor,
                currency=currency,
                method_ref=method_ref,
                status="pending",
                created_at=datetime.now(UTC),
            )
        )
        if row.amount_minor != amount_minor or row.method_ref != method_ref:
            raise GatewayRefused("sandbox: idempotency key reused with different parameters")
        return row.reference

    async def _payment(self, reference: str) -> SandboxPayment:
        payment = (
            await SandboxPayment.objects()
            .where((SandboxPayment.reference == reference) & (SandboxPayment.kind == "payment"))
            .first()
        )
        if payment is None:
            raise GatewayRefused(f"sandbox: no such payment {reference}")
        return payment

    @staticmethod
    def _result(payment: SandboxPayment) -> PaymentResult:
        return PaymentResult(
            outcome=payment.status,  # type: ignore[arg-type]
            reference=payment.reference,
            failure_code=payment.failure_code,
            failure_message=BEHAVIOUR_MESSAGES.get(payment.failure_code, ""),
        )

    async def confirm_payment(self, reference: str, *, idempotency_key: str) -> PaymentResult:
        if self._fault("unavailable"):
            raise GatewayUnavailable("sandbox: injected outage")
        replay = await self._stored(idempotency_key)
        if replay is None:
            payment = await self._payment(reference)
            if payment.status == "pending":
                behaviour = _behaviour(payment.method_ref)
                status, code = ("succeeded", "") if behaviour == "ok" else ("failed", behaviour)
                if behaviour == "authentication_required":
                    status = "requires_action"
                elif behaviour == "unknown":
                    code = "card_declined"
                async with transaction():
                    moved = (
                        await SandboxPayment.update(
                            {SandboxPayment.status: status, SandboxPayment.failure_code: code}
                        )
                        .where((SandboxPayment.id == payment.id) & (SandboxPayment.status == "pending"))
                        .returning(SandboxPayment.id)
                    )
                    if moved:
                        await SandboxPayment.insert(
                            SandboxPayment(
                                idempotency_key=idempotency_key,
                                kind="confirm",
                                reference=reference,
                                amount_minor=payment.amount_minor,
                                status=status,
                                created_at=datetime.now(UTC),
                            )
                        )
        if self._fault("crash_after_charge"):
            os.kill(os.getpid(), signal.SIGKILL)
        if self._fault("lose_response"):
            raise GatewayUnavailable("sandbox: injected lost response")
        return self._result(await self._payment(reference))

    async def confirmation_secret(self, reference: str) -> str:
        """The sandbox's bank page needs no secret: the cardholder confirms on our own page."""
        return ""

    async def authenticate(self, reference: str) -> PaymentResult:
        """The cardholder confirmed the payment with their (test) bank: it is taken, once."""
        await SandboxPayment.update(
            {SandboxPayment.status: "succeeded", SandboxPayment.failure_code: ""}
        ).where(
            (SandboxPayment.reference == reference)
            & (SandboxPayment.kind == "payment")
            & (SandboxPayment.status == "requires_action")
        )
        return self._result(await self._payment(reference))

    async def cancel_payment(self, reference: str, *, idempotency_key: str) -> str:
        """A payment not taken can no longer be confirmed (Stripe's ``canceled`` reads as failed)."""
        await SandboxPayment.update(
            {SandboxPayment.status: "failed", SandboxPayment.failure_code: "canceled"}
        ).where(
            (SandboxPayment.reference == reference)
            & (SandboxPayment.kind == "payment")
            & SandboxPayment.status.is_in(["pending", "requires_action", "failed"])
        )
        return (await self._payment(reference)).status

    async def get_payment(self, reference: str) -> PaymentResult:
        if self._fault("unavailable"):
            raise GatewayUnavailable("sandbox: injected outage")
        return self._result(await self._payment(reference))

    async def list_payments(self, *, since: datetime | None) -> list[PaymentRecord]:
        """The sandbox keeps its payments in our own database: nothing to compare."""
        return []

    async def get_dispute(self, reference: str) -> DisputeInfo:
        raise GatewayRefused("sandbox: disputes arrive only through Stripe's webhooks")

    async def refund(self, reference: str, *, amount_minor: int, idempotency_key: str) -> RefundResult:
        if self._fault("unavailable"):
            raise GatewayUnavailable("sandbox: injected outage")
        payment = await self._payment(reference)
        if payment.status != "succeeded":
            raise GatewayRefused("sandbox: only a succeeded payment can be refunded")
        row = await self._insert_once(
            SandboxPayment(
                idempotency_key=idempotency_key,
                kind="refund",
                reference=f"re_sbx_{_digest(idempotency_key)}",
                amount_minor=amount_minor,
                status="succeeded",
                created_at=datetime.now(UTC),
            )
        )
        if self._fault("lose_response"):
            raise GatewayUnavailable("sandbox: injected lost response")
        return RefundResult(outcome="succeeded", reference=row.reference)

    @staticmethod
    async def succeeded_payments() -> int:
        """How many payments the sandbox has actually charged (for operators' checks and tests)."""
        return await SandboxPayment.count().where(
            (SandboxPayment.kind == "payment") & (SandboxPayment.status == "succeeded")
        )
