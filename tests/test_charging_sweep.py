"""The due-charge sweep (the worker's cron) on a real database, Redis and arq workers.

After Redis lost its queue, one sweep queues the normal charge job of every due charge and the workers
share them; a second sweep, or one while jobs are queued or running, adds nothing and charges nothing
twice; a sweep reads bounded batches and a pass out of time (or with Redis down) leaves the rest to
the next one; an attempt whose job was lost with the queue is resumed from the gateway's record, not
charged again; a due charge whose job a dead worker took before claiming it is charged by the sweep.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from arq.constants import in_progress_key_prefix
from arq.worker import Worker

from app.domain.statuses import ChargeStatus as C
from app.models.tables import Charge, SandboxPayment
from app.payments.base import GatewayUnavailable
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.queue import JobQueue, connect
from tests.charging_support import (
    Practice,
    add_appointment,
    fast_forward,
    gateway_charges,
    make_practice,
    mark,
    the_charge,
)
from tests.conftest import burst_worker as run_burst_worker
from tests.conftest import free_port
from tests.querycount import count_queries

SESSIONS = 24
IN_FLIGHT_SESSIONS = 12  # one job at a time, with a sweep as each starts


async def burst_worker(
    settings,
    clock,
    *,
    max_jobs: int = -1,
    concurrency: int = 10,
    gateway=None,
    on_job_start: Callable[[dict], Awaitable[None]] | None = None,
) -> Worker:
    """A real arq worker with its own Redis connections, ``concurrency`` jobs at a time."""
    return await run_burst_worker(
        settings,
        clock,
        ctx_extra={"gateway": gateway} if gateway else None,
        max_burst_jobs=max_jobs,
        max_jobs=concurrency,
        queue_read_limit=SESSIONS * 2,  # sees past jobs another worker is running
        on_job_start=on_job_start,
    )


async def due_sessions(settings, clock, queue, count: int) -> tuple[Practice, list[int]]:
    """``count`` sessions marked Occurred (each marking queues its deferred job), some at the same
    moment (equal due times), then the clock moved past the charge delay."""
    practice = await make_practice(settings, clock.now(), queue)
    appointment_ids = [practice.appointment_id]
    for number in range(1, count):
        starts = clock.now() - timedelta(hours=1 + number)
        appointment_ids.append(await add_appointment(practice.clinician, practice.client_id, starts))
    for number, appointment_id in enumerate(appointment_ids):
        practice.appointment_id = appointment_id
        await mark(practice, "occurred", clock.now(), settings, queue)
        if number % 3 == 2:
            clock.advance(seconds=30)
    clock.advance(seconds=settings.charge_delay)
    return practice, appointment_ids


async def sweep(clock, settings, queue, **options):
    return await charges.sweep(
        now=clock.now(), settings=settings, gateway=SandboxGateway(), queue=queue, **options
    )


def job_ids(charge_rows) -> set[bytes]:
    return {f"charge:{charge.id}:{charge.generation}".encode() for charge in charge_rows}


async def payments_per_charge() -> Counter:
    """Successful payments the sandbox processor took, per charge id (from the stored idempotency key)."""
    rows = await SandboxPayment.select(SandboxPayment.idempotency_key).where(
        (SandboxPayment.kind == "payment") & (SandboxPayment.status == "succeeded")
    )
    return Counter(int(row["idempotency_key"].split(":")[1]) for row in rows)


async def test_after_redis_lost_its_queue_one_sweep_queues_every_due_charge_and_two_workers_share_them(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice, appointment_ids = await due_sessions(settings, clock, queue, SESSIONS)
    assert await redis.zcard(settings.queue_name) == SESSIONS  # the deferred jobs of the markings
    await redis.flushdb()  # Redis restarted without persistence: every job is gone

    counts = await sweep(clock, settings, queue)
    assert counts["due"] == SESSIONS and counts["queued"] == SESSIONS
    assert await gateway_charges() == 0  # the sweep only queued; no charge ran in its process
    rows = [await the_charge(appointment_id) for appointment_id in appointment_ids]
    assert {row.status for row in rows} == {C.SCHEDULED}
    assert set(await redis.zrange(settings.queue_name, 0, -1)) == job_ids(rows)

    # Two workers at once; neither starts charging before the other has started a job too.
    started = [asyncio.Event(), asyncio.Event()]

    def first_job_waits_for_the_other(me: int):
        async def hook(ctx: dict) -> None:
            started[me].set()
            await asyncio.wait_for(started[1 - me].wait(), timeout=30)

        return hook

    workers = await asyncio.gather(
        *(burst_worker(settings, clock, on_job_start=first_job_waits_for_the_other(me)) for me in (0, 1))
    )
    assert all(worker.jobs_complete > 0 for worker in workers)
    # One job per charge, and each succeeded charge's superbill job after it (R15).
    assert sum(worker.jobs_complete for worker in workers) == 2 * SESSIONS
    assert sum(worker.jobs_failed + worker.jobs_retried for worker in workers) == 0
    assert await redis.zcard(settings.queue_name) == 0
    rows = [await the_charge(appointment_id) for appointment_id in appointment_ids]
    assert {row.status for row in rows} == {C.SUCCEEDED}
    assert await payments_per_charge() == Counter({row.id: 1 for row in rows})

    assert (await sweep(clock, settings, queue))["due"] == 0  # nothing left to queue
    assert await gateway_charges() == SESSIONS


async def test_a_sweep_again_or_while_jobs_are_queued_or_running_adds_no_job_and_charges_once(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    _, appointment_ids = await due_sessions(settings, clock, queue, IN_FLIGHT_SESSIONS)
    rows = [await the_charge(appointment_id) for appointment_id in appointment_ids]
    assert (await sweep(clock, settings, queue))["queued"] == 0  # the markings' jobs are there

    await redis.flushdb()
    assert (await sweep(clock, settings, queue))["queued"] == IN_FLIGHT_SESSIONS
    again = await sweep(clock, settings, queue)
    assert again["due"] == IN_FLIGHT_SESSIONS and again["queued"] == 0
    assert set(await redis.zrange(settings.queue_name, 0, -1)) == job_ids(rows)
    # arq's own enqueue of the same job (the status service's path) sees it as already queued.
    first = rows[0]
    again_by_arq = await arq_pool.enqueue_job(
        charges.CHARGE_JOB,
        first.id,
        first.generation,
        _job_id=f"charge:{first.id}:{first.generation}",
        _queue_name=settings.queue_name,
    )
    assert again_by_arq is None

    during: list[dict[str, int]] = []

    async def sweep_while_a_job_runs(ctx: dict) -> None:
        if ctx["job_id"].startswith("charge:"):  # not the superbill job a succeeded charge queues (R15)
            during.append(await sweep(clock, settings, queue))

    # One job at a time, a sweep as each starts: that job is running, the others are queued or done.
    # The running job has not claimed its charge yet, as if its worker had died: the sweep runs it,
    # and the job then finds it claimed.
    worker = await burst_worker(settings, clock, concurrency=1, on_job_start=sweep_while_a_job_runs)
    assert len(during) == IN_FLIGHT_SESSIONS and {counts["queued"] for counts in during} == {0}
    assert {counts["resumed"] for counts in during} == {1}
    assert worker.jobs_complete == 2 * IN_FLIGHT_SESSIONS  # no job ran twice (each charge's, its superbill's)
    assert await payments_per_charge() == Counter({row.id: 1 for row in rows})
    assert {(await the_charge(a)).status for a in appointment_ids} == {C.SUCCEEDED}


async def test_a_sweep_reads_bounded_batches_and_a_pass_out_of_time_leaves_the_rest_to_the_next(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    _, appointment_ids = await due_sessions(settings, clock, queue, 25)
    rows = [await the_charge(appointment_id) for appointment_id in appointment_ids]
    await redis.flushdb()

    with count_queries() as log:
        counts = await sweep(clock, settings, queue, batch_size=10)
    assert counts["due"] == 25 and counts["queued"] == 25
    pages = [s for s in log.statements if 'FROM "charge"' in s and s.rstrip().endswith("LIMIT 10")]
    assert len(pages) == 4  # 10 + 10 + 5 due, then one (empty) page of released attempts
    assert set(await redis.zrange(settings.queue_name, 0, -1)) == job_ids(rows)  # ties paged once

    await redis.flushdb()
    short = await sweep(clock, settings, queue, batch_size=10, budget_seconds=0)
    assert short["due"] == 10 and short["queued"] == 10  # one batch read, then out of time
    assert await redis.zcard(settings.queue_name) == 10
    rest = await sweep(clock, settings, queue, batch_size=10)
    assert rest["due"] == 25 and rest["queued"] == 15
    assert set(await redis.zrange(settings.queue_name, 0, -1)) == job_ids(rows)


async def test_nothing_is_queued_before_it_is_due_or_once_it_is_settled(db, redis, arq_pool, settings, clock):
    queue = JobQueue(None, settings.queue_name)  # marking queues nothing: only the sweep does
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    redis_queue = JobQueue(arq_pool, settings.queue_name)
    clock.advance(seconds=settings.charge_delay - 1)
    assert (await sweep(clock, settings, redis_queue))["due"] == 0
    await charges.waive_charge(
        practice.appointment_id,
        clinician_id=practice.clinician.user.clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
    )
    clock.advance(seconds=1)
    assert (await sweep(clock, settings, redis_queue))["due"] == 0
    assert await redis.zcard(settings.queue_name) == 0


async def test_an_attempt_whose_job_was_lost_with_the_queue_is_resumed_by_a_worker_without_a_second_charge(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    with pytest.raises(GatewayUnavailable):
        await charges.run_charge(
            charge.id,
            charge.generation,
            now=clock.now(),
            settings=settings,
            gateway=SandboxGateway(["lose_response"]),
            queue=queue,
        )
    in_doubt = await the_charge(practice.appointment_id)
    assert in_doubt.status == C.PROCESSING and in_doubt.claimed_until is None
    assert await gateway_charges() == 1  # the processor took the money; the answer was lost
    await redis.flushdb()  # and then the job that would have retried it

    counts = await sweep(clock, settings, queue)
    assert counts["queued"] == 1 and counts["resumed"] == 0  # queued for a worker, not run inline
    assert await redis.zrange(settings.queue_name, 0, -1) == [f"charge:{charge.id}:1".encode()]
    await burst_worker(settings, clock)
    done = await the_charge(practice.appointment_id)
    assert done.status == C.SUCCEEDED and done.attempt_no == 1
    assert await gateway_charges() == 1
    assert await Charge.count() == 1


async def test_with_redis_down_the_sweep_queues_nothing_and_the_next_pass_does(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    _, appointment_ids = await due_sessions(settings, clock, queue, 3)
    await redis.flushdb()
    unreachable = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    down = await connect(unreachable)
    try:
        counts = await sweep(clock, settings, JobQueue(down, settings.queue_name))
    finally:
        await down.aclose()
    assert counts["due"] == 3 and counts["queued"] == 0  # logged; the cron job itself does not fail
    assert (await sweep(clock, settings, queue))["queued"] == 3
    assert await gateway_charges() == 0


async def test_a_due_charge_whose_job_a_dead_worker_took_before_claiming_is_charged_by_the_next_sweep(
    db, redis, arq_pool, settings, clock, run_worker
):
    queue = JobQueue(arq_pool, settings.queue_name)
    _, appointment_ids = await due_sessions(settings, clock, queue, 2)
    taken, waiting = [await the_charge(appointment_id) for appointment_id in appointment_ids]
    taken_job = f"charge:{taken.id}:{taken.generation}"
    # A worker took the first job (arq's in-progress marker, held for the job timeout + 10 s) and was
    # killed before the job claimed its charge.
    await redis.psetex(in_progress_key_prefix + taken_job, 130_000, b"1")

    counts = await sweep(clock, settings, queue)
    assert counts["due"] == 2 and counts["queued"] == 0 and counts["resumed"] == 1
    assert (await the_charge(taken.appointment)).status == C.SUCCEEDED
    assert (await the_charge(waiting.appointment)).status == C.SCHEDULED  # its job is queued: a worker's

    await redis.delete(in_progress_key_prefix + taken_job)  # arq's timeout ran out: the job runs again
    await fast_forward(redis, settings)
    await run_worker()
    assert {(await the_charge(a)).status for a in appointment_ids} == {C.SUCCEEDED}
    assert await payments_per_charge() == Counter({taken.id: 1, waiting.id: 1})
