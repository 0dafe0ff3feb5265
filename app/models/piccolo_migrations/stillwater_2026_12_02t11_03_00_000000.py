"""One default fee per service type per practice: a composite unique index (raw SQL that runs on SQLite
and PostgreSQL; Piccolo runs a migration's raw steps before its tables, so it has its own migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T11:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one default fee per service type per practice"
NAME = "service_fee_practice_code_uniq"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {NAME} ON service_fee (practice, service_code)"
        )

    async def run_backwards():
        await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {NAME}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
