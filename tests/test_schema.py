"""The schema: committed migrations match the tables, apply from zero, and enforce what they promise."""

from __future__ import annotations

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from app.models.db import engine, is_unique_violation
from app.models.tables import AuditEvent, Client, User
from tests.helpers import make_clinician


async def test_committed_migrations_match_the_table_definitions(db):
    app_config = Finder().get_app_config("stillwater")
    statements = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config)
    pending = [s for group in statements for s in group.statements]
    assert pending == [], (
        "tables.py changed without a migration: run `piccolo migrations new stillwater --auto`"
    )


async def test_migrations_created_every_table(db):
    from app.models.tables import ALL_TABLES

    for table in ALL_TABLES:
        assert await table.table_exists(), table._meta.tablename


async def test_one_client_record_per_email_per_clinician(db, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    row = {
        "clinician": clinician.user.clinician_id,
        "name": "A",
        "email": "a@example.test",
        "created_at": clock.now(),
    }
    await Client.insert(Client(**row))
    with pytest.raises(Exception) as caught:
        await Client.insert(Client(**row))
    assert is_unique_violation(caught.value)


async def test_user_email_is_unique(db, settings, clock):
    await make_clinician(settings, clock.now(), email="same@example.test")
    with pytest.raises(Exception) as caught:
        await User.insert(User(email="same@example.test", role="client", created_at=clock.now()))
    assert is_unique_violation(caught.value)


async def test_the_audit_log_refuses_updates_and_deletes(db, clock):
    await AuditEvent.insert(AuditEvent(at=clock.now(), action="login_succeeded"))
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.action: "tampered"}).where(AuditEvent.id > 0)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.id > 0)
    assert await AuditEvent.count() == 1
    assert engine().engine_type in {"sqlite", "postgres"}
