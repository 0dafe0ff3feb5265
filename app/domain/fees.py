"""Late-cancel and no-show fee rules (R4): the amount, the grace rule, exemptions, the agreement. Pure.

A fee is owed only when the practice sets one for that kind, the client is not exempt, the client agreed
to the policy text in force (its version), and the grace rule does not waive it. Every "no fee" says why.
An appointment carries at most one charge, and its kind follows its status (``kind_for_status``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.practice import amount_problem, format_money, money_input, parse_money
from app.domain.statuses import AppointmentStatus as A
from app.domain.statuses import ChargeKind as K

MAX_PERCENT = 100
MAX_FREE_LATE_CANCELS = 12
GRACE_PERIOD = timedelta(days=365)

KIND_BY_STATUS = {A.OCCURRED: K.SESSION, A.LATE_CANCELLED: K.LATE_CANCEL_FEE, A.NO_SHOW: K.NO_SHOW_FEE}
STATUS_BY_KIND = {kind: status for status, kind in KIND_BY_STATUS.items()}
FEE_KINDS = frozenset({K.LATE_CANCEL_FEE, K.NO_SHOW_FEE})


def kind_for_status(status: str) -> K | None:
    """The one kind of charge an appointment in ``status`` may carry; None when it owes nothing."""
    try:
        return KIND_BY_STATUS.get(A(status))
    except ValueError:
        return None


@dataclass(frozen=True)
class FeeRule:
    """One fee: a fixed amount (minor units) or a whole percentage of the session fee; neither is no fee."""

    amount_minor: int | None = None
    percent: int | None = None

    def amount(self, session_fee_minor: int) -> int:
        """The fee in minor units; a percentage rounds half up, in integers (R10)."""
        if self.percent is not None:
            return (max(0, session_fee_minor) * self.percent + 50) // 100
        return max(0, self.amount_minor or 0)

    def describe(self, currency: str = "USD") -> str:
        if self.percent is not None:
            return f"{self.percent}% of the session fee"
        return format_money(self.amount_minor, currency) if self.amount_minor else "no fee"


def percent_problem(percent: int) -> str | None:
    """Why ``percent`` can't be a fee's percentage, or None."""
    if not 0 <= percent <= MAX_PERCENT:
        return f"A percentage must be between 0 and {MAX_PERCENT}."
    return None


def parse_fee(text: str, ceiling: int, currency: str = "USD") -> tuple[FeeRule, str | None]:
    """A fee as the owner types it: an amount ("75", "75.00") or a share of the session fee ("50%");
    blank or 0 is no fee. Returns the rule and, when the text can't be one, why."""
    raw = (text or "").strip()
    if raw.endswith("%"):
        digits = raw[:-1].strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 3:
            return FeeRule(), f"Enter a whole percentage like 50%, up to {MAX_PERCENT}%."
        percent = int(digits)
        return FeeRule(percent=percent or None), percent_problem(percent)
    amount = parse_money(raw) if raw else 0
    if amount is None:
        return FeeRule(), "Enter an amount like 75 or 75.00, or a percentage like 50%."
    problem = amount_problem(amount, ceiling, currency)
    return FeeRule(amount_minor=0 if problem else amount), problem


def fee_field(rule: FeeRule) -> str:
    """A fee as the settings form shows it (the reverse of ``parse_fee``)."""
    if rule.percent is not None:
        return f"{rule.percent}%"
    return money_input(rule.amount_minor or 0)


@dataclass(frozen=True)
class FeePolicy:
    """A practice's fee policy: the late-cancel window, both fees, how many late cancels a year are free."""

    window_hours: int
    late_cancel: FeeRule
    no_show: FeeRule
    free_late_cancels: int = 0
    note: str = ""

    def rule(self, kind: K) -> FeeRule:
        return self.late_cancel if kind == K.LATE_CANCEL_FEE else self.no_show


def policy_text(practice_name: str, policy: FeePolicy, currency: str = "USD") -> str:
    """The words a client agrees to; any change to the policy changes them (and so their version)."""
    who = practice_name or "Your therapy practice"
    grace = ""
    if policy.free_late_cancels:
        count = policy.free_late_cancels
        first = (
            "first late cancel in any 12 months carries"
            if count == 1
            else f"first {count} late cancels in any 12 months carry"
        )
        grace = f" Your {first} no fee."
    return (
        f"{who} asks for {policy.window_hours} hours' notice to cancel a session. "
        f"Cancelling later costs {policy.late_cancel.describe(currency)}; "
        f"missing a session without cancelling costs {policy.no_show.describe(currency)}.{grace} "
        "Fees are charged to the card on file after the same delay as a session and can be waived."
        + (f" {policy.note.strip()}" if policy.note.strip() else "")
    )


def text_version(text: str) -> str:
    """The version of a policy text: a short digest, so the same words always have the same version."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def needs_agreement(current_version: str | None, agreed_versions: Iterable[str]) -> bool:
    """Whether the client must agree (again) before their next booking: a policy they have not agreed to."""
    return current_version is not None and current_version not in set(agreed_versions)


def in_grace(earlier_late_cancels: Iterable[datetime], at: datetime, free_late_cancels: int) -> bool:
    """Whether a late cancel at ``at`` is one of the client's free ones in the 12 months before it."""
    recent = [when for when in earlier_late_cancels if at - GRACE_PERIOD < when < at]
    return len(recent) < free_late_cancels


@dataclass(frozen=True)
class FeeDecision:
    """The fee an appointment owes (0 for none) and, when a policy's fee is not charged, why."""

    kind: K
    amount_minor: int
    reason: str | None = None

    @property
    def charged(self) -> bool:
        return self.amount_minor > 0


def decide_fee(
    kind: K,
    policy: FeePolicy | None,
    session_fee_minor: int,
    *,
    current_version: str | None,
    agreed_versions: Iterable[str],
    exemption_reason: str | None = None,
    earlier_late_cancels: Iterable[datetime] = (),
    at: datetime,
) -> FeeDecision:
    """Whether a late cancel or no-show at ``at`` owes a fee, and how much; never under an unagreed policy."""
    amount = policy.rule(kind).amount(session_fee_minor) if policy else 0
    if amount <= 0:
        return FeeDecision(kind, 0)
    if exemption_reason:
        return FeeDecision(kind, 0, f"No fee: the client is exempt ({exemption_reason}).")
    if current_version is None or needs_agreement(current_version, agreed_versions):
        return FeeDecision(kind, 0, "No fee: the client has not agreed to the current fee policy.")
    if kind == K.LATE_CANCEL_FEE and in_grace(earlier_late_cancels, at, policy.free_late_cancels):
        return FeeDecision(kind, 0, "No fee: a free late cancel under the practice's grace rule.")
    return FeeDecision(kind, amount)


def cancel_notice(decision: FeeDecision, currency: str = "USD") -> str:
    """What the portal's cancel screen says before the client confirms: the exact fee, or none."""
    if decision.charged:
        return (
            f"Cancelling now is inside the cancellation window: a late-cancel fee of "
            f"{format_money(decision.amount_minor, currency)} will be charged to your card on file."
        )
    return "Cancelling now carries no fee."


def same_week_slots(slots: Iterable[datetime], starts_at: datetime, now: datetime) -> list[datetime]:
    """Open slots in the same week (Monday to Sunday) as the session, still ahead: the no-fee reschedule."""
    week = starts_at.isocalendar()[:2]
    return sorted(
        slot for slot in slots if slot > now and slot != starts_at and slot.isocalendar()[:2] == week
    )


def few_per_day(slots: Iterable[datetime], zone: str, per_day: int = 3) -> list[datetime]:
    """The first ``per_day`` of each local day's slots: a short list to choose from on a phone."""
    taken: dict[object, int] = {}
    chosen = []
    for slot in sorted(slots):
        day = slot.astimezone(ZoneInfo(zone)).date()
        if taken.get(day, 0) < per_day:
            taken[day] = taken.get(day, 0) + 1
            chosen.append(slot)
    return chosen
