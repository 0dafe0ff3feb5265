"""The gateway protocol the charging service talks to.

A payment is two steps, each with its own idempotency key derived from the charge's stored key:
``create_payment`` (nothing is charged yet; returns the gateway's reference, which the caller
stores) and ``confirm_payment`` (charges the saved card off-session). ``get_payment`` reads the
current state of a stored reference, so an attempt whose outcome was lost is reconciled from the
gateway's record rather than by charging again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Outcome = Literal["pending", "succeeded", "failed", "requires_action"]


class GatewayUnavailable(Exception):
    """A transient problem (network, timeout, 5xx, rate limit): retry later with the same key."""


class GatewayRefused(Exception):
    """A permanent problem with the request itself (bad reference, misconfiguration)."""


NOT_CONFIRMED = "The card was not confirmed. Try again or use another card."


class CardRejected(Exception):
    """The card details could not be saved; ``message`` is for the cardholder."""

    def __init__(self, message: str, code: str = "card_rejected") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class PaymentResult:
    outcome: Outcome
    reference: str
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class SavedCard:
    """What we keep about a card: the gateway's references, brand, last four and expiry."""

    customer_ref: str
    method_ref: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class RefundResult:
    outcome: Literal["succeeded", "pending", "failed"]
    reference: str
    failure_code: str = ""


@dataclass(frozen=True)
class DisputeInfo:
    """The gateway's current record of a cardholder's dispute of a payment."""

    reference: str
    payment_reference: str
    amount_minor: int
    currency: str
    reason: str
    status: str
    respond_by: datetime | None


@dataclass(frozen=True)
class PaymentRecord:
    """One payment as the gateway records it, with our charge's id from its metadata (None if absent)."""

    reference: str
    charge_id: int | None
    outcome: Outcome
    amount_minor: int


class PaymentGateway(Protocol):
    name: str

    async def create_customer(self, *, idempotency_key: str, user_id: int) -> str: ...

    async def create_payment(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_ref: str,
        method_ref: str,
        idempotency_key: str,
        charge_id: int,
    ) -> str: ...

    async def confirm_payment(self, reference: str, *, idempotency_key: str) -> PaymentResult: ...

    async def get_payment(self, reference: str) -> PaymentResult: ...

    async def cancel_payment(self, reference: str, *, idempotency_key: str) -> str: ...

    async def confirmation_secret(self, reference: str) -> str: ...

    async def refund(self, reference: str, *, amount_minor: int, idempotency_key: str) -> RefundResult: ...

    async def get_dispute(self, reference: str) -> DisputeInfo: ...

    async def list_payments(self, *, since: datetime | None) -> list[PaymentRecord]: ...
