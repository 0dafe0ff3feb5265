"""Database plumbing shared by services: transactions and engine-neutral error checks."""

from __future__ import annotations

from piccolo.engine import engine_finder
from piccolo.engine.base import Engine


def engine() -> Engine:
    found = engine_finder()
    if found is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("No Piccolo engine configured (piccolo_conf.DB).")
    return found


async def _session_needs_no_reset(connection) -> None:
    """Nothing to undo: the app never changes session state (no SET, LISTEN, cursors or session
    advisory locks; asyncpg still rolls back an open transaction)."""


async def start_pool(*, min_size: int, max_size: int) -> None:
    """The PostgreSQL connection pool. asyncpg's default reset (``RESET ALL``, ``UNLISTEN *`` …) is one
    more round trip each time a query hands its connection back, i.e. on every query."""
    await engine().start_connection_pool(min_size=min_size, max_size=max_size, reset=_session_needs_no_reset)


def transaction():
    """A write transaction: IMMEDIATE on SQLite (avoids lock upgrades), plain on PostgreSQL."""
    db = engine()
    if db.engine_type == "sqlite":
        from piccolo.engine.sqlite import TransactionType

        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


def is_unique_violation(exc: BaseException) -> bool:
    """True when ``exc`` is a unique-constraint violation on either engine."""
    name = type(exc).__name__
    if name == "UniqueViolationError":
        return True
    return name == "IntegrityError" and "UNIQUE" in str(exc).upper()
