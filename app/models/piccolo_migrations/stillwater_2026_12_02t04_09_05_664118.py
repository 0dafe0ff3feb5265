from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T04:09:05:664118"
VERSION = "1.38.0"
DESCRIPTION = "Clinician.max_fee_minor: the highest fee per session"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="stillwater", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Clinician",
        tablename="clinician",
        column_name="max_fee_minor",
        db_column_name="max_fee_minor",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 200000,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
