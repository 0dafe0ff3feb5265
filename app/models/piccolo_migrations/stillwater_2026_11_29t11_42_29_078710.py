"""Composite indexes (portable raw SQL: Piccolo's Unique() DDL fails on SQLite) and an append-only audit log."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-29T11:42:29:078710"
VERSION = "1.38.0"
DESCRIPTION = "composite indexes and append-only audit"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS client_clinician_email_uniq ON client (clinician, email)",
    "CREATE UNIQUE INDEX IF NOT EXISTS checklist_item_client_item_uniq ON checklist_item (client, item)",
    "CREATE INDEX IF NOT EXISTS appointment_clinician_starts_at ON appointment (clinician, starts_at)",
    "CREATE INDEX IF NOT EXISTS charge_status_due_at ON charge (status, due_at)",
    "CREATE INDEX IF NOT EXISTS appointment_series_idx ON appointment (series)",
]

POSTGRES_AUDIT = [
    """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event",
    """
    CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
]

SQLITE_AUDIT = [
    """
    CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
    """,
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        statements = INDEXES + (POSTGRES_AUDIT if engine.engine_type == "postgres" else SQLITE_AUDIT)
        for statement in statements:
            await engine.run_ddl(statement)

    async def run_backwards():
        engine = engine_finder()
        if engine.engine_type == "postgres":
            await engine.run_ddl("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
            await engine.run_ddl("DROP FUNCTION IF EXISTS audit_event_append_only()")
        else:
            await engine.run_ddl("DROP TRIGGER IF EXISTS audit_event_no_update")
            await engine.run_ddl("DROP TRIGGER IF EXISTS audit_event_no_delete")
        for name in ("client_clinician_email_uniq", "checklist_item_client_item_uniq",
                     "appointment_clinician_starts_at", "charge_status_due_at", "appointment_series_idx"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
