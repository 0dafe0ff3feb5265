"""Backups of the whole database and restores into an empty one (``python -m app backup`` / ``restore``).

PostgreSQL: ``pg_dump`` custom format, restored by ``pg_restore`` in one transaction. SQLite: the online
backup API, so a backup taken while the app serves is consistent. A backup holds clients' personal data:
files are written readable by their owner only.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.config import VAR_DIR

PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://"))


def default_backup_file(database_url: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = "dump" if is_postgres(database_url) else "sqlite"
    return VAR_DIR / "backups" / f"stillwater-{stamp}.{suffix}"


def _pg_target(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (so it never shows in a process list) and the environment with it."""
    parts = urlsplit(database_url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        user = f"{parts.username}@" if parts.username else ""
        parts = parts._replace(netloc=f"{user}{host}")
    return urlunsplit(parts), env


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into another with SQLite's online backup, the source opened read-only."""
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
    finally:
        writing.close()
        reading.close()


def _sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


def backup(database_url: str, target: Path) -> Path:
    """Write a backup of the database to ``target`` (mode 0600) and return its path."""
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600)
    try:
        if is_postgres(database_url):
            url, env = _pg_target(database_url)
            done = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), url],
                env=env,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        else:
            source_path = _sqlite_path(database_url)
            if not source_path.exists():
                raise BackupError(f"There is no database at {source_path}.")
            _sqlite_copy(source_path, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _pg_tables(url: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        ["psql", url, "-At", "-c", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"Cannot reach the database: {done.stderr.strip()}")
    return done.stdout.split()


def _sqlite_tables(path: Path) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


def _refuse_non_empty(tables: list[str], where: str) -> None:
    if tables:
        raise BackupError(
            f"{where} already holds {len(tables)} tables; restore only into an empty database "
            "(create a new one, point DATABASE_URL at it and run restore again)."
        )


def restore(database_url: str, source: Path) -> None:
    """Restore the backup ``source`` into the empty database at ``database_url``."""
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with source.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if is_postgres(database_url):
        if not head.startswith(PG_MAGIC):
            raise BackupError(f"{source} is not a PostgreSQL backup (pg_dump custom format).")
        url, env = _pg_target(database_url)
        _refuse_non_empty(_pg_tables(url, env), "The database")
        done = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "--dbname",
                url,
                str(source),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed; nothing was restored: {done.stderr.strip()}")
        return
    if head != SQLITE_MAGIC:
        raise BackupError(f"{source} is not a SQLite backup.")
    target_path = _sqlite_path(database_url)
    _refuse_non_empty(_sqlite_tables(target_path), f"The database at {target_path}")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(source, target_path)
