"""The audit trail: rows for each sensitive action, append-only in the database, the clinician's
filtered and paginated view, and a CSV export that spreadsheets cannot run."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.models.tables import AuditEvent
from app.services import audit, clients
from app.services.audit_trail import PAGE_SIZE
from app.services.context import Actor
from tests.helpers import PASSWORD, make_client, make_clinician, post_form, sign_in

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def shown(html: str, label: str) -> int:
    """How many trail entries with this action label the page lists."""
    return html.count(f'<div class="what">{label}<') + html.count(f'<div class="what">{label} ')


async def rows(action: str) -> list[AuditEvent]:
    return await AuditEvent.objects().where(AuditEvent.action == action).order_by(AuditEvent.id)


async def test_the_database_refuses_to_change_or_delete_audit_rows(db, clock):
    await audit.record("login_failed", actor=Actor(ip="10.0.0.1"), at=clock.now(), outcome="failure")
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.outcome: "success"}).where(AuditEvent.action == "login_failed")
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.action == "login_failed")
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.raw("UPDATE audit_event SET detail = 'edited'")
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.raw("DELETE FROM audit_event")
    remaining = await AuditEvent.objects()
    assert len(remaining) == 1 and remaining[0].outcome == "failure" and remaining[0].detail == ""


async def test_sign_ins_are_recorded_with_ip_and_device(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    headers = {"User-Agent": PHONE_UA}
    await post_form(client, "/login", {"email": maya.email, "password": "not my password"}, headers=headers)
    await post_form(client, "/login", {"email": maya.email, "password": PASSWORD}, headers=headers)
    failed, succeeded = (await rows("login_failed"))[0], (await rows("login_succeeded"))[0]
    for row in (failed, succeeded):
        assert row.actor_id == maya.user.id and row.user_agent == PHONE_UA and row.ip == "127.0.0.1"
        assert row.at == clock.now()
    assert failed.outcome == "failure" and succeeded.outcome == "success"
    assert succeeded.clinician_id == maya.user.clinician_id


async def test_invitations_and_exports_are_recorded(client, settings, clock, redis):
    from app.services.queue import JobQueue

    maya = await make_clinician(settings, clock.now())
    actor = Actor(maya.user.id, "clinician", maya.user.clinician_id, "127.0.0.1", "test")
    client_id = await clients.add_client(
        maya.user.clinician_id,
        clients.NewClient("Sam Lee", "sam@example.test"),
        invite=True,
        now=clock.now(),
        actor=actor,
        settings=settings,
        queue=JobQueue(redis, settings.queue_name),
    )
    invitation = (await rows("invitation_sent"))[0]
    assert invitation.client_id == client_id and invitation.actor_id == maya.user.id

    await sign_in(client, maya)
    assert (await client.get(f"/clients/{client_id}/export")).status_code == 200
    exported = (await rows("records_exported"))[0]
    assert exported.client_id == client_id and exported.detail == "by clinician"

    await client.get("/audit")
    await client.get("/audit/export")
    assert len(await rows("audit_viewed")) == 1 and len(await rows("audit_exported")) == 1


async def test_record_view_helper_writes_one_row(db, settings, clock):
    maya = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), maya)
    actor = Actor(maya.user.id, "clinician", maya.user.clinician_id, "127.0.0.1", "test")
    await audit.record_view(client_id, actor=actor, at=clock.now(), what="client_page")
    viewed = await rows("client_viewed")
    assert len(viewed) == 1
    assert (viewed[0].client_id, viewed[0].clinician_id, viewed[0].detail) == (
        client_id,
        maya.user.clinician_id,
        "client_page",
    )


async def test_a_clinician_reads_only_their_practice_and_can_filter(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    alex, alex_client_id = await make_client(settings, clock.now(), maya)
    other = await make_clinician(settings, clock.now(), email="ruth@example.test", name="Ruth Ames")
    await sign_in(other_client, other)
    await post_form(other_client, "/logout")
    await sign_in(other_client, alex)
    clock.advance(days=2)
    actor = Actor(maya.user.id, "clinician", maya.user.clinician_id, "127.0.0.1", "test")
    await audit.record_view(alex_client_id, actor=actor, at=clock.now(), what="client_page")
    await sign_in(client, maya)

    page = await client.get("/audit")
    assert page.status_code == 200
    assert shown(page.text, "Client record viewed") == 1 and "client: Alex Rivera" in page.text
    assert "Ruth Ames" not in page.text, "another practice's sign-ins stay private"
    assert shown(page.text, "Signed in") == 2, "the clinician's and their client's sign-ins"

    by_client = await client.get(f"/audit?client={alex_client_id}")
    assert shown(by_client.text, "Client record viewed") == 1 and shown(by_client.text, "Signed in") == 0
    by_person = await client.get(f"/audit?person={alex.user.id}")
    assert shown(by_person.text, "Signed in") == 1 and shown(by_person.text, "Client record viewed") == 0
    by_action = await client.get("/audit?action=client_viewed")
    assert "1 entry" in by_action.text
    today = clock.now().date().isoformat()
    by_date = await client.get(f"/audit?from={today}&to={today}&action=login_succeeded")
    assert "1 entry" in by_date.text, "only today's sign-in, not the one two days ago"
    bad = await client.get("/audit?from=yesterday")
    assert bad.status_code == 200 and "must be a date like" in bad.text
    fragment = await client.get("/audit?action=client_viewed", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "1 entry" in fragment.text

    await sign_in(other_client, alex)
    assert (await other_client.get("/audit")).status_code == 403, "clients cannot read the trail"


async def test_the_trail_is_paginated(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    actor = Actor(maya.user.id, "clinician", maya.user.clinician_id, "127.0.0.1", "test")
    for n in range(PAGE_SIZE + 5):
        await audit.record("client_updated", actor=actor, at=clock.now() + timedelta(seconds=n))
    await sign_in(client, maya)
    first = await client.get("/audit?action=client_updated")
    assert f"{PAGE_SIZE + 5} entries" in first.text and "page 1 of 2" in first.text
    assert "Older" in first.text and "page=2" in first.text
    second = await client.get("/audit?action=client_updated&page=2")
    assert "page 2 of 2" in second.text and shown(second.text, "Client record changed") == 5


async def test_csv_export_escapes_spreadsheet_formulas(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), maya, name='=HYPERLINK("http://x","y")')
    for agent in ("+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)"):
        await post_form(
            client, "/login", {"email": maya.email, "password": "nope nope"}, headers={"User-Agent": agent}
        )
    actor = Actor(maya.user.id, "clinician", maya.user.clinician_id, "127.0.0.1", "=1+1")
    await audit.record_view(client_id, actor=actor, at=clock.now(), what="=cmd")
    await sign_in(client, maya)
    response = await client.get("/audit/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0][0] == "When (UTC)"
    cells = [cell for row in table[1:] for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], "no cell starts like a formula"
    assert '\'=HYPERLINK("http://x","y")' in cells
    assert "'=cmd" in cells
    filtered = await client.get(f"/audit/export?client={client_id}")
    assert len(list(csv.reader(io.StringIO(filtered.text)))) == 2, "the export keeps the filters"
