"""/metrics: the Prometheus figures an operator watches, behind a token, moving while charges are made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from app.services.queue import JobQueue
from app.web.app import create_app
from tests.charging_support import DECLINE, fast_forward, make_practice, mark
from tests.conftest import DATABASE_URL, ROOT, START, browser, running
from workers.email import sweep_unsent_emails

TOKEN = "metrics-token-for-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def queue(arq_pool, settings):
    return JobQueue(arq_pool, settings.queue_name)


@pytest.fixture
async def scraper(db, redis, settings, clock):
    async with (
        running(create_app(replace(settings, metrics_token=TOKEN), clock=clock)) as application,
        browser(application) as http,
    ):
        yield http


async def scrape(http) -> dict[str, float]:
    response = await http.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def test_metrics_need_the_token_and_are_absent_without_one(client, scraper):
    assert (await client.get("/metrics", headers=AUTH)).status_code == 404, "no METRICS_TOKEN, no /metrics"
    assert (await scraper.get("/metrics")).status_code == 401
    assert (await scraper.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    wrong = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401 and "stillwater_charges" not in wrong.text
    assert (await scraper.get("/metrics", headers=AUTH)).status_code == 200


async def test_requests_are_counted_by_route_never_by_path(scraper):
    await scraper.get("/login")
    await scraper.get("/clients/12345")
    await scraper.get("/no/such/page/alex@example.test")
    figures = await scrape(scraper)
    assert figures['stillwater_http_requests_total{method="GET",route="/login",status="200"}'] >= 1
    assert (
        figures['stillwater_http_requests_total{method="GET",route="/clients/{client_id}",status="303"}'] >= 1
    )
    assert figures['stillwater_http_requests_total{method="GET",route="unmatched",status="404"}'] >= 1
    assert not any("12345" in name or "example.test" in name for name in figures)
    assert any(name.startswith("stillwater_http_request_duration_seconds_bucket") for name in figures)


async def test_charge_and_outbox_figures_move_during_a_charging_run(
    scraper, settings, clock, queue, redis, arq_pool, run_worker, smtp_server
):
    paying = await make_practice(settings, clock.now(), queue)
    declined = await make_practice(
        settings, clock.now(), queue, card=DECLINE, email="sam@example.test", client_email="jo@example.test"
    )
    for practice in (paying, declined):
        await mark(practice, "occurred", clock.now(), settings, queue)
    before = await scrape(scraper)
    assert before['stillwater_charges{state="scheduled"}'] == 2
    assert before['stillwater_charges{state="succeeded"}'] == 0
    assert before["stillwater_charges_due_uncollected"] == 0
    assert before['stillwater_outbox_unsent{channel="email"}'] == 0

    clock.advance(seconds=settings.charge_delay + 3600 + 60)
    due = await scrape(scraper)
    assert due["stillwater_charges_due_uncollected"] == 2
    assert due["stillwater_charge_oldest_due_age_seconds"] == 3660, "an hour and a minute overdue"

    await fast_forward(redis, settings)
    await run_worker()
    charged = await scrape(scraper)
    assert charged['stillwater_charges{state="scheduled"}'] == 0
    assert charged['stillwater_charges{state="succeeded"}'] == 1
    assert charged['stillwater_charges{state="failed"}'] == 1
    assert charged["stillwater_charges_due_uncollected"] == 0
    assert charged["stillwater_charge_oldest_due_age_seconds"] == 0
    assert charged['stillwater_outbox_unsent{channel="email"}'] == 2, "the decline emails wait: no SMTP yet"

    clock.advance(minutes=6)
    with_smtp = replace(settings, smtp_url=smtp_server.url)
    assert await sweep_unsent_emails({"settings": with_smtp, "clock": clock, "redis": arq_pool}) == 2
    await run_worker(worker_settings=with_smtp)
    sent = await scrape(scraper)
    assert sent['stillwater_outbox_unsent{channel="email"}'] == 0
    assert sent['stillwater_outbox_oldest_unsent_age_seconds{channel="email"}'] == 0
    assert sent['stillwater_outbox_failed{channel="email"}'] == 0
    assert len(smtp_server.messages) == 2


@pytest.mark.slow
async def test_a_running_worker_has_a_heartbeat_and_leaves_when_stopped(scraper, settings):
    assert (await scrape(scraper))["stillwater_workers_alive"] == 0
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": settings.redis_url,
        "DEBUG": "1",
        "CLOCK_START": START.isoformat(),
        "USE_DB_POOL": "0",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while (figures := await scrape(scraper))["stillwater_workers_alive"] != 1:
            assert time.monotonic() < deadline, "no heartbeat from the worker"
            time.sleep(0.2)
        (name,) = [n for n in figures if n.startswith("stillwater_worker_heartbeat_age_seconds")]
        assert re.search(rf':{worker.pid}"', name)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert (await scrape(scraper))["stillwater_workers_alive"] == 0
