"""Real worker processes through outages: a private redis-server stopped and started, a private
PostgreSQL cluster restarted, mid-run. Every due charge is charged exactly once and every queued email is
sent once; each outage is logged once. ``python -m app run`` restarts a worker that dies, and its web
server keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from arq.constants import health_check_key_suffix
from piccolo.engine.postgres import PostgresEngine

import piccolo_conf
from app.clock import Clock
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import ALL_TABLES, Charge, EmailMessage
from app.services import email
from app.services.queue import JobQueue, connect
from tests.charging_support import gateway_charges, make_practice, mark
from tests.conftest import ROOT, free_port
from tests.private_servers import PrivatePostgres, PrivateRedis, postgres_bin
from tests.test_charging_processes import start_worker, wait_for

DUE_IN = 3  # seconds: jobs queued before an outage fall due during it


async def two_practices(settings, clock, queue):
    return [
        await make_practice(
            settings, clock.now(), queue, email=f"maya{n}@example.test", client_email=f"alex{n}@example.test"
        )
        for n in (1, 2)
    ]


async def queue_a_deferred_email(queue: JobQueue, now, address: str, settings) -> None:
    async with transaction():
        message_id = await email.queue_email(
            to=address,
            subject="Choose a new password",
            template="password_reset",
            context={"name": "Alex", "link": "http://testserver.local/reset/x"},
            now=now,
            settings=settings,
        )
    assert await queue.enqueue("send_email", message_id, defer_until=now + timedelta(seconds=DUE_IN))


async def all_sent_once(mailbox) -> bool:
    unsent = await EmailMessage.count().where(EmailMessage.sent_at.is_null())
    return unsent == 0 and len(mailbox.messages) == await EmailMessage.count()


async def worker_is_polling(pool, settings) -> bool:
    return bool(await pool.exists(settings.queue_name + health_check_key_suffix))


async def both_charged(practices) -> bool:
    charges = await Charge.objects().where(Charge.appointment.is_in([p.appointment_id for p in practices]))
    return len(charges) == 2 and all(c.status == C.SUCCEEDED for c in charges)


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.remove()


@pytest.mark.slow
async def test_worker_survives_a_redis_restart_and_charges_and_mails_everything_once(
    db, settings, smtp_server, private_redis, tmp_path
):
    clock = Clock()
    on_private = replace(settings, redis_url=private_redis.url, charge_delay=DUE_IN)
    pool = await connect(on_private)
    queue = JobQueue(pool, on_private.queue_name)
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = start_worker(on_private, output, SMTP_URL=smtp_server.url)
    try:
        assert await wait_for(lambda: worker_is_polling(pool, on_private))
        before, during = await two_practices(on_private, clock, queue)
        assert await wait_for(lambda: all_sent_once(smtp_server))  # nothing in flight when Redis stops
        await mark(before, "occurred", clock.now(), on_private, queue)  # its job falls due in the outage
        await queue_a_deferred_email(queue, clock.now(), before.client.email, on_private)

        private_redis.stop()
        # The web could not queue this one: the restarted worker's first sweep finds it in the database.
        await mark(during, "occurred", clock.now(), replace(on_private, charge_delay=0), queue)
        await asyncio.sleep(DUE_IN + 1)
        assert worker.poll() is None, "the worker exited when Redis went away:\n" + log.read_text()[-3000:]
        private_redis.start()

        assert await wait_for(lambda: both_charged([before, during]), timeout=30), log.read_text()
        assert await wait_for(lambda: all_sent_once(smtp_server), timeout=20), log.read_text()
    finally:
        stop(worker)
        await pool.aclose()
    assert await gateway_charges() == 2
    assert any(m["Subject"] == "Choose a new password" for m in smtp_server.messages)
    text = log.read_text()
    assert text.count("Redis unreachable") == 1, text
    assert text.count("Redis reachable again") == 1, text


@pytest.fixture
def private_postgres(monkeypatch):
    """A private cluster, migrated; this test process's tables use it for the test's duration."""
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    server = PrivatePostgres()
    try:
        server.create()
        subprocess.run(
            [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": server.url},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        private = PostgresEngine(config={"dsn": server.url})
        monkeypatch.setattr(piccolo_conf, "DB", private)
        for table in ALL_TABLES:
            monkeypatch.setattr(table._meta, "_db", private)
        yield server
    finally:
        server.remove()


@pytest.mark.slow
async def test_worker_survives_a_postgres_restart_and_charges_and_mails_everything_once(
    redis, arq_pool, settings, smtp_server, private_postgres, tmp_path
):
    clock = Clock()
    on_private = replace(settings, database_url=private_postgres.url, charge_delay=DUE_IN)
    queue = JobQueue(arq_pool, on_private.queue_name)
    log = tmp_path / "worker.log"
    with log.open("w") as output:  # the worker's database pool (as in production) loses its connections
        worker = start_worker(
            on_private, output, DATABASE_URL=private_postgres.url, USE_DB_POOL="1", SMTP_URL=smtp_server.url
        )
    try:
        assert await wait_for(lambda: worker_is_polling(arq_pool, on_private))
        practices = await two_practices(on_private, clock, queue)
        assert await wait_for(lambda: all_sent_once(smtp_server))
        for practice in practices:
            await mark(practice, "occurred", clock.now(), on_private, queue)
        await queue_a_deferred_email(queue, clock.now(), practices[0].client.email, on_private)

        await asyncio.to_thread(private_postgres.stop)
        await asyncio.sleep(DUE_IN + 2)  # the jobs fall due, meet the outage, and wait to retry
        assert worker.poll() is None, "the worker exited when PostgreSQL went away"
        await asyncio.to_thread(private_postgres.start)

        assert await wait_for(lambda: both_charged(practices), timeout=30), log.read_text()
        assert await wait_for(lambda: all_sent_once(smtp_server), timeout=20), log.read_text()
    finally:
        stop(worker)
    assert await gateway_charges() == 2
    text = log.read_text()
    assert text.count("database unreachable") == 1, text
    assert text.count("database reachable again") == 1, text


def children_of(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def is_worker(pid: int) -> bool:
    try:
        return b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def healthz(base_url: str) -> int:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
            return response.status
    except OSError:
        return 0


@pytest.mark.slow
def test_run_restarts_a_worker_that_dies_and_the_web_stays_up(tmp_path, redis):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite'}",
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
    }
    output = tmp_path / "run.log"
    with output.open("w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "app", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while healthz(base_url) != 200 or not any(map(is_worker, children_of(launcher.pid))):
            assert launcher.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        (first,) = [pid for pid in children_of(launcher.pid) if is_worker(pid)]

        os.kill(first, signal.SIGKILL)
        answers = []
        deadline = time.monotonic() + 20
        while not [pid for pid in children_of(launcher.pid) if is_worker(pid) and pid != first]:
            assert time.monotonic() < deadline, output.read_text()
            answers.append(healthz(base_url))
            time.sleep(0.2)
        assert launcher.poll() is None
        assert set(answers) == {200}, "the web server went down with the worker"
        assert healthz(base_url) == 200
        assert "The worker stopped (exit -9); restarting it in 1 s." in output.read_text()
    finally:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0
