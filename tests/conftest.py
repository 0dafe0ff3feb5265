"""Test fixtures: a real database (SQLite by default, PostgreSQL when DATABASE_URL says so), a real
Redis (a dedicated DB index, flushed per test), the app behind Litestar's test client, a frozen clock.

Environment:
- DATABASE_URL: unset -> a SQLite file in a temporary folder; ``postgres://…`` -> that database is
  wiped and migrated at the start of the run (use a database meant for tests).
- TEST_REDIS_URL: default ``redis://127.0.0.1:6379/15``; parallel runs must each use their own DB index.
- Under pytest-xdist (``-n N``, what ``scripts/test`` does) each test process gets its own redis-server
  on a free port (without one: DB indexes counting down from TEST_REDIS_URL's) and, on PostgreSQL, its
  own database ``<name>_gwN`` beside the one named.
- TEST_NOW: the instant the tests live at (ISO 8601 with offset); default START below. The live
  server and the browser run at it too, so no test depends on the real date or time of day. CI runs
  the date-sensitive tests again at awkward instants (``scripts/test-dates``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="stillwater-tests-"))
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"… when pytest-xdist runs the suite in parallel


def _own_postgres_database(url: str, worker: str) -> str:
    """A parallel test process's own PostgreSQL database beside the one named (created on first use)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{worker}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    exists = subprocess.run(
        ["psql", admin, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _own_redis() -> str:
    """A parallel test process's own redis-server on a free port (tests flush Redis), stopped at exit."""
    import atexit
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(_TMP)],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.02)
    return f"redis://127.0.0.1:{port}/0"


# What the person running the tests asked for, before this file picked a database (xdist's test
# processes inherit the environment of the process that started them).
_ASKED_DATABASE_URL = os.environ.setdefault(
    "STILLWATER_TESTS_ASKED_DATABASE_URL", os.environ.get("DATABASE_URL", "")
)
if not _ASKED_DATABASE_URL:
    os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite'}"
elif WORKER and _ASKED_DATABASE_URL.startswith(("postgres://", "postgresql://")):
    os.environ["DATABASE_URL"] = _own_postgres_database(_ASKED_DATABASE_URL, WORKER)
os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
if WORKER and shutil.which("redis-server"):
    os.environ["TEST_REDIS_URL"] = _own_redis()
elif WORKER:  # no redis-server to start: DB indexes counting down from the one named
    _base, _, _index = os.environ["TEST_REDIS_URL"].rpartition("/")
    os.environ["TEST_REDIS_URL"] = f"{_base}/{int(_index) - int(WORKER.removeprefix('gw'))}"
os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
os.environ["PASSWORD_HASH_PROFILE"] = "fast"
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-1234567890")

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from app.clock import FrozenClock, StartedClock, parse_instant  # noqa: E402
from app.config import Settings  # noqa: E402
from app.models.tables import ALL_TABLES  # noqa: E402
from app.web.app import create_app  # noqa: E402

DATABASE_URL = os.environ["DATABASE_URL"]
IS_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
SQLITE_PATH = Path(DATABASE_URL.removeprefix("sqlite:///")) if not IS_POSTGRES else None
SQLITE_TEMPLATE = _TMP / "migrated-template.sqlite"
DEFAULT_START = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
START = parse_instant(os.environ["TEST_NOW"]) if os.environ.get("TEST_NOW") else DEFAULT_START


def run_migrations() -> None:
    """Apply the committed migrations from zero, the way operators do."""
    if IS_POSTGRES:
        subprocess.run(
            ["psql", DATABASE_URL, "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
            check=True,
        )
    elif SQLITE_PATH.exists():
        SQLITE_PATH.unlink()
    subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ},
    )


@pytest.fixture(scope="session", autouse=True)
def migrated_database():
    run_migrations()
    if not IS_POSTGRES:
        shutil.copyfile(SQLITE_PATH, SQLITE_TEMPLATE)
    yield
    shutil.rmtree(_TMP, ignore_errors=True)


def _emptying_statements() -> str:
    """PostgreSQL: delete every row with foreign-key triggers off and start every id sequence at 1 again.
    A test leaves a few rows in a few tables; TRUNCATE of every table gives each its new files and took
    0.6-1 s a test, these deletes take a few milliseconds."""
    statements = ["SET session_replication_role = replica"]
    statements += [f'DELETE FROM "{table._meta.tablename}"' for table in ALL_TABLES]
    statements.append(
        "SELECT setval(c.oid, 1, false) FROM pg_class c"
        " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
    )
    statements.append("SET session_replication_role = DEFAULT")
    return ";".join(statements)


async def reset_database() -> None:
    """Empty every table. SQLite: restore the migrated file; PostgreSQL: see ``_emptying_statements``."""
    if IS_POSTGRES:
        import asyncpg

        connection = await asyncpg.connect(DATABASE_URL)
        try:
            await connection.execute(_emptying_statements())
        finally:
            await connection.close()
    else:
        shutil.copyfile(SQLITE_TEMPLATE, SQLITE_PATH)


@pytest.fixture
async def db(migrated_database):
    await reset_database()
    yield


@pytest.fixture
async def redis():
    client = aioredis.from_url(os.environ["TEST_REDIS_URL"])
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url=DATABASE_URL,
        redis_url=os.environ["TEST_REDIS_URL"],
        secret_key=os.environ["SECRET_KEY"],
        debug=True,
        base_url="http://testserver.local",
        password_hash_profile="fast",
        use_db_pool=False,
        demo_password="demo-password-for-tests",
    )


@asynccontextmanager
async def running(application):
    """Run the app's lifespan in its own task (anyio scopes must exit in the task that entered them)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await started.wait()
    try:
        yield application
    finally:
        stop.set()
        await task


_APPS: dict[Settings, object] = {}


def app_on(settings: Settings, clock) -> object:
    """The app for ``settings``, started afresh on ``clock``. Building the app registers every route,
    over a second of work, so each test process builds one per distinct settings and reuses it (its
    lifespan, which makes the Redis connection and the runtime, still runs for every test)."""
    application = _APPS.get(settings)
    if application is None:
        application = _APPS[settings] = create_app(settings, clock=clock)
    application.state.clock = clock
    return application


@pytest.fixture
async def app(db, redis, settings, clock):
    async with running(app_on(settings, clock)) as application:
        yield application


def browser(application) -> httpx.AsyncClient:
    """An HTTP client that calls the app in this event loop (no server, no thread)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver.local"
    )


@pytest.fixture
async def client(app):
    async with browser(app) as test_client:
        yield test_client


@pytest.fixture
async def other_client(app):
    """A second browser against the same app (another person, or the same person elsewhere)."""
    async with browser(app) as test_client:
        yield test_client


@pytest.fixture
async def arq_pool(redis, settings):
    from app.services.queue import connect

    pool = await connect(settings)
    yield pool
    await pool.aclose()


async def burst_worker(settings: Settings, clock, *, redis_pool=None, ctx_extra=None, **options):
    """Run a real arq worker (the app's functions) in burst mode until the queue is empty (or, roughly,
    ``max_burst_jobs`` jobs: arq may count a finishing job twice). ``options`` go to ``Worker``."""
    from arq.worker import Worker

    from app.services.queue import connect, deserialize, serialize
    from workers.settings import WorkerSettings

    worker = Worker(
        functions=WorkerSettings.functions,
        redis_pool=redis_pool or await connect(settings),
        queue_name=settings.queue_name,
        burst=True,
        poll_delay=0,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={"settings": settings, "clock": clock, **(ctx_extra or {})},
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        keep_result=0,
        **options,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


@pytest.fixture
def run_worker(arq_pool, settings, clock):
    """Run a real arq worker (burst mode) against the test Redis until the queue is empty."""

    async def run(*, worker_settings: Settings | None = None, max_jobs: int | None = None):
        return await burst_worker(
            worker_settings or settings, clock, redis_pool=arq_pool, max_burst_jobs=max_jobs or -1
        )

    return run


class Mailbox:
    """What a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list = []
        self.raw: list[bytes] = []  # as received, for scoring by SpamAssassin
        self.peers: list = []  # each message's client address and port: one per SMTP connection

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        from email import message_from_bytes, policy

        self.raw.append(envelope.original_content or envelope.content)
        self.peers.append(session.peer)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield mailbox
    controller.stop()


CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
ARTIFACTS = ROOT / "test-artifacts"


def start_web(settings: Settings, *, stderr=None, **extra_env: str) -> tuple[subprocess.Popen, str]:
    """Serve the real app (``python -m app serve``) in its own process, on the test database and
    Redis; wait until ``/healthz`` answers. Returns the process and its base URL. ``stderr``: a file
    for its log."""
    import time
    import urllib.request

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": settings.redis_url,
        "DEBUG": "1",
        "BASE_URL": base_url,
        "SECRET_KEY": settings.secret_key,
        "PASSWORD_HASH_PROFILE": "fast",
        "USE_DB_POOL": "0",
        "CLOCK_START": START.isoformat(),
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=stderr,
    )
    deadline = time.monotonic() + 90  # a loaded 2-core box can take half a minute to import the app
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):  # noqa: S310 - loopback only
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the live server did not start") from None
            time.sleep(0.1)
    return process, base_url


@pytest.fixture
def live_server(db, redis, settings):
    """The real app served by uvicorn in its own process, on the test database and Redis."""
    process, base_url = start_web(settings)
    yield base_url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def server_clock(live_server):
    """The live server's time, to a second or so: it started at START and runs at the normal pace."""
    return StartedClock(START)


@pytest.fixture
async def phone():
    """A headless Chromium page at phone size (390×844, touch), its clock started at START like the
    live server's. Screenshots go to test-artifacts/."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser_app = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        context = await browser_app.new_context(
            viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2
        )
        await context.clock.install(time=START)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        yield page
        await context.close()
        await browser_app.close()
