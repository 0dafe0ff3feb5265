"""The card-expiry warning rule: a card works through its expiry month, whose first day starts the warning."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.card_expiry import expires_at, expiry_text, warning_due


def test_a_card_works_through_the_last_day_of_its_expiry_month():
    assert expires_at(4, 2031) == datetime(2031, 5, 1, tzinfo=UTC)
    assert expires_at(12, 2031) == datetime(2032, 1, 1, tzinfo=UTC)


def test_the_warning_is_due_during_the_expiry_month_only():
    assert not warning_due(4, 2031, datetime(2031, 3, 31, 23, 59, tzinfo=UTC))
    assert warning_due(4, 2031, datetime(2031, 4, 1, tzinfo=UTC))
    assert warning_due(4, 2031, datetime(2031, 4, 30, 23, 59, tzinfo=UTC))
    assert not warning_due(4, 2031, datetime(2031, 5, 1, tzinfo=UTC))  # already expired: nothing to warn
    assert warning_due(12, 2031, datetime(2031, 12, 15, tzinfo=UTC))


def test_the_expiry_reads_as_printed_on_the_card():
    assert expiry_text(4, 2031) == "04/2031"
