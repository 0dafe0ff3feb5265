"""Fee rules without a database: amounts, grace, exemptions, the agreement, the cancel screen's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain import fees
from app.domain.statuses import ChargeKind as K
from tests.conftest import START

POLICY = fees.FeePolicy(
    window_hours=48,
    late_cancel=fees.FeeRule(amount_minor=7500),
    no_show=fees.FeeRule(percent=100),
    free_late_cancels=1,
)
TEXT = fees.policy_text("Calm Waters", POLICY)
VERSION = fees.text_version(TEXT)


def decide(kind=K.LATE_CANCEL_FEE, policy=POLICY, **overrides):
    arguments = {"current_version": VERSION, "agreed_versions": [VERSION], "at": START}
    arguments["earlier_late_cancels"] = [START - timedelta(days=30)]
    arguments.update(overrides)
    return fees.decide_fee(kind, policy, 15000, **arguments)


def test_each_status_carries_one_kind_of_charge():
    assert fees.kind_for_status("occurred") == K.SESSION
    assert fees.kind_for_status("late_cancelled") == K.LATE_CANCEL_FEE
    assert fees.kind_for_status("no_show") == K.NO_SHOW_FEE
    assert fees.kind_for_status("scheduled") is None
    assert fees.kind_for_status("cancelled") is None
    assert fees.kind_for_status("nonsense") is None


def test_a_fee_is_an_amount_or_a_percentage_of_the_session_fee():
    assert fees.FeeRule(amount_minor=7500).amount(15000) == 7500
    assert fees.FeeRule(percent=50).amount(15000) == 7500
    assert fees.FeeRule(percent=33).amount(10001) == 3300
    assert fees.FeeRule(percent=50).amount(1) == 1  # half a cent rounds up
    assert fees.FeeRule().amount(15000) == 0
    assert fees.FeeRule(amount_minor=-5).amount(15000) == 0
    assert fees.percent_problem(101) == "A percentage must be between 0 and 100."
    assert fees.percent_problem(-1)
    assert fees.percent_problem(0) is None
    assert fees.percent_problem(100) is None


@given(st.integers(min_value=0, max_value=10_000_000), st.integers(min_value=0, max_value=100))
def test_a_percentage_fee_never_exceeds_the_session_fee(session_fee, percent):
    amount = fees.FeeRule(percent=percent).amount(session_fee)
    assert 0 <= amount <= session_fee
    assert abs(amount * 100 - session_fee * percent) <= 50


def test_a_late_cancel_after_a_free_one_owes_the_fee():
    decision = decide()
    assert decision.charged
    assert decision.amount_minor == 7500
    assert decision.reason is None
    assert decide(K.NO_SHOW_FEE).amount_minor == 15000


def test_grace_waives_the_first_late_cancel_in_twelve_months_and_says_why():
    decision = decide(earlier_late_cancels=[])
    assert not decision.charged
    assert decision.reason == "No fee: a free late cancel under the practice's grace rule."
    # one more than a year ago does not use up this year's free one
    assert not decide(earlier_late_cancels=[START - timedelta(days=400)]).charged
    # grace is for late cancels; a no-show is charged
    assert decide(K.NO_SHOW_FEE, earlier_late_cancels=[]).charged


def test_an_exempt_client_owes_no_fee_and_the_reason_is_given():
    decision = decide(exemption_reason="Medicaid plan")
    assert not decision.charged
    assert decision.reason == "No fee: the client is exempt (Medicaid plan)."


def test_a_client_who_did_not_agree_to_the_current_policy_owes_no_fee():
    changed = fees.FeePolicy(48, fees.FeeRule(amount_minor=9000), fees.FeeRule(percent=100), 1)
    new_version = fees.text_version(fees.policy_text("Calm Waters", changed))
    assert new_version != VERSION
    decision = decide(policy=changed, current_version=new_version, agreed_versions=[VERSION])
    assert not decision.charged
    assert decision.reason == "No fee: the client has not agreed to the current fee policy."
    assert not decide(agreed_versions=[]).charged
    assert not decide(current_version=None).charged


def test_no_fee_set_means_no_fee():
    free = fees.FeePolicy(48, fees.FeeRule(), fees.FeeRule(percent=0))
    assert decide(policy=free) == fees.FeeDecision(K.LATE_CANCEL_FEE, 0)
    assert decide(K.NO_SHOW_FEE, policy=free) == fees.FeeDecision(K.NO_SHOW_FEE, 0)
    assert not decide(policy=None).charged


@given(
    st.sampled_from([K.LATE_CANCEL_FEE, K.NO_SHOW_FEE]),
    st.lists(st.text(min_size=1, max_size=5), max_size=3),
    st.booleans(),
)
def test_no_fee_is_ever_owed_under_a_version_the_client_did_not_agree_to(kind, agreed, exempt):
    decision = decide(kind, agreed_versions=agreed, exemption_reason="plan" if exempt else None)
    if decision.charged:
        assert VERSION in agreed and not exempt


def test_the_policy_text_names_the_window_and_both_fees_and_its_version_follows_the_words():
    assert TEXT == (
        "Calm Waters asks for 48 hours' notice to cancel a session. Cancelling later costs $75.00; "
        "missing a session without cancelling costs 100% of the session fee. Your first late cancel in "
        "any 12 months carries no fee. Fees are charged to the card on file after the same delay as a "
        "session and can be waived."
    )
    assert fees.text_version(TEXT) == fees.text_version(fees.policy_text("Calm Waters", POLICY))
    assert fees.needs_agreement(VERSION, ["older"])
    assert not fees.needs_agreement(VERSION, ["older", VERSION])
    assert not fees.needs_agreement(None, [])


def test_the_cancel_screen_states_the_exact_fee_before_confirming():
    assert fees.cancel_notice(decide(), "USD") == (
        "Cancelling now is inside the cancellation window: a late-cancel fee of $75.00 will be charged "
        "to your card on file."
    )
    assert fees.cancel_notice(decide(earlier_late_cancels=[])) == "Cancelling now carries no fee."


def test_a_no_fee_reschedule_offers_open_slots_later_in_the_same_week():
    monday = START - timedelta(days=START.weekday())
    session = monday + timedelta(days=2, hours=10)
    slots = [
        monday + timedelta(hours=9),  # same week, already past
        session,
        monday + timedelta(days=4, hours=14),
        monday + timedelta(days=3, hours=9),
        monday + timedelta(days=7, hours=9),  # next week
    ]
    offered = fees.same_week_slots(slots, session, now=monday + timedelta(days=1))
    assert offered == [monday + timedelta(days=3, hours=9), monday + timedelta(days=4, hours=14)]


def test_the_free_moves_are_a_few_per_day():
    monday = datetime(2026, 11, 30, 14, tzinfo=UTC)
    slots = [monday + timedelta(hours=h) for h in range(5)] + [monday + timedelta(days=1)]
    assert fees.few_per_day(slots, "America/New_York", per_day=2) == [slots[0], slots[1], slots[5]]
