"""Count the SQL statements a block of code runs, by wrapping the Piccolo engine's query execution."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.models.db import engine


@dataclass
class QueryLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries() -> Iterator[QueryLog]:
    """Every statement run through the engine inside the block (queries and DDL) is recorded."""
    engine_class = type(engine())
    original_query, original_ddl = engine_class.run_querystring, engine_class.run_ddl
    log = QueryLog()

    async def run_querystring(self, querystring, *args, **kwargs):
        log.statements.append(str(querystring))
        return await original_query(self, querystring, *args, **kwargs)

    async def run_ddl(self, ddl, *args, **kwargs):
        log.statements.append(ddl)
        return await original_ddl(self, ddl, *args, **kwargs)

    engine_class.run_querystring, engine_class.run_ddl = run_querystring, run_ddl
    try:
        yield log
    finally:
        engine_class.run_querystring, engine_class.run_ddl = original_query, original_ddl
