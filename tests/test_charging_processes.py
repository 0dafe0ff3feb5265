"""Real worker processes (`python -m app worker`): a worker SIGKILLed after the gateway took the money
but before the result was saved; after a restart (its start-up sweep) the charge is recorded once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from app.clock import Clock
from app.domain.statuses import ChargeStatus as C
from app.services.queue import JobQueue
from tests.charging_support import gateway_charges, make_practice, mark, the_charge
from tests.conftest import DATABASE_URL, ROOT


def start_worker(settings, output=subprocess.DEVNULL, **extra: str) -> subprocess.Popen:
    """``python -m app worker`` on the test database and ``settings``' Redis; its log goes to ``output``."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "SANDBOX_FAULT"},
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "DEBUG": "1",
        "USE_DB_POOL": "0",
        "CHARGE_DELAY": "0",
        "CHARGE_LEASE": "1",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=output,
    )


async def wait_for(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.slow
async def test_worker_killed_after_the_gateway_accepted_is_charged_once_after_restart(
    db, redis, arq_pool, settings
):
    clock = Clock()
    instant = replace(settings, charge_delay=0)
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(instant, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), instant, queue)

    doomed = start_worker(settings, SANDBOX_FAULT="crash_after_charge")
    try:
        assert await asyncio.to_thread(doomed.wait, 40) == -signal.SIGKILL
    finally:
        if doomed.poll() is None:
            doomed.kill()
    in_doubt = await the_charge(practice.appointment_id)
    assert in_doubt.status == C.PROCESSING  # the result was never saved
    assert await gateway_charges() == 1  # but the processor took the money

    await asyncio.sleep(1.2)  # the dead worker's lease (CHARGE_LEASE=1) runs out
    survivor = start_worker(settings)
    try:

        async def recorded() -> bool:
            return (await the_charge(practice.appointment_id)).status == C.SUCCEEDED

        assert await wait_for(recorded), "the restarted worker's sweep did not settle the charge"
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(survivor.wait, 20) is not None
    assert await gateway_charges() == 1
