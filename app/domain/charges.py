"""Charge rules (R4, R10): the charge state machine, the amount, keys and failure reasons. Pure.

A charge moves scheduled → processing → succeeded | failed | requires_action; requires_action →
succeeded when the cardholder confirms the payment with their bank (3-D Secure); scheduled, failed and
requires_action can be cancelled (session un-marked) or waived (clinician); failed and requires_action
can be scheduled again (new card, "Retry charge"); succeeded → partially_refunded → refunded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.statuses import BillingType
from app.domain.statuses import ChargeStatus as C

TRANSITIONS: dict[C, frozenset[C]] = {
    C.SCHEDULED: frozenset({C.PROCESSING, C.CANCELLED, C.WAIVED, C.SCHEDULED}),
    C.PROCESSING: frozenset({C.SUCCEEDED, C.FAILED, C.REQUIRES_ACTION}),
    C.FAILED: frozenset({C.SCHEDULED, C.CANCELLED, C.WAIVED}),
    C.REQUIRES_ACTION: frozenset({C.SCHEDULED, C.CANCELLED, C.WAIVED, C.SUCCEEDED}),
    C.CANCELLED: frozenset({C.SCHEDULED}),
    C.WAIVED: frozenset(),
    C.SUCCEEDED: frozenset({C.PARTIALLY_REFUNDED, C.REFUNDED}),
    C.PARTIALLY_REFUNDED: frozenset({C.PARTIALLY_REFUNDED, C.REFUNDED}),
    C.REFUNDED: frozenset(),
}


def _into(target: C) -> frozenset[C]:
    """The states from which a charge may move to ``target``."""
    return frozenset(state for state, after in TRANSITIONS.items() if target in after)


def reachable_from(status: C) -> frozenset[C]:
    """Every state a charge in ``status`` may be in later, through any number of transitions."""
    seen: set[C] = set()
    frontier = {status}
    while frontier:
        seen |= frontier
        frontier = {after for state in frontier for after in TRANSITIONS[state]} - seen
    return frozenset(seen)


# The sets the services use, all read off TRANSITIONS:
# a charge that has not touched the gateway yet, or whose last attempt ended: un-marking cancels it.
CANCELLABLE = _into(C.CANCELLED)
WAIVABLE = _into(C.WAIVED)
# an attempt that ended without the money: "Retry charge" (or a new card) schedules it again.
RETRYABLE = TRANSITIONS[C.PROCESSING] & _into(C.SCHEDULED)
# waiting for the cardholder to confirm the payment with their bank, off-session (3-D Secure).
CONFIRMABLE = _into(C.SUCCEEDED) - {C.PROCESSING}
# "needs your confirmation" is reminded once, this long after it began.
CONFIRMATION_REMINDER = timedelta(days=2)
REFUNDABLE = _into(C.REFUNDED)
# Money has moved (or may be moving): the session can't be un-marked until it is refunded.
BLOCKS_UNMARKING = frozenset({C.PROCESSING}) | REFUNDABLE
# Marking Occurred again re-activates a charge in these states (a waived or paid one stays as it is).
RESCHEDULABLE = frozenset(state for state, after in TRANSITIONS.items() if after == {C.SCHEDULED})

FAILURE_REASONS = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "authentication_required": "The card's bank asked the cardholder to confirm this payment.",
    "expired_card": "The card has expired.",
    "no_card": "There is no card on file.",
    "incorrect_cvc": "The card's security code was wrong.",
    "processing_error": "The card processor could not process the card.",
}


def can_transition(current: str, new: str) -> bool:
    try:
        return C(new) in TRANSITIONS[C(current)]
    except ValueError:
        return False


def charge_amount(billing_type: str, fee_minor: int, copay_minor: int | None) -> int:
    """The amount to charge for an occurred session: the fee (self-pay) or the copay (insurance).

    An insurance client without a copay on file owes nothing through the app (0): the clinician
    records the copay first. Never negative.
    """
    if billing_type == BillingType.INSURANCE:
        return max(0, copay_minor or 0)
    return max(0, fee_minor)


def due_at(marked_at: datetime, delay_seconds: int) -> datetime:
    return marked_at + timedelta(seconds=delay_seconds)


def idempotency_key(charge_id: int, attempt_no: int) -> str:
    """The gateway key of one attempt; stored on the charge before the first gateway call."""
    return f"charge:{charge_id}:attempt:{attempt_no}"


def job_id(charge_id: int, generation: int) -> str:
    """One arq job id per scheduling, so a re-marked charge is never deduplicated against an old job."""
    return f"charge:{charge_id}:{generation}"


def failure_reason(code: str) -> str:
    return FAILURE_REASONS.get(code, "The card could not be charged.")


def retry_delay(job_try: int) -> int:
    """Seconds before retrying after a transient gateway error: 10, 20, 40 … capped at 10 minutes."""
    return min(10 * 2 ** max(0, job_try - 1), 600)


def refundable_minor(amount_minor: int, refunded_minor: int) -> int:
    return max(0, amount_minor - refunded_minor)


def status_after_refund(amount_minor: int, refunded_minor: int) -> C:
    return C.REFUNDED if refunded_minor >= amount_minor else C.PARTIALLY_REFUNDED


def refund_problem(status: str, amount_minor: int, refunded_minor: int, requested: int | None) -> str | None:
    """Why this refund can't be made, or None."""
    if status not in REFUNDABLE:
        return "Only a paid charge can be refunded."
    left = refundable_minor(amount_minor, refunded_minor)
    if requested is None or requested <= 0:
        return "Enter an amount greater than zero."
    if requested > left:
        return "That is more than what is left to refund."
    return None


@dataclass(frozen=True)
class Countdown:
    """How long until a pending charge runs, in words a person reads at a glance ("in 2 days")."""

    seconds: int

    @property
    def text(self) -> str:
        return countdown_text(self.seconds)


def countdown_text(seconds: float) -> str:
    """ "in 2 days", "in 3 hours", "in 5 minutes"; "any moment now" once it is due (or under a minute).

    Whole units, rounded to the nearest (minutes up), so it never says "in 0 minutes"; the exact time
    is shown next to it.
    """
    if seconds < 60:
        return "any moment now"
    minutes = -(-int(seconds) // 60)
    if minutes < 60:
        return _in(minutes, "minute")
    hours = _nearest(seconds / 3600)
    if hours < 24:
        return _in(hours, "hour")
    return _in(_nearest(seconds / 86400), "day")


def _nearest(value: float) -> int:
    return int(value + 0.5)


def _in(count: int, unit: str) -> str:
    return f"in {count} {unit}{'s' if count != 1 else ''}"


def countdown(due: datetime, now: datetime) -> Countdown:
    return Countdown(int((due - now).total_seconds()))


# How often a screen showing a pending charge asks again, in seconds: often while the card is being
# charged (or about to be), less while the charge is days away; never once it has settled.
REFRESH_SOON = 3
REFRESH_WAITING = 15


def refresh_seconds(status: str, due: datetime | None, now: datetime) -> int | None:
    """Seconds until a screen showing this charge should look again; None when nothing will change
    by itself (paid, failed, waived, cancelled, refunded: only a person's action changes those)."""
    if status == C.PROCESSING:
        return REFRESH_SOON
    if status != C.SCHEDULED:
        return None
    if due is not None and (due - now).total_seconds() < 60:
        return REFRESH_SOON
    return REFRESH_WAITING


def soonest_refresh(charges: Iterable[tuple[str, datetime | None]], now: datetime) -> int | None:
    """For a screen listing several charges as (status, due): the shortest wait, or None."""
    waits = [wait for status, due in charges if (wait := refresh_seconds(status, due, now))]
    return min(waits, default=None)


def reconcile_action(our_status: C | None, same_reference: bool, their_outcome: str) -> str:
    """Comparing a payment at the gateway with our charge: "ok", "repair" (safe: the gateway took the
    money for the attempt we are still waiting on, so recording it is what the webhook would do) or
    "flag" (money and books disagree in a way a person must look at: a refund or a manual record)."""
    paid = our_status in REFUNDABLE or our_status == C.REFUNDED
    if their_outcome == "succeeded":
        if same_reference and paid:
            return "ok"
        if same_reference and (our_status == C.PROCESSING or our_status in CONFIRMABLE):
            return "repair"
        return "flag"
    return "flag" if same_reference and paid else "ok"
