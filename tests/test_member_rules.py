"""What each role in a practice may do (R12), as pure rules: the table the services and pages rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.members import (
    Ability,
    ClientAccess,
    FutureSessions,
    MemberRole,
    MemberState,
    RemovalPlan,
    calendar_to_work_in,
    client_access,
    current_practice,
    may,
    member_state,
    removal_problem,
)

OWNER, CLINICIAN, FRONT_DESK = MemberRole.OWNER, MemberRole.CLINICIAN, MemberRole.FRONT_DESK
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

# role -> the practice-wide abilities it has; everything not listed is refused.
EXPECTED = {
    OWNER: set(Ability),
    CLINICIAN: {Ability.REFUND, Ability.SEE_CLINICAL_DETAILS},
    FRONT_DESK: {Ability.SEE_EVERY_CALENDAR, Ability.BOOK_FOR_ANY_CLINICIAN},
}


@pytest.mark.parametrize("role", list(MemberRole))
@pytest.mark.parametrize("ability", list(Ability))
def test_each_role_has_exactly_its_abilities(role, ability):
    assert may(role, ability) is (ability in EXPECTED[role])


@pytest.mark.parametrize(
    ("role", "mine", "assigned", "shared", "expected"),
    [
        (OWNER, 1, 2, (), ClientAccess.FULL),
        (OWNER, None, 2, (), ClientAccess.FULL),
        (CLINICIAN, 2, 2, (), ClientAccess.FULL),
        (CLINICIAN, 3, 2, (), ClientAccess.NONE),
        (CLINICIAN, 3, 2, (3,), ClientAccess.FULL),
        (CLINICIAN, 3, 2, (4,), ClientAccess.NONE),
        (CLINICIAN, None, 2, (), ClientAccess.NONE),
        (FRONT_DESK, None, 2, (), ClientAccess.BOOKING),
        (FRONT_DESK, None, 2, (9,), ClientAccess.BOOKING),
    ],
)
def test_how_much_of_a_client_each_member_sees(role, mine, assigned, shared, expected):
    assert (
        client_access(role, my_clinician_id=mine, assigned_clinician_id=assigned, shared_with=shared)
        is expected
    )


def test_a_member_s_state_follows_the_invitation_then_acceptance_then_removal():
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(seconds=1)
    assert (
        member_state(accepted_at=None, removed_at=None, invitation_expires_at=later, now=NOW)
        is MemberState.INVITED
    )
    assert (
        member_state(accepted_at=None, removed_at=None, invitation_expires_at=earlier, now=NOW)
        is MemberState.INVITATION_EXPIRED
    )
    assert (
        member_state(accepted_at=None, removed_at=None, invitation_expires_at=None, now=NOW)
        is MemberState.INVITATION_EXPIRED
    )
    assert (
        member_state(accepted_at=NOW, removed_at=None, invitation_expires_at=None, now=NOW)
        is MemberState.ACTIVE
    )
    assert (
        member_state(accepted_at=NOW, removed_at=NOW, invitation_expires_at=later, now=NOW)
        is MemberState.REMOVED
    )


def test_removing_a_member_needs_an_explicit_choice_for_future_sessions():
    colleagues = [1, 2, 3]

    def problem(role=CLINICIAN, future=True, plan=RemovalPlan(None)):
        return removal_problem(
            role=role, has_future_sessions=future, plan=plan, removed_clinician_id=2, colleague_ids=colleagues
        )

    assert problem(role=OWNER) == "The practice's owner can't be removed."
    assert problem(future=False) is None
    assert problem(role=FRONT_DESK, future=False) is None
    assert "Choose what happens" in problem()
    assert problem(plan=RemovalPlan(FutureSessions.CANCEL)) is None
    assert problem(plan=RemovalPlan(FutureSessions.REASSIGN, 1)) is None
    for target in (None, 2, 99):
        assert "Choose a clinician of this practice" in problem(
            plan=RemovalPlan(FutureSessions.REASSIGN, target)
        )


def test_the_practice_a_person_works_in_now():
    assert current_practice([], 4) is None
    assert current_practice([5, 3], None) == 5
    assert current_practice([5, 3], 3) == 3
    assert current_practice([5, 3], 9) == 5  # removed from the one they had switched to


def test_the_front_desk_never_sees_clinical_details_nor_refunds_nor_runs_the_practice():
    for ability in (
        Ability.SEE_CLINICAL_DETAILS,
        Ability.REFUND,
        Ability.MANAGE_MEMBERS,
        Ability.READ_PRACTICE_REPORT,
        Ability.READ_PRACTICE_AUDIT,
    ):
        assert not may(FRONT_DESK, ability)


def test_whose_calendar_a_member_who_sees_every_calendar_works_in():
    assert calendar_to_work_in(1, [1, 2, 3], 2) == 2
    assert calendar_to_work_in(1, [1, 3], 2) == 1  # the colleague left: back to their own
    assert calendar_to_work_in(None, [3, 1], None) == 3  # the front desk: the first clinician's
    assert calendar_to_work_in(None, [], None) is None


def test_the_front_desk_s_contact_edit_names_what_changed_and_keeps_a_login_s_address():
    from app.domain.clients import contact_changes, email_change_problem

    before = {"name": "Alex", "email": "a@example.test", "phone": ""}
    assert contact_changes(before, dict(before)) == []
    assert contact_changes(before, {**before, "phone": "555", "name": "Alex R"}) == ["name", "phone"]
    assert email_change_problem(changed=True, has_login=False) is None
    assert email_change_problem(changed=False, has_login=True) is None
    assert "portal login" in email_change_problem(changed=True, has_login=True)
