"""Test fixtures: a real database (SQLite by default, PostgreSQL when DATABASE_URL says so), a real
Redis (a dedicated DB index, flushed per test), the app behind Litestar's test client, a frozen clock.

Environment:
- DATABASE_URL: unset -> a SQLite file in a temporary folder; ``postgres://…`` -> that database is
  wiped and migrated at the start of the run (use a database meant for tests).
- TEST_REDIS_URL: default ``redis://127.0.0.1:6379/15``; parallel runs must each use their own DB index.
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
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.sqlite'}"
os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
os.environ["PASSWORD_HASH_PROFILE"] = "fast"
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-1234567890")

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from app.clock import FrozenClock  # noqa: E402
from app.config import Settings  # noqa: E402
from app.models.db import engine  # noqa: E402
from app.models.tables import ALL_TABLES  # noqa: E402
from app.web.app import create_app  # noqa: E402

DATABASE_URL = os.environ["DATABASE_URL"]
IS_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
SQLITE_PATH = Path(DATABASE_URL.removeprefix("sqlite:///")) if not IS_POSTGRES else None
SQLITE_TEMPLATE = _TMP / "migrated-template.sqlite"
START = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


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


async def reset_database() -> None:
    """Empty every table. SQLite: restore the migrated file; PostgreSQL: TRUNCATE (no row triggers fire)."""
    if IS_POSTGRES:
        names = ", ".join(f'"{table._meta.tablename}"' for table in ALL_TABLES)
        await engine().run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
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


@pytest.fixture
async def app(db, redis, settings, clock):
    async with running(create_app(settings, clock=clock)) as application:
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
