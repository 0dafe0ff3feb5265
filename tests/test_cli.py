"""The command line: demo seed, create-clinician, and `python -m app run` serving web + worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from app.models.tables import Appointment, Charge, Client, FeeAgreement, Membership, User
from app.services import fees
from app.services.demo import CLIENT_EMAIL, CLINICIAN_EMAIL, FRONT_DESK_EMAIL, seed
from tests.conftest import DATABASE_URL, ROOT, free_port
from tests.helpers import post_form


async def test_demo_practice_has_varied_clients_and_a_month_of_sessions(client, settings, clock):
    assert await seed(settings, clock.now()) is True
    assert await seed(settings, clock.now()) is False, "seeding twice does nothing"
    assert await Client.count() == 14
    roles = await Membership.select(Membership.role, Membership.user.email).where(
        Membership.practice.name == "Calm Harbor Therapy"
    )
    assert sorted((r["role"], r["user.email"]) for r in roles) == [
        ("clinician", "noor@stillwater.test"),
        ("clinician", "tomas@stillwater.test"),
        ("front_desk", FRONT_DESK_EMAIL),
        ("owner", CLINICIAN_EMAIL),
    ]
    statuses = {row["status"] for row in await Appointment.select(Appointment.status)}
    assert {"scheduled", "occurred"} <= statuses and len(statuses) >= 3
    first = await Appointment.select(Appointment.starts_at).order_by(Appointment.starts_at).first()
    last = (
        await Appointment.select(Appointment.starts_at)
        .order_by(Appointment.starts_at, ascending=False)
        .first()
    )
    assert (last["starts_at"] - first["starts_at"]).days >= 25
    assert await Charge.count() > 0
    invited = await User.count().where((User.role == "client") & (User.password_hash.is_null()))
    assert invited >= 2

    for email, home in (
        (CLINICIAN_EMAIL, "/calendar"),
        ("noor@stillwater.test", "/calendar"),
        (CLIENT_EMAIL, "/portal"),
    ):
        response = await post_form(client, "/login", {"email": email, "password": settings.demo_password})
        assert response.headers["location"] == home
        await post_form(client, "/logout")


async def test_demo_practice_has_a_fee_policy_its_signed_up_clients_agreed_to(client, settings, clock):
    await seed(settings, clock.now())
    alex = await Client.objects().where(Client.email == CLIENT_EMAIL).first()
    invited = await Client.objects().where(Client.email == "jamie@stillwater.test").first()
    assert await fees.words_to_agree(alex.id) is None  # agreed to the current words
    words, _ = await fees.words_to_agree(invited.id)  # agrees when accepting the invitation
    assert "$75.00" in words
    (agreement,) = await FeeAgreement.objects().where(FeeAgreement.client == alex.id)
    assert agreement.text == words and agreement.address == "198.51.100.20"

    await post_form(client, "/login", {"email": CLINICIAN_EMAIL, "password": settings.demo_password})
    policy = (await client.get("/practice/fees")).text
    assert 'value="75.00"' in policy or 'value="75"' in policy
    assert 'value="100%"' in policy


def test_create_clinician_command(db):
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "create-clinician",
            "--email",
            "New@Example.test",
            "--name",
            "Nia Obi",
            "--practice",
            "Nia Obi Therapy",
            "--time-zone",
            "Europe/Dublin",
            "--password",
            "gentle tide pools",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    weak = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "create-clinician",
            "--email",
            "w@example.test",
            "--name",
            "W",
            "--practice",
            "W",
            "--password",
            "short",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert weak.returncode == 2 and "at least 10" in weak.stderr


async def test_created_clinician_can_sign_in(client, db):
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "create-clinician",
            "--email",
            "nia@example.test",
            "--name",
            "Nia Obi",
            "--practice",
            "Nia Obi Therapy",
            "--password",
            "gentle tide pools",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    response = await post_form(
        client, "/login", {"email": "NIA@example.test", "password": "gentle tide pools"}
    )
    assert response.headers["location"] == "/calendar"


def test_run_command_serves_the_app_and_prints_the_logins(tmp_path, redis):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite'}",
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        "DEMO_PASSWORD": "a demo password here",
    }
    env.pop("SECRET_KEY", None)
    env.pop("DEBUG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        printed = "".join(output)
        assert f"http://127.0.0.1:{port}" in printed
        assert "maya@stillwater.test / a demo password here" in printed
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:  # noqa: S310
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("web server never answered /healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:  # noqa: S310
            assert "Sign in" in response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_demo_cards_pay_and_demo_payments_can_be_refunded(
    db, redis, settings, clock, arq_pool, run_worker
):
    """Demo cards behave like the sandbox 4242 card, and the demo's paid charges exist at the sandbox."""
    from datetime import timedelta

    from app.payments.sandbox import SandboxGateway
    from app.services import charges
    from app.services.context import Actor
    from app.services.queue import JobQueue

    clock.advance(days=2, hours=8)  # Wednesday afternoon: Monday's and Tuesday's charges are still pending
    await seed(settings, clock.now())
    gateway = SandboxGateway()
    paid = await Charge.objects().where(Charge.status == "succeeded").first()
    refund = await charges.refund_charge(
        paid.appointment,
        paid.amount_minor,
        "demo-refund",
        clinician_id=paid.clinician,
        now=clock.now(),
        actor=Actor(role="clinician", clinician_id=paid.clinician),
        gateway=gateway,
    )
    assert refund.status == "succeeded"
    assert (await Charge.objects().where(Charge.id == paid.id).first()).status == "refunded"

    pending = await Charge.objects().where(Charge.status == "scheduled")
    with_card = [c for c in pending if c.payment_method is not None]
    assert with_card
    clock.advance(days=3)
    await charges.sweep(
        now=clock.now(), settings=settings, gateway=gateway, queue=JobQueue(arq_pool, settings.queue_name)
    )
    await run_worker()  # the sweep queued their charge jobs
    assert await Charge.count().where(Charge.status == "scheduled") == 0
    newly_paid = await Charge.count().where(
        (Charge.status == "succeeded") & (Charge.succeeded_at > clock.now() - timedelta(days=1))
    )
    assert newly_paid == len(with_card), "every demo client with a card pays"
    failed = await Charge.objects().where(
        Charge.id.is_in([c.id for c in pending if c.payment_method is None])
    )
    assert {c.status for c in failed} <= {"failed"}, "no card on file is a visible failure"


def run_command(port: int, tmp_path, **env_vars: str) -> subprocess.CompletedProcess:
    """``python -m app run --port port`` on a fresh SQLite file; what it printed and its exit code."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite'}",
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        **env_vars,
    }
    env.pop("SECRET_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # it went on to serve: stop its web and worker too
        out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_run_on_a_busy_port_says_so_and_how_to_pick_another_without_claiming_to_run(tmp_path, redis):
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = run_command(port, tmp_path)
    printed = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"Port {port} is already in use; run `make run PORT=" in printed
    assert printed.strip().count("\n") == 0, printed  # one sentence, no traceback
    assert "Stillwater is running" not in printed
    assert not (tmp_path / "run.sqlite").exists(), "nothing was migrated or started"


def test_run_with_a_redis_that_does_not_answer_says_so_in_one_line(tmp_path, redis):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    done = run_command(free_port(), tmp_path, REDIS_URL=dead)
    printed = done.stdout + done.stderr
    assert done.returncode != 0
    assert printed.startswith(f"Redis at REDIS_URL ({dead}) does not answer") and "Traceback" not in printed
    assert printed.strip().count("\n") == 0, printed


def test_run_with_a_database_that_does_not_answer_says_so_in_one_line_without_the_password(tmp_path, redis):
    port = free_port()
    done = run_command(
        free_port(), tmp_path, DATABASE_URL=f"postgres://stillwater:s3cret@127.0.0.1:{port}/practice"
    )
    printed = done.stdout + done.stderr
    assert done.returncode != 0
    assert printed.startswith(
        f"The database at DATABASE_URL (postgres://stillwater:***@127.0.0.1:{port}/practice) does not answer"
    )
    assert "s3cret" not in printed and "Traceback" not in printed
    assert printed.strip().count("\n") == 0, printed
