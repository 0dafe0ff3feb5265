"""The status state machine and overlap rule (pure), and the one status service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.appointments import overlaps, transition_problem
from app.domain.statuses import AppointmentStatus as S
from app.models.tables import Appointment, AuditEvent, StatusChange
from app.services.appointments import AppointmentNotFound, StatusChangeRefused, change_status
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.helpers import make_client, make_clinician

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_every_transition_after_the_start(old, new):
    problem = transition_problem(old, new, starts_at=T0, now=T0 + timedelta(minutes=1))
    assert (problem is None) is (old != new)


@pytest.mark.parametrize("new", [S.OCCURRED, S.NO_SHOW, S.LATE_CANCELLED])
def test_session_outcomes_need_the_start_time_to_have_passed(new):
    assert "once the session has started" in transition_problem(
        S.SCHEDULED, new, starts_at=T0, now=T0 - timedelta(seconds=1)
    )
    assert transition_problem(S.SCHEDULED, new, starts_at=T0, now=T0) is None


def test_cancelling_and_rescheduling_are_allowed_before_the_start():
    before = T0 - timedelta(days=1)
    assert transition_problem(S.SCHEDULED, S.CANCELLED, starts_at=T0, now=before) is None
    assert transition_problem(S.CANCELLED, S.SCHEDULED, starts_at=T0, now=before) is None


@pytest.mark.parametrize("old", [s for s in S if s != S.OCCURRED])
def test_an_archived_clients_session_cannot_be_marked_occurred(old):
    after = T0 + timedelta(minutes=1)
    problem = transition_problem(old, S.OCCURRED, starts_at=T0, now=after, client_archived=True)
    assert problem and "archived clients are never charged" in problem and "Restore" in problem
    assert transition_problem(old, S.OCCURRED, starts_at=T0, now=after) is None


@pytest.mark.parametrize("new", [s for s in S if s != S.OCCURRED])
def test_an_archived_clients_other_statuses_can_still_be_recorded(new):
    after = T0 + timedelta(minutes=1)
    assert transition_problem(S.OCCURRED, new, starts_at=T0, now=after, client_archived=True) is None


def test_unknown_status_is_refused():
    assert transition_problem(S.SCHEDULED, "paid", starts_at=T0, now=T0) is not None


def test_overlap_edges_do_not_conflict():
    hour = timedelta(hours=1)
    assert not overlaps(T0, T0 + hour, T0 + hour, T0 + 2 * hour)
    assert overlaps(T0, T0 + hour, T0 + hour - timedelta(minutes=1), T0 + 2 * hour)
    assert overlaps(T0, T0 + 2 * hour, T0 + hour / 2, T0 + hour)


async def _appointment(clinician, client_id, starts_at):
    rows = await Appointment.insert(
        Appointment(
            clinician=clinician.user.clinician_id,
            client=client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=50),
            duration_minutes=50,
            fee_minor=15000,
            created_at=starts_at - timedelta(days=7),
        )
    ).returning(Appointment.id)
    return rows[0]["id"]


async def test_status_change_writes_history_and_audit_and_is_scoped_to_the_clinician(
    db, redis, settings, clock, arq_pool
):
    clinician = await make_clinician(settings, clock.now())
    other = await make_clinician(settings, clock.now(), email="jordan@example.test", practice="Northside")
    _, client_id = await make_client(settings, clock.now(), clinician)
    appointment_id = await _appointment(clinician, client_id, clock.now() - timedelta(hours=1))
    actor = Actor(clinician.user.id, "clinician", clinician.user.clinician_id)
    queue = JobQueue(arq_pool, settings.queue_name)

    with pytest.raises(AppointmentNotFound):
        await change_status(
            appointment_id,
            "occurred",
            clinician_id=other.user.clinician_id,
            now=clock.now(),
            actor=actor,
            settings=settings,
            queue=queue,
        )
    changed = await change_status(
        appointment_id,
        "occurred",
        clinician_id=clinician.user.clinician_id,
        now=clock.now(),
        actor=actor,
        settings=settings,
        queue=queue,
    )
    assert changed.status == "occurred"
    history = await StatusChange.objects().where(StatusChange.appointment == appointment_id)
    assert [(h.from_status, h.to_status, h.changed_by) for h in history] == [
        ("scheduled", "occurred", clinician.user.id)
    ]
    audit = await AuditEvent.objects().where(AuditEvent.action == "appointment_status_changed").first()
    assert audit.detail == "scheduled->occurred" and audit.object_id == appointment_id

    future_id = await _appointment(clinician, client_id, clock.now() + timedelta(days=1))
    with pytest.raises(StatusChangeRefused, match="once the session has started"):
        await change_status(
            future_id,
            "no_show",
            clinician_id=clinician.user.clinician_id,
            now=clock.now(),
            actor=actor,
            settings=settings,
            queue=queue,
        )
    assert await StatusChange.count().where(StatusChange.appointment == future_id) == 0
