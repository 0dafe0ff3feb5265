"""An index for the "needs a status" count, which every calendar page and status change reads.

Without it the count read every appointment the clinician ever had (the benchmark's busy
clinician: 5,000 rows for 23 matches). Raw SQL for both engines, like the earlier index migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T14:40:58:481937"
VERSION = "1.38.0"
DESCRIPTION = "indexes for calendar reads"

INDEX = "appointment_clinician_status_ends_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON appointment (clinician, status, ends_at)"
        )

    async def run_backwards():
        await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {INDEX}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
