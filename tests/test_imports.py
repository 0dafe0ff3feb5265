"""Switching in (issue 26) through the real services, database and worker: vendor exports imported after
a preview, known clients skipped or updated, no invitation during an import and paced ones after, a
5,000-client list in the background that carries on after a worker stops and can be undone, a calendar
booked as series, and every bad file leaving the database as it was."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.imports import LAYOUTS, ClientField, ImportRefused
from app.models.tables import (
    Appointment,
    AppointmentSeries,
    ChecklistItem,
    Client,
    EmailMessage,
    ImportBatch,
    InsuranceChange,
    InsurancePolicy,
    User,
)
from app.services import imports
from app.services.errors import NotAllowed
from app.services.imports import INVITES_PER_MINUTE, ImportProblem
from app.services.queue import JobQueue
from tests.conftest import START
from tests.helpers import make_client, make_clinician, make_member
from tests.import_samples import BAD_FILES, client_list, vendor_export, weekly_calendar
from tests.report_data import add_appointment, add_status_change


@pytest.fixture
async def owner(db, settings, clock):
    return await make_clinician(settings, clock.now())


@pytest.fixture
def queue(settings):
    return JobQueue(None, settings.queue_name)


async def counts() -> tuple[int, ...]:
    return (
        await Client.count(),
        await User.count(),
        await Appointment.count(),
        await EmailMessage.count(),
        await InsurancePolicy.count(),
    )


@pytest.mark.parametrize("vendor", ["SimplePractice", "Jane", "TherapyNotes"])
async def test_a_vendor_export_is_previewed_then_imported_without_invitations(owner, clock, queue, vendor):
    batch_id = await imports.upload_clients(
        owner.user, "clients.csv", vendor_export(vendor).encode(), now=clock.now()
    )
    preview = await imports.client_preview(owner.user, batch_id)
    assert preview.layout == vendor and preview.importable == 3 and not preview.mapping_problems
    assert await Client.count() == 0  # nothing before confirming
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    clients = await Client.select(Client.name, Client.email, Client.clinician, Client.billing_type)
    assert {c["name"] for c in clients} == {"Ana Souza", "Björn Åkesson", "Chloé Dubois"}
    assert {c["clinician"] for c in clients} == {owner.user.clinician_id}
    assert await EmailMessage.count() == 0  # no invitation during an import
    policy = await InsurancePolicy.objects().first()
    copay = 2500 if ClientField.COPAY in next(lay for lay in LAYOUTS if lay.name == vendor).columns else None
    assert (policy.payer, policy.member_id, policy.copay_minor) == ("Aetna", "W123", copay)
    done = await imports.progress(owner.user, batch_id)
    assert (done.status, done.created, done.percent) == ("done", 3, 100)


async def test_the_assigned_clinician_column_maps_to_the_practices_clinicians(owner, settings, clock, queue):
    await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    data = vendor_export("SimplePractice", clinician="Noor Haddad").encode()
    batch_id = await imports.upload_clients(owner.user, "sp.csv", data, now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    seats = {row["clinician.user.name"] for row in await Client.select(Client.clinician.user.name)}
    assert seats == {"Noor Haddad"}


async def test_only_the_owner_imports(owner, settings, clock):
    colleague = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    with pytest.raises(NotAllowed):
        await imports.upload_clients(colleague.user, "x.csv", client_list(2), now=clock.now())


async def test_a_fixed_mapping_and_known_clients_skipped_or_updated(owner, settings, clock, queue):
    await make_client(settings, clock.now(), owner, email="client00001@example.test", name="Old Name")
    data = b"Who,Address,Tel\r\nNew Person,new@example.test,1\r\nNew Name,client00001@example.test,2\r\n"
    batch_id = await imports.upload_clients(owner.user, "mine.csv", data, now=clock.now())
    assert set((await imports.client_preview(owner.user, batch_id)).mapping_problems) == {"name", "email"}
    mapping = {ClientField.NAME: "Who", ClientField.EMAIL: "Address", ClientField.PHONE: "Tel"}
    await imports.change_mapping(owner.user, batch_id, mapping, "update")
    preview = await imports.client_preview(owner.user, batch_id)
    assert preview.existing == 1 and preview.importable == 2
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    names = {row["email"]: row["name"] for row in await Client.select(Client.email, Client.name)}
    assert names == {"new@example.test": "New Person", "client00001@example.test": "New Name"}
    # Undo puts the known client's details back and removes the new one.
    await imports.undo_import(owner.user, batch_id, now=clock.now())
    names = {row["email"]: row["name"] for row in await Client.select(Client.email, Client.name)}
    assert names == {"client00001@example.test": "Old Name"}

    skip_id = await imports.upload_clients(owner.user, "mine.csv", data, now=clock.now())
    await imports.change_mapping(owner.user, skip_id, mapping, "skip")
    await imports.confirm_clients(owner.user, skip_id, now=clock.now(), queue=queue)
    assert (await imports.progress(owner.user, skip_id)).skipped == 1
    assert await Client.select(Client.name).where(Client.email == "client00001@example.test") == [
        {"name": "Old Name"}
    ]


@pytest.mark.parametrize("name", list(BAD_FILES))
async def test_every_bad_file_leaves_the_database_as_it_was(owner, clock, name):
    before = (await counts(), await ImportBatch.count())
    with pytest.raises(ImportRefused):
        await imports.upload_clients(owner.user, "bad.csv", BAD_FILES[name][0], now=clock.now())
    assert (await counts(), await ImportBatch.count()) == before


async def test_a_large_list_imports_in_the_background_carries_on_after_a_crash_and_can_be_undone(
    owner, clock, settings, arq_pool, run_worker, monkeypatch
):
    queue = JobQueue(arq_pool, settings.queue_name)
    before = await counts()
    batch_id = await imports.upload_clients(owner.user, "big.csv", client_list(5000), now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    queued = await imports.progress(owner.user, batch_id)
    assert (queued.status, queued.done, queued.percent) == ("queued", 0, 0)
    assert await Client.count() == before[0]

    # The worker dies in the middle of its third chunk: the two committed chunks stay, the third is gone.
    import_chunk, calls = imports._import_chunk, []

    async def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        result = await import_chunk(*args, **kwargs)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return result

    monkeypatch.setattr(imports, "_import_chunk", dies_on_the_third_chunk)
    await run_worker()
    monkeypatch.setattr(imports, "_import_chunk", import_chunk)
    halfway = await imports.progress(owner.user, batch_id)
    assert (halfway.status, halfway.done, halfway.percent) == ("running", 2 * imports.CHUNK_ROWS, 10)
    assert await Client.count() == before[0] + 2 * imports.CHUNK_ROWS

    # Minutes later the sweep finds it stalled and queues it again; a worker carries on from row 501.
    assert await imports.stalled_work(now=clock.now()) == []
    clock.advance(minutes=5)
    await queue.enqueue_all(await imports.stalled_work(now=clock.now()))
    await run_worker()
    finished = await imports.progress(owner.user, batch_id)
    assert (finished.status, finished.percent, finished.created) == ("done", 100, 5000)
    assert await Client.count() == before[0] + 5000
    assert len({row["email"] for row in await Client.select(Client.email)}) == before[0] + 5000
    assert await EmailMessage.count() == before[3]  # no invitation during an import
    await imports.undo_import(owner.user, batch_id, now=clock.now())
    assert await counts() == before
    assert (await imports.progress(owner.user, batch_id)).status == "undone"


async def test_a_stalled_import_is_queued_again_by_the_sweep(owner, clock, queue):
    batch_id = await imports.upload_clients(owner.user, "big.csv", client_list(400), now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    assert await imports.stalled_work(now=clock.now()) == []
    jobs = await imports.stalled_work(now=clock.now() + timedelta(minutes=5))
    assert [job.args for job in jobs] == [(batch_id,)]


async def test_undo_is_refused_once_something_imported_was_used(owner, clock, queue):
    batch_id = await imports.upload_clients(owner.user, "c.csv", client_list(3), now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    client_id = (await Client.select(Client.id).first())["id"]
    appointment = await add_appointment(owner.user.clinician_id, client_id, START + timedelta(days=2))
    await add_status_change(appointment, "scheduled", "cancelled", by=owner.user.id, at=clock.now())
    with pytest.raises(ImportProblem, match="session has been booked"):
        await imports.undo_import(owner.user, batch_id, now=clock.now())
    assert await Client.count() == 3


async def test_invite_all_imported_goes_out_a_few_a_minute(owner, clock, settings, queue):
    batch_id = await imports.upload_clients(owner.user, "c.csv", client_list(45), now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    await imports.invite_imported(owner.user, batch_id, now=clock.now(), queue=queue)
    sent_per_minute = []
    more = True
    while more:
        jobs, more = await imports.send_next_invitations(batch_id, now=clock.now(), settings=settings)
        sent_per_minute.append(len(jobs))
        clock.advance(minutes=1)
    assert sent_per_minute == [INVITES_PER_MINUTE, INVITES_PER_MINUTE, 5]
    assert await EmailMessage.count() == 45
    with pytest.raises(ImportProblem):
        await imports.invite_imported(owner.user, batch_id, now=clock.now(), queue=queue)


async def test_a_calendar_becomes_series_with_its_exceptions_and_unmatched_events_wait(
    owner, settings, clock
):
    _, alex = await make_client(settings, clock.now(), owner, email="alex@example.test", name="Alex Rivera")
    _, sam = await make_client(settings, clock.now(), owner, email="sam@example.test", name="Sam Park")
    day = START.date() + timedelta(days=(1 - START.weekday()) % 7 or 7)  # next Tuesday
    data = weekly_calendar(
        f"{day:%Y%m%d}T100000", client_email="alex@example.test", client_name="Alex Rivera"
    )
    batch_id = await imports.upload_calendar(owner.user, "old.ics", data, now=clock.now())
    preview = await imports.calendar_preview(owner.user, batch_id, now=clock.now())
    assert preview.unmatched == ["Consultation Sam Park"]
    assert len(preview.bookable) == 7 and preview.series_count == 1
    await imports.decide_unmatched(owner.user, batch_id, {"Consultation Sam Park": sam}, now=clock.now())
    preview = await imports.calendar_preview(owner.user, batch_id, now=clock.now())
    assert len(preview.bookable) == 8
    await imports.confirm_sessions(owner.user, batch_id, now=clock.now())
    series = await AppointmentSeries.objects().first()
    assert (series.client, series.occurrences, series.interval_weeks, series.local_start_time) == (
        alex,
        7,
        1,
        "10:00",
    )
    sessions = (
        await Appointment.objects().where(Appointment.series == series.id).order_by(Appointment.starts_at)
    )
    assert [s.changed_from_series for s in sessions].count(True) == 1
    assert await Appointment.count().where(Appointment.client == sam) == 1
    await imports.undo_import(owner.user, batch_id, now=clock.now())
    assert await Appointment.count() == 0 and await AppointmentSeries.count() == 0
    assert await Client.count() == 2  # the clients were there before


async def test_clashes_and_outside_hours_are_reported_before_booking(owner, settings, clock):
    _, alex = await make_client(settings, clock.now(), owner, email="alex@example.test", name="Alex Rivera")
    day = START.date() + timedelta(days=(1 - START.weekday()) % 7 or 7)
    data = weekly_calendar(
        f"{day:%Y%m%d}T100000", client_email="alex@example.test", client_name="Alex Rivera"
    )
    batch_id = await imports.upload_calendar(owner.user, "old.ics", data, now=clock.now())
    first = (await imports.calendar_preview(owner.user, batch_id, now=clock.now())).sessions[0]
    await add_appointment(owner.user.clinician_id, alex, first.event.starts_at + timedelta(minutes=20))
    preview = await imports.calendar_preview(owner.user, batch_id, now=clock.now())
    assert preview.sessions[0].clashes and not preview.sessions[0].bookable
    await imports.confirm_sessions(owner.user, batch_id, now=clock.now())
    assert await Appointment.count() == 1 + 6  # the clashing one is left out


async def test_a_malformed_calendar_leaves_the_database_as_it_was(owner, clock):
    before = (await counts(), await ImportBatch.count())
    with pytest.raises(ImportRefused):
        await imports.upload_calendar(
            owner.user, "bad.ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", now=clock.now()
        )
    assert (await counts(), await ImportBatch.count()) == before


async def test_undo_takes_the_notes_made_on_an_imported_client_with_it(owner, clock, queue):
    data = vendor_export("SimplePractice").encode()
    batch_id = await imports.upload_clients(owner.user, "sp.csv", data, now=clock.now())
    await imports.confirm_clients(owner.user, batch_id, now=clock.now(), queue=queue)
    client_id = (await Client.select(Client.id).where(Client.email == "ana@example.test").first())["id"]
    await InsuranceChange.insert(
        InsuranceChange(client=client_id, changed_by=owner.user.id, changed_at=clock.now(), field="payer")
    )
    await ChecklistItem.insert(ChecklistItem(client=client_id, item="insurance", recorded_at=clock.now()))
    await imports.undo_import(owner.user, batch_id, now=clock.now())
    assert await Client.count() == 0 and await ChecklistItem.count() == 0


async def test_sessions_from_a_spreadsheet_are_matched_and_booked_in_local_time(owner, settings, clock):
    _, alex = await make_client(settings, clock.now(), owner, email="alex@example.test", name="Alex Rivera")
    day = (clock.now() + timedelta(days=3)).date()
    data = (
        "Client;Email;Date;Start time;Minutes\r\n"
        f"Alex Rivera;;{day:%m/%d/%Y};10:00;50\r\n"
        f";ALEX@example.test;{day:%Y-%m-%d};2:30 PM;45\r\n"
        f"Someone New;;{day:%Y-%m-%d};16:00;50\r\n"
        f"Alex Rivera;;{(clock.now() - timedelta(days=3)).date():%Y-%m-%d};10:00;50\r\n"
    ).encode("cp1252")
    batch_id = await imports.upload_calendar(owner.user, "sessions.csv", data, now=clock.now())
    preview = await imports.calendar_preview(owner.user, batch_id, now=clock.now())
    assert len(preview.sessions) == 3  # the past one is not an upcoming session
    assert preview.unmatched == ["Someone New"] and len(preview.bookable) == 2
    await imports.confirm_sessions(owner.user, batch_id, now=clock.now())
    zone = ZoneInfo(owner.user.time_zone)
    booked = await Appointment.objects().where(Appointment.client == alex).order_by(Appointment.starts_at)
    assert [(a.starts_at.astimezone(zone).strftime("%H:%M"), a.duration_minutes) for a in booked] == [
        ("10:00", 50),
        ("14:30", 45),
    ]
    assert all(a.series is None for a in booked)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"Client,When\r\nAlex,tomorrow\r\n", "date, start time"),
        (b"Client,Date,Start time\r\nAlex,31/31/2026,10:00\r\n", "Row 2"),
        (b"Client,Date,Start time,Minutes\r\nAlex,2026-12-01,10:00,99999999999999\r\n", "Row 2"),
    ],
)
async def test_a_sessions_spreadsheet_that_cant_be_read_is_refused_whole(owner, clock, data, words):
    before = (await counts(), await ImportBatch.count())
    with pytest.raises(ImportRefused, match=words):
        await imports.upload_calendar(owner.user, "sessions.csv", data, now=clock.now())
    assert (await counts(), await ImportBatch.count()) == before
