"""Logs: JSON lines with a request id that follows the work into the worker, and no personal data."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from app.domain.statuses import ChargeStatus as C
from app.models.tables import Charge, Client
from tests.charging_support import add_appointment, fast_forward
from tests.conftest import DATABASE_URL, ROOT, START, start_web
from tests.helpers import PASSWORD, link_in, make_clinician, post_form, sign_in

CLIENT_NAME = "Harriet Quillfeather"
CLIENT_EMAIL = "harriet.quill@example.test"
CLINICIAN_NAME = "Maya Okonkwo-Lind"
CLINICIAN_EMAIL = "maya.lind@example.test"
STRANGER_EMAIL = "someone.guessing@example.test"
CLIENT_PASSWORD = "quiet river stones at dawn"
CARD = "4242 4242 4242 4242"


async def until(check, what: str, redis=None, settings=None, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not (found := await check()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        if redis is not None:
            await fast_forward(redis, settings)  # the server's clock may run ahead of arq's
        await asyncio.sleep(0.2)
    return found


def read_lines(path) -> list[dict]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    return parsed


@pytest.mark.slow
async def test_a_full_journey_logs_json_lines_with_request_ids_and_no_personal_data(
    db, redis, settings, clock, smtp_server, tmp_path
):
    clinician = await make_clinician(settings, clock.now(), email=CLINICIAN_EMAIL, name=CLINICIAN_NAME)
    shared = {"LOG_FORMAT": "json", "CHARGE_DELAY": "0", "SMTP_URL": smtp_server.url}
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    with web_log.open("w") as web_out, worker_log.open("w") as worker_out:
        worker_env = {
            **os.environ,
            **shared,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": settings.redis_url,
            "DEBUG": "1",
            "SECRET_KEY": settings.secret_key,
            "CLOCK_START": START.isoformat(),
            "USE_DB_POOL": "0",
            "PYTHONPATH": str(ROOT),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=worker_env,
            stdout=worker_out,
            stderr=worker_out,
        )
        web, base_url = start_web(
            settings, stderr=web_out, **shared
        )  # its clock a little behind the worker's
        try:
            async with (
                httpx.AsyncClient(base_url=base_url) as staff,
                httpx.AsyncClient(base_url=base_url) as person,
            ):
                await post_form(staff, "/login", {"email": STRANGER_EMAIL, "password": "guess one two"})
                await post_form(staff, "/login", {"email": CLINICIAN_EMAIL, "password": "not my password"})
                await sign_in(staff, clinician)
                added = await post_form(
                    staff,
                    "/clients/new",
                    {"name": CLIENT_NAME, "email": CLIENT_EMAIL, "billing_type": "self_pay"},
                )
                assert added.status_code == 303, added.text
                await staff.get("/clients", params={"q": CLIENT_NAME})

                async def invitation():
                    return smtp_server.messages

                (message,) = await until(invitation, "the invitation email", redis, settings)
                path = link_in(message.get_body(("plain",)).get_content(), "/invite/")
                await person.get(path)
                accepted = await post_form(
                    person, path, {"password": CLIENT_PASSWORD, "password_confirm": CLIENT_PASSWORD}
                )
                assert accepted.status_code in (200, 303), accepted.text
                saved = await post_form(
                    person,
                    "/portal/card",
                    {"number": CARD, "exp_month": "12", "exp_year": str(clock.now().year + 3)},
                    htmx=True,
                )
                assert "Card saved." in saved.text

                client = await Client.objects().where(Client.email == CLIENT_EMAIL).first()
                appointment_id = await add_appointment(clinician, client.id, clock.now() - timedelta(hours=2))
                marked = await post_form(
                    staff, f"/appointments/{appointment_id}/status", {"status": "occurred"}, htmx=True
                )
                assert marked.status_code == 200
                request_id = marked.headers["x-request-id"]

                async def charged():
                    charge = await Charge.objects().where(Charge.appointment == appointment_id).first()
                    return charge is not None and charge.status == C.SUCCEEDED

                await until(charged, "the charge", redis, settings)
        finally:
            for process in (worker, web):
                process.terminate()
                process.wait(timeout=30)

    web_lines, worker_lines = read_lines(web_log), read_lines(worker_log)
    requests = [line for line in web_lines if line["logger"] == "stillwater.request"]
    assert len(requests) >= 10, "one line per request"
    (marking,) = [line for line in requests if line.get("request_id") == request_id]
    assert marking["route"] == "/appointments/{appointment_id}/status" and marking["status"] == 200
    charge_lines = [line for line in worker_lines if line.get("request_id") == request_id]
    assert any("charge_appointment" in line["message"] for line in charge_lines), (
        "the worker's lines for the charge carry the id of the request that marked the session"
    )

    everything = (web_log.read_text() + worker_log.read_text()).lower()
    personal = [
        CLIENT_NAME,
        *CLIENT_NAME.split(),
        CLIENT_EMAIL,
        CLINICIAN_NAME,
        CLINICIAN_EMAIL,
        STRANGER_EMAIL,
        CLIENT_PASSWORD,
        PASSWORD,
        CARD,
        CARD.replace(" ", ""),
    ]
    found = [value for value in personal if value.lower() in everything]
    assert not found, f"personal data in the logs: {found}"
