"""A solo clinician becomes a practice of one (R11).

For every clinician: a practice with the practice-level settings they held (same id, same booking
slug), their seat in it, and an owner membership accepted when they signed up. Every client joins
their clinician's practice with an assignment history that starts when the record was made. Then
the composite unique indexes: one client record per address per practice, one membership per person
per practice, one share per client and colleague. Raw SQL that runs on SQLite and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:26:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "a solo clinician becomes a practice of one"

PRACTICE_COLUMNS = (
    "time_zone, currency, insurance_email, booking_enabled, new_clients_may_book, min_notice_hours, "
    "horizon_days, intro_session_minutes, intro_fee_minor, cancellation_window_hours, max_fee_minor, "
    "require_two_factor, created_at"
)

MOVE_DATA = [
    f"INSERT INTO practice (id, name, booking_slug, {PRACTICE_COLUMNS}) "
    f"SELECT id, practice_name, booking_slug, {PRACTICE_COLUMNS} FROM clinician",
    "UPDATE clinician SET practice = id",
    'INSERT INTO membership (practice, "user", role, clinician, invited_at, accepted_at) '
    "SELECT id, \"user\", 'owner', id, created_at, created_at FROM clinician",
    "UPDATE client SET practice = clinician",
    "INSERT INTO client_assignment (client, clinician, started_at) SELECT id, clinician, created_at FROM client",
]

POSTGRES_SEQUENCE = (
    "SELECT setval(pg_get_serial_sequence('practice', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
    "FROM practice"
)

INDEXES = {
    "client_practice_email_uniq": "CREATE UNIQUE INDEX IF NOT EXISTS {} ON client (practice, email)",
    "membership_practice_user_uniq": 'CREATE UNIQUE INDEX IF NOT EXISTS {} ON membership (practice, "user")',
    "client_share_client_clinician_uniq": "CREATE UNIQUE INDEX IF NOT EXISTS {} ON client_share (client, clinician)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in MOVE_DATA:
            await engine.run_ddl(statement)
        if engine.engine_type == "postgres":
            await engine.run_ddl(POSTGRES_SEQUENCE)
        for name, statement in INDEXES.items():
            await engine.run_ddl(statement.format(name))

    async def run_backwards():
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")
        for table in ("client_assignment", "membership"):
            await engine.run_ddl(f"DELETE FROM {table}")
        await engine.run_ddl("UPDATE client SET practice = NULL")
        await engine.run_ddl("UPDATE clinician SET practice = NULL")
        await engine.run_ddl("DELETE FROM practice")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
