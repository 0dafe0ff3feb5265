"""The Stripe gateway, through the official ``stripe`` package.

Cards are saved with a SetupIntent (``usage=off_session``) on a Stripe customer; a charge is a
PaymentIntent created without confirming (its id is stored by the caller) and then confirmed
off-session. Every POST carries an idempotency key derived from the charge's stored key, because the
SDK would otherwise invent a new one per call. Timeouts and network retries are explicit: 20 s per
try, 2 SDK retries with the same key, well inside the worker's job timeout.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import stripe

from app.payments.base import (
    NOT_CONFIRMED,
    CardRejected,
    DisputeInfo,
    GatewayRefused,
    GatewayUnavailable,
    PaymentRecord,
    PaymentResult,
    RefundResult,
    SavedCard,
)


class EventRefused(Exception):
    """A webhook delivery whose signature or body does not check out."""


def verified_event(payload: bytes, signature: str, secret: str) -> dict[str, Any]:
    """The event of a webhook delivery, once its ``Stripe-Signature`` proves Stripe sent it."""
    try:
        stripe.Webhook.construct_event(payload, signature, secret)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise EventRefused(str(exc)) from exc
    if not isinstance(event, dict) or not event.get("id") or not isinstance(event.get("data"), dict):
        raise EventRefused("not an event")
    return event


def _saved_card(method: Any, customer: str) -> SavedCard:
    card = method.card
    return SavedCard(
        customer_ref=customer,
        method_ref=method.id,
        brand=(card.brand or "card").title(),
        last4=card.last4,
        exp_month=int(card.exp_month),
        exp_year=int(card.exp_year),
    )


TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def _failure_code(error: Any) -> str:
    if not error:
        return ""
    get = error.get if isinstance(error, dict) else lambda k, d=None: getattr(error, k, d)
    return get("decline_code", None) or get("code", None) or "card_declined"


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout: float = 20,
        max_network_retries: int = 2,
    ) -> None:
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=timeout),
            max_network_retries=max_network_retries,
        )

    async def _call(self, coroutine):
        try:
            return await coroutine
        except TRANSIENT as exc:
            raise GatewayUnavailable(f"stripe: {type(exc).__name__}") from exc
        except stripe.IdempotencyError as exc:
            raise GatewayRefused(f"stripe: idempotency error: {exc.user_message or exc}") from exc

    async def create_customer(self, *, idempotency_key: str, user_id: int) -> str:
        customer = await self._call(
            self.client.v1.customers.create_async(
                {"metadata": {"user_id": str(user_id)}}, {"idempotency_key": idempotency_key}
            )
        )
        return customer.id

    async def start_card_setup(self, customer_ref: str, *, idempotency_key: str) -> tuple[str, str]:
        """A SetupIntent for saving a card for later off-session use: (id, client secret for Stripe.js)."""
        intent = await self._call(
            self.client.v1.setup_intents.create_async(
                {"customer": customer_ref, "usage": "off_session", "payment_method_types": ["card"]},
                {"idempotency_key": idempotency_key},
            )
        )
        return intent.id, intent.client_secret or ""

    async def finish_card_setup(self, setup_intent_id: str) -> SavedCard:
        """Read back a confirmed SetupIntent: the card's references, brand, last four and expiry."""
        try:
            intent = await self._call(self.client.v1.setup_intents.retrieve_async(setup_intent_id))
        except stripe.InvalidRequestError as exc:
            raise CardRejected(NOT_CONFIRMED, code="no_such_setup") from exc
        if intent.status != "succeeded" or not intent.payment_method:
            raise CardRejected(NOT_CONFIRMED)
        method_id = (
            intent.payment_method if isinstance(intent.payment_method, str) else intent.payment_method.id
        )
        method = await self._call(self.client.v1.payment_methods.retrieve_async(method_id))
        customer = intent.customer if isinstance(intent.customer, str) else intent.customer.id
        return _saved_card(method, customer)

    async def get_card(self, method_ref: str) -> SavedCard | None:
        """Stripe's current record of a saved card (its new expiry after an update); None once detached."""
        try:
            method = await self._call(self.client.v1.payment_methods.retrieve_async(method_ref))
        except stripe.InvalidRequestError:
            return None
        customer = method.customer if isinstance(method.customer, str) else getattr(method.customer, "id", "")
        return _saved_card(method, customer) if customer else None

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
        intent = await self._call(
            self.client.v1.payment_intents.create_async(
                {
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "customer": customer_ref,
                    "payment_method": method_ref,
                    "payment_method_types": ["card"],
                    "metadata": {"charge_id": str(charge_id)},
                },
                {"idempotency_key": idempotency_key},
            )
        )
        return intent.id

    @staticmethod
    def _result(intent: Any) -> PaymentResult:
        status = intent.status
        error = getattr(intent, "last_payment_error", None)
        code = _failure_code(error)
        if status == "succeeded":
            return PaymentResult("succeeded", intent.id)
        if status == "requires_action" or (
            status == "requires_payment_method" and code == "authentication_required"
        ):
            return PaymentResult("requires_action", intent.id, "authentication_required")
        if status == "requires_payment_method" and error:
            return PaymentResult("failed", intent.id, code, getattr(error, "message", "") or "")
        if status == "canceled":
            return PaymentResult("failed", intent.id, "canceled")
        if status == "processing":
            raise GatewayUnavailable("stripe: payment still processing")
        return PaymentResult("pending", intent.id)

    async def confirm_payment(self, reference: str, *, idempotency_key: str) -> PaymentResult:
        try:
            intent = await self._call(
                self.client.v1.payment_intents.confirm_async(
                    reference, {"off_session": True}, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.CardError as exc:
            code = _failure_code(exc.error) if exc.error else (exc.code or "card_declined")
            if code == "authentication_required" or exc.code == "authentication_required":
                return PaymentResult("requires_action", reference, "authentication_required")
            return PaymentResult("failed", reference, code, exc.user_message or "")
        except stripe.InvalidRequestError as exc:
            raise GatewayRefused(f"stripe: {exc.user_message or exc}") from exc
        return self._result(intent)

    async def confirmation_secret(self, reference: str) -> str:
        """The client secret Stripe.js needs to let the cardholder confirm this payment with their bank."""
        try:
            intent = await self._call(self.client.v1.payment_intents.retrieve_async(reference))
        except stripe.InvalidRequestError as exc:
            raise GatewayRefused(f"stripe: {exc.user_message or exc}") from exc
        return intent.client_secret or ""

    async def cancel_payment(self, reference: str, *, idempotency_key: str) -> str:
        """Cancel a payment not taken (one waiting for the cardholder): Stripe's status afterwards."""
        try:
            intent = await self._call(
                self.client.v1.payment_intents.cancel_async(
                    reference, {}, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.InvalidRequestError:  # already cancelled, or taken meanwhile
            intent = await self._call(self.client.v1.payment_intents.retrieve_async(reference))
        return intent.status

    async def get_payment(self, reference: str) -> PaymentResult:
        try:
            intent = await self._call(self.client.v1.payment_intents.retrieve_async(reference))
        except stripe.InvalidRequestError as exc:
            raise GatewayRefused(f"stripe: {exc.user_message or exc}") from exc
        return self._result(intent)

    async def refund(self, reference: str, *, amount_minor: int, idempotency_key: str) -> RefundResult:
        try:
            refund = await self._call(
                self.client.v1.refunds.create_async(
                    {"payment_intent": reference, "amount": amount_minor},
                    {"idempotency_key": idempotency_key},
                )
            )
        except stripe.InvalidRequestError as exc:
            raise GatewayRefused(f"stripe: {exc.user_message or exc}") from exc
        outcome = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(
            refund.status, "pending"
        )
        return RefundResult(outcome, refund.id, getattr(refund, "failure_reason", "") or "")  # type: ignore[arg-type]

    async def get_dispute(self, reference: str) -> DisputeInfo:
        """Stripe's current record of a dispute (a webhook's snapshot may be older than another's)."""
        try:
            dispute = await self._call(self.client.v1.disputes.retrieve_async(reference))
        except stripe.InvalidRequestError as exc:
            raise GatewayRefused(f"stripe: {exc.user_message or exc}") from exc
        intent = dispute.payment_intent
        evidence = getattr(dispute, "evidence_details", None)
        due_by = getattr(evidence, "due_by", None) if evidence else None
        return DisputeInfo(
            reference=dispute.id,
            payment_reference=(intent if isinstance(intent, str) else getattr(intent, "id", "")) or "",
            amount_minor=int(dispute.amount),
            currency=(dispute.currency or "usd").upper(),
            reason=dispute.reason or "",
            status=dispute.status or "",
            respond_by=datetime.fromtimestamp(int(due_by), UTC) if due_by else None,
        )

    async def list_payments(self, *, since: datetime | None) -> list[PaymentRecord]:
        """Every PaymentIntent created since ``since`` (all pages), for reconciliation."""
        params: dict[str, Any] = {"limit": 100}
        if since is not None:
            params["created"] = {"gte": int(since.timestamp())}
        page = await self._call(self.client.v1.payment_intents.list_async(params))
        records = []
        async for intent in page.auto_paging_iter():
            try:
                outcome = self._result(intent).outcome
            except GatewayUnavailable:  # still processing at Stripe
                outcome = "pending"
            metadata = intent.metadata.to_dict() if intent.metadata else {}
            charge_id = metadata.get("charge_id", "")
            records.append(
                PaymentRecord(
                    intent.id,
                    int(charge_id) if str(charge_id).isdigit() else None,
                    outcome,
                    int(intent.amount),
                )
            )
        return records
