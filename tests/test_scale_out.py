"""Scale-out: two web processes and two arq workers on one PostgreSQL and one Redis.

A clinician books and marks Occurred a few hundred sessions through both web processes (real HTTP,
CSRF, htmx headers), charging runs 2 seconds after each mark, one worker is SIGKILLed mid-run and
replaced the way a process supervisor would. Every session is charged exactly once, a session started
on one process works on the other, and the sign-in throttle is shared.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.clock import Clock
from app.models.tables import Appointment, Charge, SandboxPayment
from app.services.queue import JobQueue
from tests.charging_support import Practice, save_card
from tests.conftest import IS_POSTGRES, start_web
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.test_charging_processes import start_worker, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not IS_POSTGRES,
        reason="scale-out needs PostgreSQL: the embedded SQLite default is for one process on one host",
    ),
]

SESSIONS = 200
CLIENTS = 4
CONCURRENCY = 8
CHARGE_DELAY = "2"
PROCESS_ENV = {"CHARGE_DELAY": CHARGE_DELAY, "CHARGE_LEASE": "1", "USE_DB_POOL": "1"}
PANEL_LINK = re.compile(r"/appointments/(\d+)/")


async def csrf(client: httpx.AsyncClient, base_url: str) -> str:
    if not client.cookies.get("csrftoken"):
        await client.get(f"{base_url}/login")
    return client.cookies["csrftoken"]


async def post(client: httpx.AsyncClient, base_url: str, path: str, data: dict, *, htmx: bool = False):
    token = await csrf(client, base_url)
    headers = {"x-csrftoken": token, **({"HX-Request": "true"} if htmx else {})}
    return await client.post(f"{base_url}{path}", data=data, headers=headers)


async def sign_in(client: httpx.AsyncClient, base_url: str, email: str, password: str) -> httpx.Response:
    return await post(client, base_url, "/login", {"email": email, "password": password})


async def test_two_web_processes_and_two_workers_charge_every_session_once(db, redis, arq_pool, settings):
    now = Clock().now()
    clinician = await make_clinician(settings, now)
    await make_clinician(settings, now, email="jordan@example.test", name="Jordan Lee")
    queue = JobQueue(arq_pool, settings.queue_name)
    client_ids = []
    for number in range(CLIENTS):
        person, client_id = await make_client(
            settings, now, clinician, email=f"client{number}@example.test", name=f"Client {number}"
        )
        await save_card(Practice(clinician, person, client_id, 0), "4242424242424242", now, settings, queue)
        client_ids.append(client_id)

    started = await asyncio.gather(
        *(asyncio.to_thread(start_web, settings, **PROCESS_ENV, CLOCK_START="") for _ in "ab")
    )
    processes = [process for process, _ in started]
    web = [base_url for _, base_url in started]
    workers = [start_worker(settings, **PROCESS_ENV) for _ in "ab"]
    try:
        async with httpx.AsyncClient(timeout=20) as first, httpx.AsyncClient(timeout=20) as second:
            # Sessions live in Redis: signed in through one process, recognised by the other.
            assert (await sign_in(first, web[0], clinician.email, PASSWORD)).status_code == 303
            calendar = await first.get(f"{web[1]}/calendar")
            assert calendar.status_code == 200 and "Calm Harbor" in calendar.text
            assert (await sign_in(second, web[1], clinician.email, PASSWORD)).status_code == 303
            assert (await second.get(f"{web[0]}/clients")).status_code == 200

            # The sign-in throttle is in Redis too: failures through one process lock the other.
            async with httpx.AsyncClient(timeout=20) as stranger:
                for _ in range(settings.login_attempts_per_account):
                    refused = await sign_in(stranger, web[0], "jordan@example.test", "not the password")
                    assert "match an account" in refused.text
                locked = await sign_in(stranger, web[1], "jordan@example.test", PASSWORD)
                assert locked.status_code == 200 and "Too many sign-in attempts" in locked.text

            appointment_ids = await book_and_mark(
                clinician.user.time_zone, now, client_ids, [first, second], web
            )
        assert len(set(appointment_ids)) == SESSIONS

        # Kill one worker mid-run; a supervisor starts a replacement, whose start-up sweep picks up
        # what the dead worker held (its charge lease is 1 s here).
        assert await wait_for(lambda: succeeded_at_least(SESSIONS // 5), timeout=30)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        done_at_kill = await succeeded_count()
        assert done_at_kill < SESSIONS, "every charge finished before the kill; the run is too small"
        await asyncio.sleep(1.5)
        workers[0] = start_worker(settings, **PROCESS_ENV)
        assert await wait_for(lambda: succeeded_at_least(SESSIONS), timeout=40), (
            f"{await succeeded_count()} of {SESSIONS} charges succeeded"
        )
    finally:
        for process in [*processes, *workers]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*processes, *workers]:
            try:
                process.wait(timeout=15)
            except Exception:
                process.kill()

    charges = await Charge.select(Charge.id, Charge.appointment, Charge.status, Charge.amount_minor)
    assert len(charges) == SESSIONS
    assert {row["appointment"] for row in charges} == set(appointment_ids)
    assert {row["status"] for row in charges} == {"succeeded"}
    # What the card processor took: one successful payment per charge, none for anything else.
    payments = await SandboxPayment.select(SandboxPayment.idempotency_key).where(
        (SandboxPayment.kind == "payment") & (SandboxPayment.status == "succeeded")
    )
    per_charge = Counter(int(row["idempotency_key"].split(":")[1]) for row in payments)
    assert per_charge == Counter({row["id"]: 1 for row in charges})
    occurred = await Appointment.count().where(Appointment.status == "occurred")
    assert occurred == SESSIONS


async def succeeded_count() -> int:
    return await Charge.count().where(Charge.status == "succeeded")


async def succeeded_at_least(number: int) -> bool:
    return await succeeded_count() >= number


async def book_and_mark(zone_name, now, client_ids, clients, web) -> list[int]:
    """Book each session through one process and mark it Occurred through the other, a few at a time."""
    zone = ZoneInfo(zone_name)
    limit = asyncio.Semaphore(CONCURRENCY)
    deadline = time.monotonic() + 90

    async def one(index: int) -> int:
        starts = (now - timedelta(hours=index + 2)).astimezone(zone)
        client = clients[index % 2]
        booking_web, marking_web = web[index % 2], web[(index + 1) % 2]
        async with limit:
            assert time.monotonic() < deadline, "booking is far too slow; stopping"
            booked = await post(
                client,
                booking_web,
                "/appointments/",
                {
                    "client_id": str(client_ids[index % len(client_ids)]),
                    "date": starts.strftime("%Y-%m-%d"),
                    "time": starts.strftime("%H:%M"),
                    "kind": "regular",
                },
                htmx=True,
            )
            assert booked.status_code == 200 and "Booked" in booked.text, booked.text[:500]
            appointment_id = int(PANEL_LINK.search(booked.text).group(1))
            marked = await post(
                client,
                marking_web,
                f"/appointments/{appointment_id}/status",
                {"status": "occurred"},
                htmx=True,
            )
            assert marked.status_code == 200 and 'status-occurred">Occurred' in marked.text, marked.text[:500]
            return appointment_id

    return await asyncio.gather(*(one(index) for index in range(SESSIONS)))
