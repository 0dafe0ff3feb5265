"""A client's records as a zip (portal and clinician), the devices list with "sign out" and
"sign out everywhere else", and idle timeouts taken from settings."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest

from app.config import ConfigError, Settings
from app.models.db import transaction
from app.models.tables import Appointment, AuditEvent, Charge, Client, InsurancePolicy
from tests.conftest import browser, running
from tests.helpers import make_client, make_clinician, post_form, sign_in

LAPTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)


async def add_history(clinician, client_id: int, now) -> None:
    """One occurred session with a paid charge, and insurance details, for ``client_id``."""
    async with transaction():
        rows = await Appointment.insert(
            Appointment(
                clinician=clinician.user.clinician_id,
                client=client_id,
                starts_at=now - timedelta(days=3),
                ends_at=now - timedelta(days=3) + timedelta(minutes=50),
                duration_minutes=50,
                fee_minor=15000,
                status="occurred",
                created_at=now,
            )
        ).returning(Appointment.id)
        await Charge.insert(
            Charge(
                appointment=rows[0]["id"],
                client=client_id,
                clinician=clinician.user.clinician_id,
                amount_minor=15000,
                status="succeeded",
                due_at=now - timedelta(days=1),
                succeeded_at=now - timedelta(days=1),
                created_at=now,
                updated_at=now,
            )
        )
        await InsurancePolicy.insert(
            InsurancePolicy(
                client=client_id, payer="=Acme Health", member_id="M-123", copay_minor=2500, updated_at=now
            )
        )
        await Client.update({Client.internal_note: "private clinician note"}).where(Client.id == client_id)


def unzip(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


async def test_a_client_downloads_their_own_records(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    alex, alex_id = await make_client(settings, clock.now(), maya)
    _, sam_id = await make_client(settings, clock.now(), maya, email="sam@example.test", name="Sam Lee")
    await add_history(maya, alex_id, clock.now())
    await add_history(maya, sam_id, clock.now())
    await sign_in(client, alex)

    response = await client.get("/portal/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    files = unzip(response.content)
    assert set(files) == {"README.txt", "sessions.csv", "charges.csv", "insurance.csv", "records.json"}
    sessions = list(csv.DictReader(io.StringIO(files["sessions.csv"])))
    assert len(sessions) == 1 and sessions[0]["status"] == "Occurred" and sessions[0]["fee"] == "150.00"
    charges = list(csv.DictReader(io.StringIO(files["charges.csv"])))
    assert len(charges) == 1 and charges[0]["amount"] == "150.00"
    insurance = list(csv.DictReader(io.StringIO(files["insurance.csv"])))
    assert insurance[0]["payer"] == "'=Acme Health", "spreadsheet formulas are escaped"
    records = json.loads(files["records.json"])
    assert records["clients"][0]["name"] == "Alex Rivera"
    assert records["clients"][0]["insurance"]["copay"] == "25.00"
    everything = "".join(files.values())
    assert "Sam Lee" not in everything and "sam@example.test" not in everything
    assert "private clinician note" not in everything
    exported = await AuditEvent.objects().where(AuditEvent.action == "records_exported")
    assert [(row.client_id, row.detail) for row in exported] == [(alex_id, "by client")]


async def test_a_clinician_exports_only_their_own_clients(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    alex, alex_id = await make_client(settings, clock.now(), maya)
    ruth = await make_clinician(settings, clock.now(), email="ruth@example.test", practice="Pines")
    await add_history(maya, alex_id, clock.now())
    await sign_in(client, maya)
    response = await client.get(f"/clients/{alex_id}/export")
    files = unzip(response.content)
    assert len(list(csv.DictReader(io.StringIO(files["sessions.csv"])))) == 1
    assert (await client.get("/clients/999999/export")).status_code == 404

    await sign_in(other_client, ruth)
    assert (await other_client.get(f"/clients/{alex_id}/export")).status_code == 404
    await post_form(other_client, "/logout")
    await sign_in(other_client, alex)
    assert (await other_client.get(f"/clients/{alex_id}/export")).status_code == 403
    await post_form(client, "/logout")
    await sign_in(client, maya)
    assert (await client.get("/portal/export")).status_code == 403


async def test_devices_are_listed_and_can_be_signed_out(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    client.headers["User-Agent"] = LAPTOP_UA
    other_client.headers["User-Agent"] = PHONE_UA
    await sign_in(client, maya)
    clock.advance(minutes=2)
    await sign_in(other_client, maya)
    page = await client.get("/account/security")
    assert "Chrome on Windows" in page.text and "Chrome on Android" in page.text
    assert page.text.count("This device") == 1
    laptop_part = page.text.split("Chrome on Windows", 1)[1].split("</li>", 1)[0]
    assert "This device" in laptop_part

    phone_part = page.text.split("Chrome on Android", 1)[1]
    device_id = phone_part.split('action="/account/sessions/', 1)[1].split("/end", 1)[0]
    done = await post_form(client, f"/account/sessions/{device_id}/end")
    assert done.status_code == 303
    assert (await other_client.get("/calendar", follow_redirects=False)).status_code == 303
    assert (await client.get("/calendar")).status_code == 200
    again = await post_form(client, f"/account/sessions/{device_id}/end", follow_redirects=True)
    assert "already signed out" in again.text
    ended = await AuditEvent.objects().where(AuditEvent.action == "session_ended")
    assert len(ended) == 1 and ended[0].detail == "Chrome on Android"


async def test_sign_out_everywhere_else_keeps_only_this_device(client, other_client, settings, clock):
    from app.web.app import create_app

    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    await sign_in(other_client, maya)
    third_app = create_app(settings, clock=clock)
    async with running(third_app), browser(third_app) as third:
        await sign_in(third, maya)
        done = await post_form(client, "/account/sessions/end-others", follow_redirects=True)
        assert "Signed out on 2 other devices." in done.text
        assert (await third.get("/calendar", follow_redirects=False)).status_code == 303
    assert (await other_client.get("/calendar", follow_redirects=False)).status_code == 303
    assert (await client.get("/calendar")).status_code == 200
    assert "Sign out everywhere else" not in (await client.get("/account/security")).text
    row = (await AuditEvent.objects().where(AuditEvent.action == "sessions_ended_elsewhere"))[0]
    assert row.detail == "2 ended" and row.actor_id == maya.user.id


async def test_signing_out_this_device_from_the_list_ends_the_session(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    page = await client.get("/account/security")
    device_id = page.text.split('action="/account/sessions/', 1)[1].split("/end", 1)[0]
    done = await post_form(client, f"/account/sessions/{device_id}/end")
    assert done.headers["location"] == "/login?notice=signed-out"
    assert (await client.get("/calendar", follow_redirects=False)).status_code == 303


async def test_idle_timeouts_come_from_settings(db, redis, settings, clock, monkeypatch):
    from app.web.app import create_app

    monkeypatch.setenv("CLINICIAN_IDLE_TIMEOUT", "300")
    monkeypatch.setenv("CLIENT_IDLE_TIMEOUT", "600")
    monkeypatch.setenv("SESSION_MAX_AGE", "3600")
    from_env = Settings.from_env()
    assert (
        from_env.clinician_idle_timeout,
        from_env.client_idle_timeout,
        from_env.session_absolute_timeout,
    ) == (
        300,
        600,
        3600,
    )
    monkeypatch.setenv("CLINICIAN_IDLE_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="CLINICIAN_IDLE_TIMEOUT"):
        Settings.from_env()
    monkeypatch.delenv("CLINICIAN_IDLE_TIMEOUT")
    monkeypatch.setenv("CHARGE_DELAY", "48h")
    with pytest.raises(ConfigError, match="CHARGE_DELAY must be a whole number of seconds"):
        Settings.from_env()
    monkeypatch.delenv("CHARGE_DELAY")
    with pytest.raises(ConfigError, match="at least 120"):
        replace(settings, client_idle_timeout=30).check()

    short = replace(
        settings, clinician_idle_timeout=300, client_idle_timeout=600, session_absolute_timeout=3600
    )
    maya = await make_clinician(short, clock.now())
    alex, _ = await make_client(short, clock.now(), maya)
    application = create_app(short, clock=clock)
    async with running(application), browser(application) as web, browser(application) as portal:
        await sign_in(web, maya)
        await sign_in(portal, alex)
        page = await web.get("/calendar")
        assert 'data-idle-seconds="300"' in page.text and 'data-absolute-seconds-left="3600"' in page.text
        clock.advance(seconds=299)
        assert (await web.get("/calendar")).status_code == 200
        assert (await portal.get("/portal")).status_code == 200
        clock.advance(seconds=301)
        assert (await web.get("/calendar", follow_redirects=False)).status_code == 303
        assert (await portal.get("/portal")).status_code == 200, "clients have their own, longer idle time"

        await sign_in(web, maya)
        for _ in range(15):
            clock.advance(seconds=250)
            response = await web.get("/calendar", follow_redirects=False)
            if response.status_code != 200:
                break
        assert response.status_code == 303, "the absolute limit applies even with activity"


async def test_stay_signed_in_reports_the_time_left(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    clock.advance(minutes=14)
    response = await post_form(client, "/account/session/refresh", htmx=True)
    assert response.status_code == 200 and response.json() == {
        "seconds_left": settings.clinician_idle_timeout
    }
    for _ in range(70):
        clock.advance(minutes=10)
        assert (await client.get("/account/security")).status_code == 200
    near_end = await post_form(client, "/account/session/refresh", htmx=True)
    assert near_end.json() == {"seconds_left": 6 * 60}, "capped by the 12 hours since sign-in"
