"""An evening summary goes at most once per (clinician, day): a composite unique index (portable raw
SQL: Piccolo's Unique() DDL fails on SQLite)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T14:21:40:007072"
VERSION = "1.38.0"
DESCRIPTION = "evening summary once per clinician and day"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS evening_summary_once_uniq ON evening_summary (clinician, day)"
        )

    async def run_backwards():
        await engine_finder().run_ddl("DROP INDEX IF EXISTS evening_summary_once_uniq")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
