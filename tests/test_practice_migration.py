"""The migration that makes every solo clinician a practice of one, applied the way an upgrade applies it:
to a database at yesterday's schema holding yesterday's data, on the engine the suite runs on (SQLite,
or PostgreSQL when DATABASE_URL says so)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATABASE_URL, IS_POSTGRES, ROOT

BEFORE = "2026-12-02T05:01:32:344932"  # the last migration before practices existed
AT = "2026-11-02 15:00:00+00:00"

# Yesterday's data: two solo clinicians, one address that is a client of both, sessions and a charge.
SEED = [
    "INSERT INTO app_user (id, email, name, role, created_at) VALUES "
    "(1, 'maya@example.test', 'Maya Chen', 'clinician', '{at}'), "
    "(2, 'jordan@example.test', 'Jordan Lee', 'clinician', '{at}'), "
    "(3, 'alex@example.test', 'Alex Rivera', 'client', '{at}'), "
    "(4, 'sam@example.test', 'Sam Okafor', 'client', '{at}')",
    'INSERT INTO clinician (id, "user", practice_name, time_zone, currency, insurance_email, booking_slug, '
    "cancellation_window_hours, max_fee_minor, require_two_factor, intro_fee_minor, created_at) VALUES "
    "(1, 1, 'Calm Harbor', 'America/New_York', 'USD', 'billing@calm.test', 'calm-harbor', 24, 50000, "
    "true, 0, '{at}'), "
    "(2, 2, 'Northside', 'Europe/London', 'GBP', '', 'northside', 48, 200000, false, 2500, '{at}')",
    'INSERT INTO client (id, clinician, "user", name, email, created_at) VALUES '
    "(1, 1, 3, 'Alex Rivera', 'alex@example.test', '{at}'), "
    "(2, 1, 4, 'Sam Okafor', 'sam@example.test', '{at}'), "
    "(3, 2, 3, 'Alex R', 'alex@example.test', '{at}')",
    "INSERT INTO appointment (id, clinician, client, starts_at, ends_at, duration_minutes, fee_minor, "
    "status, created_at) VALUES (1, 1, 1, '{at}', '{at}', 50, 15000, 'occurred', '{at}'), "
    "(2, 2, 3, '{at}', '{at}', 50, 9000, 'scheduled', '{at}')",
    "INSERT INTO charge (id, appointment, client, clinician, amount_minor, status, due_at, created_at, "
    "updated_at) VALUES (1, 1, 1, 1, 15000, 'succeeded', '{at}', '{at}', '{at}')",
]


class Scratch:
    """A database of its own for this test, reached by piccolo (subprocess) and plain SQL."""

    def __init__(self, tmp_path: Path) -> None:
        if IS_POSTGRES:
            base, _, name = DATABASE_URL.rpartition("/")
            self.name = f"{name}_migration"
            self.url = f"{base}/{self.name}"
            for statement in (f"DROP DATABASE IF EXISTS {self.name}", f"CREATE DATABASE {self.name}"):
                subprocess.run(["psql", DATABASE_URL, "-q", "-c", statement], check=True)
        else:
            self.path = tmp_path / "upgrade.sqlite"
            self.url = f"sqlite:///{self.path}"

    def migrate(self, *target: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "stillwater", *target],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DATABASE_URL": self.url},
        )

    def execute(self, statement: str) -> None:
        if IS_POSTGRES:
            subprocess.run(
                ["psql", self.url, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
                check=True,
                capture_output=True,
            )
        else:
            with sqlite3.connect(self.path) as connection:
                connection.execute(statement)

    def rows(self, query: str) -> list[tuple]:
        if IS_POSTGRES:
            done = subprocess.run(
                ["psql", self.url, "-q", "-t", "-A", "-F", "|", "-c", query],
                check=True,
                capture_output=True,
                text=True,
            )
            return [tuple(line.split("|")) for line in done.stdout.splitlines() if line]
        with sqlite3.connect(self.path) as connection:
            return [tuple(str(v) for v in row) for row in connection.execute(query)]

    def drop(self) -> None:
        if IS_POSTGRES:
            subprocess.run(
                ["psql", DATABASE_URL, "-q", "-c", f"DROP DATABASE IF EXISTS {self.name}"], check=True
            )


@pytest.fixture
def upgraded(tmp_path):
    scratch = Scratch(tmp_path)
    scratch.migrate(BEFORE)
    for statement in SEED:
        scratch.execute(statement.format(at=AT))
    scratch.migrate()
    yield scratch
    scratch.drop()


def test_each_clinician_becomes_the_owner_of_a_practice_of_one(upgraded):
    true = "t" if IS_POSTGRES else "1"
    false = "f" if IS_POSTGRES else "0"
    assert upgraded.rows(
        "SELECT id, name, booking_slug, time_zone, currency, insurance_email, cancellation_window_hours, "
        "max_fee_minor, require_two_factor, intro_fee_minor FROM practice ORDER BY id"
    ) == [
        (
            "1",
            "Calm Harbor",
            "calm-harbor",
            "America/New_York",
            "USD",
            "billing@calm.test",
            "24",
            "50000",
            true,
            "0",
        ),
        ("2", "Northside", "northside", "Europe/London", "GBP", "", "48", "200000", false, "2500"),
    ]
    assert upgraded.rows("SELECT id, practice FROM clinician ORDER BY id") == [("1", "1"), ("2", "2")]
    assert upgraded.rows(
        'SELECT practice, "user", role, clinician FROM membership '
        "WHERE accepted_at IS NOT NULL AND removed_at IS NULL ORDER BY id"
    ) == [("1", "1", "owner", "1"), ("2", "2", "owner", "2")]


def test_clients_join_their_clinician_s_practice_with_an_assignment_history(upgraded):
    assert upgraded.rows("SELECT id, practice, clinician FROM client ORDER BY id") == [
        ("1", "1", "1"),
        ("2", "1", "1"),
        ("3", "2", "2"),
    ]
    assert upgraded.rows(
        "SELECT client, clinician FROM client_assignment WHERE ended_at IS NULL ORDER BY client"
    ) == [("1", "1"), ("2", "1"), ("3", "2")]
    # sessions and the charge are untouched
    assert upgraded.rows("SELECT id, clinician, client, status FROM appointment ORDER BY id") == [
        ("1", "1", "1", "occurred"),
        ("2", "2", "3", "scheduled"),
    ]
    assert upgraded.rows("SELECT appointment, status, amount_minor FROM charge") == [
        ("1", "succeeded", "15000")
    ]


def test_after_the_upgrade_new_practices_get_new_ids_and_one_record_per_address_per_practice(upgraded):
    upgraded.execute(
        f"INSERT INTO practice (name, booking_slug, created_at) VALUES ('Third', 'third', '{AT}')"
    )
    assert upgraded.rows("SELECT id FROM practice WHERE booking_slug = 'third'") == [("3",)]
    with pytest.raises((subprocess.CalledProcessError, sqlite3.IntegrityError)):
        upgraded.execute(
            "INSERT INTO client (clinician, practice, name, email, created_at) "
            f"VALUES (1, 1, 'Again', 'alex@example.test', '{AT}')"
        )
    with pytest.raises((subprocess.CalledProcessError, sqlite3.IntegrityError)):
        upgraded.execute(
            'INSERT INTO membership (practice, "user", role, invited_at) '
            f"VALUES (1, 1, 'clinician', '{AT}')"
        )
