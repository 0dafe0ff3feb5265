"""The practice's settings are one record (R12): the practice takes its owner's reminder offsets, and
every clinician's seat takes the practice's settings, so an owner's change reaches every colleague.
Raw SQL that runs on SQLite and PostgreSQL."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T14:10:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "the practice's settings are one record"

OWNER_SEAT = (
    "SELECT m.clinician FROM membership m WHERE m.practice = practice.id AND m.role = 'owner' "
    "AND m.removed_at IS NULL AND m.clinician IS NOT NULL"
)
SEAT_COLUMNS = {
    "practice_name": "name",
    **{
        c: c
        for c in (
            "time_zone currency insurance_email booking_enabled new_clients_may_book min_notice_hours "
            "horizon_days intro_session_minutes intro_fee_minor cancellation_window_hours max_fee_minor "
            "require_two_factor reminder_hours"
        ).split()
    },
}
COPY_VALUES = [
    f"UPDATE practice SET reminder_hours = (SELECT c.reminder_hours FROM clinician c WHERE c.id IN ({OWNER_SEAT})) "
    f"WHERE EXISTS ({OWNER_SEAT})",
    "UPDATE clinician SET "
    + ", ".join(
        f"{seat} = (SELECT p.{column} FROM practice p WHERE p.id = clinician.practice)"
        for seat, column in SEAT_COLUMNS.items()
    )
    + " WHERE practice IS NOT NULL",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stillwater", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in COPY_VALUES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
