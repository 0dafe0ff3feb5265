"""Backups that restore: `python -m app backup` of a seeded practice, `restore` into an empty database
elsewhere, and every row (clients, appointments, charges, the audit trail …) is there again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from app.models.tables import Appointment, AuditEvent, Charge, Client
from app.services.demo import CLINICIAN_EMAIL, seed
from tests.conftest import DATABASE_URL, IS_POSTGRES, ROOT
from tests.helpers import post_form


def command(*args: str, database_url: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def empty_database(tmp_path):
    """A second, empty database of the same kind as the test database."""
    if not IS_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = urlsplit(DATABASE_URL).path.lstrip("/") + "_restore"
    admin = _with_database(DATABASE_URL, "postgres")
    subprocess.run(["psql", admin, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run(["psql", admin, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True)
    yield _with_database(DATABASE_URL, name)
    subprocess.run(["psql", admin, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)


def every_row(database_url: str) -> dict[str, list]:
    """Every table's rows, in id order, as plain JSON-able values."""
    if database_url.startswith("postgres"):
        tables = subprocess.run(
            ["psql", database_url, "-At", "-c", "SELECT tablename FROM pg_tables WHERE schemaname='public'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        rows = {}
        for table in tables:
            query = f"SELECT coalesce(json_agg(x), '[]') FROM (SELECT * FROM \"{table}\" ORDER BY 1) x"
            out = subprocess.run(
                ["psql", database_url, "-At", "-c", query], check=True, capture_output=True, text=True
            ).stdout
            rows[table] = json.loads(out)
        return rows
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [list(r) for r in conn.execute(f'SELECT * FROM "{t}" ORDER BY 1')] for t in tables}  # noqa: S608


def audit_trail_refuses_edits(database_url: str) -> bool:
    statement = "UPDATE audit_event SET detail = 'rewritten'"
    if database_url.startswith("postgres"):
        done = subprocess.run(["psql", database_url, "-c", statement], capture_output=True, text=True)
        return done.returncode != 0
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        try:
            conn.execute(statement)
        except sqlite3.DatabaseError:
            return True
    return False


async def seeded_practice(client, settings, clock) -> None:
    assert await seed(settings, clock.now())
    await post_form(client, "/login", {"email": CLINICIAN_EMAIL, "password": "not the password"})
    await post_form(client, "/login", {"email": CLINICIAN_EMAIL, "password": settings.demo_password})
    for table in (Client, Appointment, Charge, AuditEvent):
        assert await table.count() > 0, f"the seeded practice has no {table._meta.tablename} rows"


async def test_backup_restores_every_client_session_charge_and_audit_event(
    client, settings, clock, empty_database, tmp_path
):
    await seeded_practice(client, settings, clock)
    elsewhere = tmp_path / "operator"
    elsewhere.mkdir()

    backed_up = command("backup", "practice.backup", database_url=DATABASE_URL, cwd=elsewhere)
    assert backed_up.returncode == 0, backed_up.stderr
    backup_file = elsewhere / "practice.backup"
    assert backup_file.stat().st_size > 0
    assert backup_file.stat().st_mode & 0o077 == 0, "a backup holds personal data: owner-only"

    restored = command("restore", "practice.backup", database_url=empty_database, cwd=elsewhere)
    assert restored.returncode == 0, restored.stderr

    original, copy = every_row(DATABASE_URL), every_row(empty_database)
    assert set(copy) == set(original)
    for table in ("client", "appointment", "charge", "audit_event", "app_user"):
        assert copy[table] == original[table] and copy[table], table
    assert copy == original
    assert audit_trail_refuses_edits(empty_database), "the restored audit trail is still append-only"

    migrated = command("migrate", database_url=empty_database)
    assert migrated.returncode == 0, migrated.stderr
    assert every_row(empty_database) == original, "a restored database is already fully migrated"


async def test_restore_refuses_a_database_that_is_not_empty(client, settings, clock, tmp_path):
    await seeded_practice(client, settings, clock)
    backup_file = tmp_path / "practice.backup"
    assert command("backup", str(backup_file), database_url=DATABASE_URL).returncode == 0
    before = every_row(DATABASE_URL)

    refused = command("restore", str(backup_file), database_url=DATABASE_URL)

    assert refused.returncode == 1
    assert "restore only into an empty database" in refused.stderr
    assert every_row(DATABASE_URL) == before

    again = command("backup", str(backup_file), database_url=DATABASE_URL)
    assert again.returncode == 1 and "already exists" in again.stderr, "a backup never overwrites"


async def test_restore_refuses_a_file_that_is_not_a_backup_for_this_database(db, empty_database, tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("not a backup")
    refused = command("restore", str(stray), database_url=empty_database)
    assert refused.returncode == 1
    kind = "PostgreSQL" if IS_POSTGRES else "SQLite"
    assert f"is not a {kind} backup" in refused.stderr
    assert every_row(empty_database) == {}
