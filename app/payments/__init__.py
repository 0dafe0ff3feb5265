"""Payment gateways behind one protocol (``PaymentGateway``): a sandbox (default) and Stripe."""

from __future__ import annotations

from app.config import Settings
from app.payments.base import PaymentGateway


def gateway_for(settings: Settings) -> PaymentGateway:
    """The gateway the settings ask for (``PAYMENT_GATEWAY``)."""
    if settings.payment_gateway == "stripe":
        from app.payments.stripe_gateway import StripeGateway

        return StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base or None)
    from app.payments.sandbox import SandboxGateway

    return SandboxGateway.from_env()
