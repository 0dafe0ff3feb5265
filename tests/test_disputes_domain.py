"""Dispute rules without a database: the practice's words for a dispute, and states only moving forward."""

from __future__ import annotations

from app.domain import disputes as rules


def test_a_dispute_reads_in_the_practices_words():
    assert rules.reason_text("fraudulent") == "The cardholder says they didn't make this payment"
    assert rules.reason_text("general") == rules.reason_text("something_new")
    assert rules.status_text("needs_response") == "Waiting for your response"
    assert rules.status_text("lost").startswith("Lost")
    assert rules.status_text("brand_new_state") == "Brand new state"


def test_a_dispute_only_moves_forward_and_a_decision_is_final():
    assert rules.moves_forward("needs_response", "under_review")
    assert rules.moves_forward("under_review", "won")
    assert rules.moves_forward("warning_needs_response", "needs_response")
    assert not rules.moves_forward("under_review", "needs_response")
    assert not rules.moves_forward("won", "lost") and not rules.moves_forward("lost", "needs_response")
    assert not rules.moves_forward("won", "won")
    assert rules.is_closed("warning_closed") and not rules.is_closed("needs_response")
