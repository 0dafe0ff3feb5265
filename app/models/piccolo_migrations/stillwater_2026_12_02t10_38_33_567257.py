"""A session reminder goes at most once per (appointment, hours before, start time): a composite unique
index (portable raw SQL: Piccolo's Unique() DDL fails on SQLite)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:38:33:567257"
VERSION = "1.38.0"
DESCRIPTION = "reminder once per appointment, offset and start"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS reminder_once_uniq ON reminder (appointment, hours_before, starts_at)"
        )

    async def run_backwards():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS reminder_once_uniq")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
