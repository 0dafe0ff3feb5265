"""The import pages (issue 26) over HTTP: upload, mapping, preview with problems, confirm, progress,
undo; every bad upload answered with a message on the page and nothing stored; owner only; CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.tables import Client, ImportBatch
from tests.helpers import csrf_from, ensure_csrf, make_clinician, make_member, post_form, sign_in
from tests.import_samples import BAD_FILES, vendor_export, weekly_calendar


async def upload(client, path: str, name: str, data: bytes):
    token = await ensure_csrf(client)
    return await client.post(path, data={"_csrf_token": token}, files={"file": (name, data, "text/csv")})


@pytest.fixture
async def owner(client, settings, clock):
    person = await make_clinician(settings, clock.now())
    await sign_in(client, person)
    return person


async def test_upload_map_preview_and_import(client, owner):
    page = await client.get("/clients")
    assert 'href="/imports"' in page.text
    data = b"Who,Address,Phone\r\nAna Souza,ana@example.test,1\r\nNo Mail,,2\r\n"
    response = await upload(client, "/imports/clients", "mine.csv", data)
    assert response.status_code == 303
    batch_page = response.headers["location"]
    page = await client.get(batch_page)
    assert "Choose the full name column" in page.text
    response = await post_form(client, f"{batch_page}/mapping", {"name": "Who", "email": "Address"})
    page = await client.get(batch_page)
    assert "1 ready, 1 with problems" in page.text and "No email address." in page.text
    assert await Client.count() == 0
    await post_form(client, f"{batch_page}/confirm")
    page = await client.get(batch_page)
    assert "Done: 1 added" in page.text and "Undo this import" in page.text
    assert await Client.select(Client.name) == [{"name": "Ana Souza"}]
    fragment = await client.get(f"{batch_page}/progress", headers={"HX-Request": "true"})
    assert "hx-trigger" not in fragment.text  # finished: the page stops polling
    await post_form(client, f"{batch_page}/undo")
    assert await Client.count() == 0
    assert "was undone" in (await client.get(batch_page)).text


async def test_a_known_layout_is_named_in_the_preview(client, owner):
    response = await upload(client, "/imports/clients", "sp.csv", vendor_export("TherapyNotes").encode())
    page = await client.get(response.headers["location"])
    assert "Recognised as a TherapyNotes export" in page.text and "Import 3 clients" in page.text


@pytest.mark.parametrize("name", ["duplicate headings", "excel workbook", "over 10 MB", "binary"])
async def test_a_bad_upload_gets_a_message_and_stores_nothing(client, owner, name):
    data, words = BAD_FILES[name]
    response = await upload(client, "/imports/clients", "bad.csv", data)
    assert response.status_code == 422
    assert words.lower() in response.text.lower()
    assert await ImportBatch.count() == 0


async def test_a_malformed_calendar_gets_a_message(client, owner):
    response = await upload(client, "/imports/calendar", "old.ics", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")
    assert response.status_code == 422 and "damaged" in response.text
    assert await ImportBatch.count() == 0


async def test_a_colleague_cannot_import_or_see_imports(client, other_client, settings, clock, owner):
    response = await upload(client, "/imports/clients", "c.csv", vendor_export("Jane").encode())
    batch_page = response.headers["location"]
    colleague = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    await sign_in(other_client, colleague)
    assert "Only the practice's owner" in (await other_client.get("/imports")).text
    assert (await other_client.get(batch_page)).status_code == 403
    assert (
        await upload(other_client, "/imports/clients", "c.csv", b"Name,Email\r\nA,a@example.test\r\n")
    ).status_code == 403
    assert await ImportBatch.count() == 1


async def test_an_upload_without_the_csrf_token_is_refused(client, owner):
    assert csrf_from(client)
    response = await client.post("/imports/clients", files={"file": ("c.csv", b"Name,Email\r\n", "text/csv")})
    assert response.status_code == 403
    assert await ImportBatch.count() == 0


async def test_hostile_input_gets_a_message_never_a_500(client, owner, settings, clock):
    # A file name and cells with NUL bytes, huge numbers and very long text.
    refused = await upload(client, "/imports/clients", "nul.csv", b"Name,Email\r\nA\x00B,a@example.test\r\n")
    assert refused.status_code == 422 and "text file" in refused.text
    data = (
        "Name,Email,Copay\r\n"
        + "A\x07B,a@example.test,99999999999999999999\r\n"
        + "x" * 5000
        + ",b@example.test,1\r\n"
    ).encode()
    response = await upload(client, "/imports/clients", "evil\x00name.csv", data)
    assert response.status_code == 303
    batch_page = response.headers["location"]
    page = await client.get(batch_page)
    assert page.status_code == 200 and "control characters" in page.text and "Longer than 200" in page.text
    response = await post_form(
        client, f"{batch_page}/mapping", {"name": "Name\x00", "email": "Email", "on_existing": "x" * 10_000}
    )
    assert response.status_code in (303, 400)
    await post_form(client, f"{batch_page}/mapping", {"name": "Name", "email": "Email", "copay": "Copay"})
    page = await client.get(batch_page)
    assert "Not an amount" in page.text
    await post_form(client, f"{batch_page}/confirm")
    assert await Client.count() == 0  # every row had a problem
    assert (await client.get("/imports/99999999999999999999")).status_code == 404

    day = clock.now().date() + timedelta(days=1)
    calendar = weekly_calendar(f"{day:%Y%m%d}T100000", client_email="x@example.test", client_name="X")
    response = await upload(client, "/imports/calendar", "old.ics", calendar)
    calendar_page = response.headers["location"]
    response = await post_form(
        client,
        f"{calendar_page}/decide",
        {"title": "Consultation Sam Park\x00", "client": "99999999999999999999999"},
    )
    assert response.status_code in (303, 400)
    assert (await client.get(calendar_page)).status_code == 200
    response = await upload(
        client, "/imports/calendar", "nul.ics", b"BEGIN:VCALENDAR\r\n\x00\r\nEND:VCALENDAR\r\n"
    )
    assert response.status_code == 422
