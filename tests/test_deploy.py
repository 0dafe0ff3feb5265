"""The deployment recipe in deploy/ checked by the real tools: systemd-analyze, caddy, promtool.

Locally a missing tool skips its check; in CI (CI set) it fails, so the recipe is always validated
there (.ci/run installs the Debian packages systemd, caddy and prometheus)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
INSTALLED_PYTHON = "/opt/stillwater/.venv/bin/python"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required in CI (apt-get install {package})")
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return found


def test_systemd_units_verify_cleanly(tmp_path):
    analyze = tool("systemd-analyze", "systemd")
    units = sorted(DEPLOY.glob("*.service")) + sorted(DEPLOY.glob("*.timer"))
    assert {unit.name for unit in units} >= {"stillwater-web.service", "stillwater-worker.service"}
    for unit in units:  # the interpreter must exist for verify: this checkout's stands in for /opt's
        text = unit.read_text()
        (tmp_path / unit.name).write_text(text.replace(INSTALLED_PYTHON, sys.executable))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr
    for name in ("stillwater-web.service", "stillwater-worker.service"):
        text = (DEPLOY / name).read_text()
        assert "Restart=always" in text and "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text


def test_caddyfile_validates(tmp_path):
    caddy = tool("caddy", "caddy")
    env = {**os.environ, "STILLWATER_DOMAIN": "practice.example.org", "ACME_EMAIL": "it@example.org"}
    env["HOME"] = env["XDG_DATA_HOME"] = env["XDG_CONFIG_HOME"] = str(tmp_path)
    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, done.stderr
    formatted = subprocess.run([caddy, "fmt", str(DEPLOY / "Caddyfile")], capture_output=True, text=True)
    assert formatted.stdout == (DEPLOY / "Caddyfile").read_text(), "run `caddy fmt --overwrite`"


def test_alert_rules_check_and_fire_when_they_should():
    promtool = tool("promtool", "prometheus")
    checked = subprocess.run(
        [promtool, "check", "rules", str(DEPLOY / "alerts.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=DEPLOY, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
