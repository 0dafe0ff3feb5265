"""Paperwork: one signature per client and version, version numbers unique per document, and published
versions, signatures and intake responses append-only (R14), the way audit_event is."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:25:38:386339"
VERSION = "1.38.0"
DESCRIPTION = "paperwork indexes and append-only signatures"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS document_version_number_uniq ON document_version (document, number)",
    "CREATE UNIQUE INDEX IF NOT EXISTS document_signature_client_version_uniq"
    " ON document_signature (client, version)",
]
FINAL_TABLES = ("document_version", "document_signature", "intake_response")


def postgres_statements() -> list[str]:
    statements = [
        """
        CREATE OR REPLACE FUNCTION signed_is_final() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: a signed text is never changed', TG_TABLE_NAME;
        END;
        $$ LANGUAGE plpgsql
        """
    ]
    for table in FINAL_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION signed_is_final()",
        ]
    return statements


def sqlite_statements() -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{event.lower()} BEFORE {event} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: a signed text is never changed'); END"
        for table in FINAL_TABLES
        for event in ("UPDATE", "DELETE")
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        postgres = engine.engine_type == "postgres"
        for statement in INDEXES + (postgres_statements() if postgres else sqlite_statements()):
            await engine.run_ddl(statement)

    async def run_backwards():
        engine = engine_finder()
        for table in FINAL_TABLES:
            if engine.engine_type == "postgres":
                await engine.run_ddl(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            else:
                await engine.run_ddl(f"DROP TRIGGER IF EXISTS {table}_no_update")
                await engine.run_ddl(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        if engine.engine_type == "postgres":
            await engine.run_ddl("DROP FUNCTION IF EXISTS signed_is_final()")
        for name in ("document_version_number_uniq", "document_signature_client_version_uniq"):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
