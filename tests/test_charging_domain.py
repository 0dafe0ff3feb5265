"""Charge rules without a database: amounts, the state machine, keys, refunds, the countdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C


def test_self_pay_is_charged_the_session_fee_and_insurance_the_copay():
    assert rules.charge_amount("self_pay", 15000, 2500) == 15000
    assert rules.charge_amount("insurance", 15000, 2500) == 2500
    assert rules.charge_amount("insurance", 15000, None) == 0
    assert rules.charge_amount("self_pay", -5, None) == 0


def test_charge_state_machine():
    assert rules.can_transition(C.SCHEDULED, C.PROCESSING)
    assert rules.can_transition(C.PROCESSING, C.SUCCEEDED)
    assert rules.can_transition(C.FAILED, C.SCHEDULED)
    assert rules.can_transition(C.SUCCEEDED, C.REFUNDED)
    assert not rules.can_transition(C.SUCCEEDED, C.PROCESSING)
    assert not rules.can_transition(C.PROCESSING, C.CANCELLED)
    assert not rules.can_transition(C.WAIVED, C.SCHEDULED)
    assert not rules.can_transition(C.REFUNDED, C.SUCCEEDED)
    assert not rules.can_transition("nonsense", C.SCHEDULED)
    # nothing that may have moved money can be cancelled by un-marking
    assert rules.CANCELLABLE.isdisjoint(rules.BLOCKS_UNMARKING)
    for status in rules.CANCELLABLE:
        assert rules.can_transition(status, C.CANCELLED)


def test_the_sets_the_services_use_are_read_off_the_state_machine():
    assert rules.CANCELLABLE == rules.WAIVABLE == {C.SCHEDULED, C.FAILED, C.REQUIRES_ACTION}
    assert {C.FAILED, C.REQUIRES_ACTION} == rules.RETRYABLE
    assert {C.SUCCEEDED, C.PARTIALLY_REFUNDED} == rules.REFUNDABLE
    assert {C.PROCESSING, C.SUCCEEDED, C.PARTIALLY_REFUNDED} == rules.BLOCKS_UNMARKING
    assert {C.CANCELLED} == rules.RESCHEDULABLE
    assert rules.reachable_from(C.WAIVED) == {C.WAIVED}
    assert C.SCHEDULED not in rules.reachable_from(C.SUCCEEDED)


def test_due_time_keys_and_job_ids():
    marked = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    assert rules.due_at(marked, 172800) == marked + timedelta(hours=48)
    assert rules.idempotency_key(7, 2) == "charge:7:attempt:2"
    assert rules.job_id(7, 1) != rules.job_id(7, 2)


def test_refund_rules():
    assert rules.refund_problem(C.SUCCEEDED, 15000, 0, 15000) is None
    assert rules.refund_problem(C.PARTIALLY_REFUNDED, 15000, 5000, 10000) is None
    assert (
        rules.refund_problem(C.PARTIALLY_REFUNDED, 15000, 5000, 10001)
        == "That is more than what is left to refund."
    )
    assert rules.refund_problem(C.SCHEDULED, 15000, 0, 100) == "Only a paid charge can be refunded."
    assert rules.refund_problem(C.SUCCEEDED, 15000, 0, 0) == "Enter an amount greater than zero."
    assert rules.status_after_refund(15000, 15000) == C.REFUNDED
    assert rules.status_after_refund(15000, 100) == C.PARTIALLY_REFUNDED


def test_countdown_and_backoff():
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert rules.countdown(now + timedelta(hours=47, minutes=59), now).text == "in 2 days"
    assert rules.countdown(now + timedelta(minutes=5), now).text == "in 5 minutes"
    assert rules.countdown(now - timedelta(minutes=1), now).text == "any moment now"
    assert [rules.retry_delay(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert rules.retry_delay(50) == 600
    assert "declined" in rules.failure_reason("card_declined")
    assert rules.failure_reason("something_new") == "The card could not be charged."


def test_countdown_says_something_true_at_every_distance():
    hour, day = 3600, 86400
    said = {
        2 * day: "in 2 days",
        2 * day - 60: "in 2 days",
        day + 13 * hour: "in 2 days",
        day + 11 * hour: "in 1 day",
        day: "in 1 day",
        23 * hour + 40 * 60: "in 1 day",
        3 * hour: "in 3 hours",
        3 * hour + 20 * 60: "in 3 hours",
        hour: "in 1 hour",
        59 * 60 + 50: "in 1 hour",
        59 * 60: "in 59 minutes",
        5 * 60: "in 5 minutes",
        61: "in 2 minutes",
        60: "in 1 minute",
        59: "any moment now",
        1: "any moment now",
        0: "any moment now",
        -3 * hour: "any moment now",
    }
    assert {seconds: rules.countdown_text(seconds) for seconds in said} == said
    assert not any("in 0" in rules.countdown_text(s) for s in range(-120, 3 * 86400, 7))


def test_a_screen_asks_again_only_while_the_charge_can_change_by_itself():
    now = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert rules.refresh_seconds(C.SCHEDULED, now + timedelta(days=2), now) == rules.REFRESH_WAITING
    assert rules.refresh_seconds(C.SCHEDULED, now + timedelta(seconds=30), now) == rules.REFRESH_SOON
    assert rules.refresh_seconds(C.SCHEDULED, now - timedelta(minutes=5), now) == rules.REFRESH_SOON
    assert rules.refresh_seconds(C.PROCESSING, now - timedelta(minutes=5), now) == rules.REFRESH_SOON
    settled = [C.SUCCEEDED, C.FAILED, C.REQUIRES_ACTION, C.WAIVED, C.CANCELLED, C.REFUNDED]
    assert [rules.refresh_seconds(s, now, now) for s in settled] == [None] * len(settled)
    assert rules.REFRESH_SOON < rules.REFRESH_WAITING <= 60
    listed = [(C.SUCCEEDED, now), (C.SCHEDULED, now + timedelta(days=2)), (C.PROCESSING, now)]
    assert rules.soonest_refresh(listed, now) == rules.REFRESH_SOON
    assert rules.soonest_refresh(listed[:2], now) == rules.REFRESH_WAITING
    assert rules.soonest_refresh(listed[:1], now) is None
