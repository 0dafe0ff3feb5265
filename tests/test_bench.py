"""The benchmark script runs end to end at a tiny scale, so it can't rot (no speed is asserted).

It needs wrk (``apt-get install wrk``; ``.ci/run`` installs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import IS_POSTGRES, ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="the benchmark's load generator is wrk"),
    # It seeds a SQLite database of its own whatever the suite runs on: once, in the SQLite pass, is enough.
    pytest.mark.skipif(IS_POSTGRES, reason="the benchmark makes its own SQLite database"),
]

ENDPOINTS = {
    "bare Litestar",
    "floor (signed out)",
    "floor (signed in)",
    "healthz",
    "login page",
    "calendar week",
    "calendar week (htmx)",
    "calendar day",
    "appointment panel (htmx)",
    "status change (htmx)",
    "report, a month",
    "report, a year",
    "CSV export, a year",
    "client portal home",
}


def test_benchmark_seeds_serves_loads_and_charges_at_a_tiny_scale(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    command = [
        sys.executable,
        "-m",
        "bench",
        "--sqlite",
        "--database-url",
        f"sqlite:///{tmp_path / 'b.sqlite'}",
    ]
    command += ["--redis-url", os.environ["TEST_REDIS_URL"], "--clinicians", "1", "--clients", "4"]
    command += ["--appointments", "20", "--seconds", "1", "--due-charges", "5", "--concurrency", "2"]
    command += ["--web-workers", "1", "--arq-workers", "1", "--out", str(out)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]

    results = json.loads(out.read_text())
    rows = {row["endpoint"]: row for row in results["endpoints"]}
    assert set(rows) == ENDPOINTS
    assert all(row["errors"] == 0 and row["requests"] >= 1 for row in rows.values())
    # Each page is set against both floors of the same run; the floors were measured in rounds.
    assert rows["bare Litestar"]["vs_bare"] == 1 and rows["floor (signed in)"]["vs_floor"] == 1
    assert len(rows["floor (signed in)"]["rounds_rps"]) == len(rows["bare Litestar"]["rounds_rps"]) == 3
    # The server counted its queries: none for either floor (signed in, the person comes from the
    # session), some for every page that reads data; and timed the CPU each request took.
    assert rows["floor (signed out)"]["queries"] == rows["floor (signed in)"]["queries"] == 0
    assert all(row["cpu_ms"] > 0 for row in rows.values())
    reading = ENDPOINTS - {"bare Litestar", "floor (signed out)", "floor (signed in)", "login page"}
    assert all(rows[name]["queries"] > 0 for name in reading)
    assert rows["login page"]["encoding"] == "gzip"  # compression is on for pages over 500 bytes
    assert results["phone_first_load"]["total"] > results["phone_first_load"]["html"] > 0
    charged = results["charge_worker"]
    assert sum(charged["outcomes"].values()) == charged["charges"] == 5
    assert results["seeded"]["appointments"] == 20
    assert (
        "calendar week" in finished.stdout and "×bare" in finished.stdout and "Whole run" in finished.stdout
    )
