"""Database plumbing shared by services: transactions and engine-neutral error checks."""

from __future__ import annotations

from piccolo.engine import engine_finder
from piccolo.engine.base import Engine


def engine() -> Engine:
    found = engine_finder()
    if found is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("No Piccolo engine configured (piccolo_conf.DB).")
    return found


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
