"""Dispute rules: what a cardholder's dispute is called on screen, and its states only moving forward. Pure.

Stripe's dispute moves (warning_)needs_response → (warning_)under_review → won | lost | warning_closed.
While any dispute of a client is not resumed by the practice owner, that client is not charged
automatically (the services hold the charge back; the owner taps "Resume charging").
"""

from __future__ import annotations

REASONS = {
    "fraudulent": "The cardholder says they didn't make this payment",
    "unrecognized": "The cardholder doesn't recognise the payment",
    "duplicate": "The cardholder says they were charged twice",
    "product_not_received": "The cardholder says the session didn't take place",
    "product_unacceptable": "The cardholder is unhappy with the service",
    "credit_not_processed": "The cardholder says a refund was promised but not made",
    "subscription_canceled": "The cardholder says they had stopped their sessions",
}

STATUSES = {
    "warning_needs_response": "Bank enquiry: waiting for your response",
    "warning_under_review": "Bank enquiry: under review",
    "warning_closed": "Bank enquiry closed",
    "needs_response": "Waiting for your response",
    "under_review": "Under review by the bank",
    "won": "Won: the money stays with the practice",
    "lost": "Lost: the money went back to the cardholder",
}

_RANK = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "warning_closed": 2,
    "won": 2,
    "lost": 2,
}


def reason_text(reason: str) -> str:
    """The dispute's reason in the practice's words ("general" and unknown reasons: a plain sentence)."""
    return REASONS.get(reason, "The cardholder disputed the payment with their bank")


def status_text(status: str) -> str:
    return STATUSES.get(status, status.replace("_", " ").capitalize() or "Opened")


def is_closed(status: str) -> bool:
    return _RANK.get(status, 0) == 2


def moves_forward(old: str, new: str) -> bool:
    """Whether a dispute recorded as ``old`` may be recorded as ``new`` (never back from a decision)."""
    return old != new and not is_closed(old) and _RANK.get(new, 0) >= _RANK.get(old, 0)
