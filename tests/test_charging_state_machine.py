"""A Hypothesis state machine over status changes, clock moves, job runs (also stale and duplicate
ones), sweeps (which queue jobs in a real Redis that a real arq worker then runs), gateway faults,
simulated crashes, card changes, waivers and retries.

Invariants after every step, for every appointment: the processor took money at most once; a charge
that is processing or paid belongs to an appointment that is Occurred; money taken is recorded as paid
unless the attempt is still in doubt (processing); every status a charge goes through follows the
domain's TRANSITIONS (the one state machine the services' sets are read from).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from app.clock import FrozenClock
from app.config import Settings
from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C
from app.models.tables import Appointment, Charge, SandboxPayment
from app.payments.base import GatewayUnavailable
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.appointments import StatusChangeRefused
from app.services.queue import JobQueue, connect
from tests.charging_support import DECLINE, NEEDS_AUTH, VISA, add_appointment, make_practice, mark, save_card
from tests.conftest import DATABASE_URL, START, reset_database
from tests.test_charging_sweep import burst_worker

FAULTS = st.sampled_from([None, None, "unavailable", "lose_response"])
APPOINTMENT = st.integers(min_value=0, max_value=1)
SETTINGS = Settings(
    database_url=DATABASE_URL,
    redis_url=os.environ["TEST_REDIS_URL"],
    secret_key="test-secret-key-that-is-long-enough-1234567890",
    password_hash_profile="fast",
    use_db_pool=False,
)


class ChargingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock(START)
        self.queue = JobQueue(None, SETTINGS.queue_name)  # status changes and clinicians queue nothing
        self.redis = self.run(connect(SETTINGS))
        self.jobs = JobQueue(self.redis, SETTINGS.queue_name)  # what the sweep queues, a worker runs
        self.seen: dict[int, C] = {}  # each charge's status at the last check

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.redis.aclose())
        self.loop.close()

    @initialize()
    def practice(self) -> None:
        async def setup():
            await reset_database()
            await self.redis.flushdb()
            practice = await make_practice(SETTINGS, self.clock.now(), self.queue)
            second = await add_appointment(
                practice.clinician, practice.client_id, self.clock.now() - timedelta(hours=2)
            )
            return practice, [practice.appointment_id, second]

        self.practice, self.appointments = self.run(setup())

    def _on(self, index: int):
        self.practice.appointment_id = self.appointments[index]
        return self.practice

    async def _charge(self, index: int) -> Charge | None:
        return await Charge.objects().where(Charge.appointment == self.appointments[index]).first()

    @rule(
        index=APPOINTMENT,
        status=st.sampled_from(["occurred", "occurred", "cancelled", "no_show", "scheduled"]),
    )
    def change_status(self, index: int, status: str) -> None:
        with contextlib.suppress(StatusChangeRefused):
            self.run(mark(self._on(index), status, self.clock.now(), SETTINGS, self.queue))

    @rule(hours=st.integers(min_value=0, max_value=60), minutes=st.integers(min_value=0, max_value=59))
    def time_passes(self, hours: int, minutes: int) -> None:
        self.clock.advance(hours=hours, minutes=minutes)

    @rule(index=APPOINTMENT, stale=st.booleans(), fault=FAULTS)
    def job_runs(self, index: int, stale: bool, fault: str | None) -> None:
        charge = self.run(self._charge(index))
        if charge is None:
            return
        generation = charge.generation - 1 if stale else charge.generation
        with contextlib.suppress(GatewayUnavailable):
            self.run(
                charges.run_charge(
                    charge.id,
                    generation,
                    now=self.clock.now(),
                    settings=SETTINGS,
                    gateway=SandboxGateway([fault] if fault else []),
                    queue=self.queue,
                )
            )

    @rule(fault=FAULTS, after_the_delay=st.booleans())
    def sweep(self, fault: str | None, after_the_delay: bool) -> None:
        if after_the_delay:  # the next cron pass once whatever was marked is due
            self.clock.advance(seconds=SETTINGS.charge_delay)
        gateway = SandboxGateway([fault] if fault else [])

        async def sweep_then_work():
            await charges.sweep(now=self.clock.now(), settings=SETTINGS, gateway=gateway, queue=self.jobs)
            ready = await self.redis.zcount(SETTINGS.queue_name, "-inf", int(time.time() * 1000))
            if ready:  # a retry waiting out its backoff stays queued (the worker stops at this count)
                await burst_worker(SETTINGS, self.clock, gateway=gateway, max_jobs=ready)

        self.run(sweep_then_work())

    @rule(index=APPOINTMENT)
    def worker_dies_after_claiming(self, index: int) -> None:
        charge = self.run(self._charge(index))
        if charge is not None and charge.status == C.SCHEDULED:
            self.run(charges._claim(charge, now=self.clock.now(), settings=SETTINGS))

    @rule(number=st.sampled_from([VISA, DECLINE, NEEDS_AUTH]))
    def client_saves_a_card(self, number: str) -> None:
        self.run(save_card(self.practice, number, self.clock.now(), SETTINGS, self.queue))

    @rule(index=APPOINTMENT, action=st.sampled_from(["waive", "retry"]))
    def clinician_acts(self, index: int, action: str) -> None:
        self._on(index)
        cid, actor = self.practice.clinician.user.clinician_id, self.practice.clinician_actor
        try:
            if action == "waive":
                self.run(
                    charges.waive_charge(
                        self.appointments[index], clinician_id=cid, now=self.clock.now(), actor=actor
                    )
                )
            else:
                self.run(
                    charges.retry_charge(
                        self.appointments[index],
                        clinician_id=cid,
                        now=self.clock.now(),
                        actor=actor,
                        settings=SETTINGS,
                        queue=self.queue,
                    )
                )
        except (charges.ChargeActionRefused, charges.ChargeNotFound):
            pass

    @invariant()
    def at_most_one_charge_and_only_for_occurred_sessions(self) -> None:
        async def check():
            for appointment_id in getattr(self, "appointments", []):
                charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
                if charge is None:
                    continue
                taken = await SandboxPayment.count().where(
                    (SandboxPayment.kind == "payment")
                    & (SandboxPayment.status == "succeeded")
                    & SandboxPayment.idempotency_key.like(f"charge:{charge.id}:%")
                )
                assert taken <= 1, f"charged {taken} times"
                appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
                if charge.status in (C.PROCESSING, C.SUCCEEDED):
                    assert appointment.status == "occurred", (charge.status, appointment.status)
                if taken and charge.status != C.PROCESSING:
                    assert charge.status == C.SUCCEEDED, charge.status

        self.run(check())

    @invariant()
    def every_status_change_follows_the_transitions(self) -> None:
        async def statuses():
            return await Charge.select(Charge.id, Charge.status)

        for row in self.run(statuses()):
            now, before = C(row["status"]), self.seen.get(row["id"])
            if before is not None:
                assert now in rules.reachable_from(before), f"charge went {before} -> {now}"
            self.seen[row["id"]] = now


ChargingMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_charging_state_machine = ChargingMachine.TestCase
