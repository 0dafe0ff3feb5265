"""Reading the files a practice brings from another system (issue 26): every awkward encoding and
separator, the vendors' layouts, problems next to their cells, formula cells, and every bad file refused
with a message. Pure functions, no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain.imports import (
    ClientField,
    ImportRefused,
    decode,
    mapping_problems,
    read_calendar,
    read_clients,
    read_table,
    recognise,
)
from tests.conftest import START
from tests.import_samples import BAD_FILES, HAND_MADE_ENCODINGS, PEOPLE, vendor_export, weekly_calendar

CLINICIANS = {"maya chen": 1}


@pytest.mark.parametrize("vendor", ["SimplePractice", "Jane", "TherapyNotes"])
def test_vendor_exports_are_recognised_and_read_whole(vendor):
    table = read_table(decode(vendor_export(vendor).encode("utf-8")))
    layout, mapping = recognise(table.headings)
    assert layout == vendor
    rows = read_clients(table, mapping, CLINICIANS)
    assert [row.name for row in rows] == [f"{p[0]} {p[1]}" for p in PEOPLE]
    assert [row.email for row in rows] == [p[2] for p in PEOPLE]
    assert rows[0].date_of_birth == date(1988, 3, 14)
    assert rows[0].billing_type == "insurance" and rows[0].payer == "Aetna" and rows[0].member_id == "W123"
    assert rows[1].billing_type == "self_pay"
    assert all(row.importable for row in rows), [row.problems for row in rows]


@pytest.mark.parametrize("encoding", list(HAND_MADE_ENCODINGS))
def test_a_hand_made_spreadsheet_reads_the_same_in_every_encoding(encoding):
    table = read_table(decode(HAND_MADE_ENCODINGS[encoding]))
    assert table.headings == ("Client", "E-mail", "Telephone", "Notes")
    layout, mapping = recognise(table.headings)
    assert layout == ""
    assert mapping == {
        ClientField.NAME: "Client",
        ClientField.EMAIL: "E-mail",
        ClientField.PHONE: "Telephone",
    }
    rows = read_clients(table, mapping, CLINICIANS)
    assert [row.name for row in rows][0::2] == ["Zoë Müller", "Renée O’Brien"]
    # The formula-looking cell is imported as text, never as a formula, and the preview says so.
    assert not rows[1].name.startswith("=")
    assert "formula" in rows[1].notes["name"]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_comma_semicolon_and_tab_separated_files(separator):
    table = read_table(decode(vendor_export("Jane", separator=separator).encode()))
    assert recognise(table.headings)[0] == "Jane"
    assert len(table.rows) == len(PEOPLE)


def test_problems_are_listed_next_to_their_cells():
    text = (
        "Name,Email,Date of birth,Copay,Clinician,Billing\r\n"
        ",nobody@example.test,,,,\r\n"
        "Bad Email,not-an-address,31/31/1990,lots,Dr Nobody,barter\r\n"
        "Twice,ana@example.test,,,,\r\n"
        "Again,ANA@example.test,,,,\r\n"
        "Control\x07Char,ok@example.test,,,,\r\n"
    )
    table = read_table(decode(text.encode()))
    _, mapping = recognise(table.headings)
    rows = read_clients(table, mapping, CLINICIANS)
    assert rows[0].problems == {"name": "No name."}
    assert set(rows[1].problems) == {"email", "date_of_birth", "copay", "clinician", "billing_type"}
    assert "Dr Nobody" in rows[1].problems["clinician"]
    assert rows[2].importable
    assert rows[3].problems == {"email": "Same address as row 4."}
    assert "control characters" in rows[4].problems["name"]


def test_a_mapping_needs_a_name_and_an_email_column():
    headings = ("Who", "Address")
    assert set(mapping_problems({}, headings)) == {"name", "email"}
    assert mapping_problems({ClientField.NAME: "Who", ClientField.EMAIL: "Address"}, headings) == {}
    assert (
        "no column"
        in mapping_problems({ClientField.NAME: "Gone", ClientField.EMAIL: "Address"}, headings)[
            "name"
        ].lower()
    )


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_file_is_refused_with_a_message(name):
    data, words = BAD_FILES[name]
    with pytest.raises(ImportRefused) as refused:
        read_table(decode(data))
    assert words.lower() in refused.value.message.lower()


def _ics_start() -> str:
    """Next Tuesday after the suite's instant, 10:00 in New York."""
    day = START.date() + timedelta(days=(1 - START.weekday()) % 7 or 7)
    return f"{day:%Y%m%d}T100000"


def test_a_weekly_event_with_exceptions_becomes_its_occurrences():
    data = weekly_calendar(_ics_start(), client_email="alex@example.test", client_name="Alex Rivera")
    events = read_calendar(data, START, START + timedelta(days=365))
    weekly = [e for e in events if e.uid == "weekly-1@old.test"]
    assert len(weekly) == 7  # 8 weeks, one deleted
    assert all(e.recurring and e.attendees == ("alex@example.test",) for e in weekly)
    assert all(e.minutes == 50 for e in weekly)
    local_hours = [e.starts_at.hour for e in weekly]  # UTC: 15:00 (EST); the moved one an hour later
    assert local_hours.count(16) == 1 and local_hours.count(15) == 6
    assert [e.moved for e in weekly].count(True) == 1
    one_off = [e for e in events if e.uid == "oneoff-2@old.test"]
    assert len(one_off) == 1 and not one_off[0].recurring


@pytest.mark.parametrize(
    "data",
    [
        b"Name,Email\r\nA,a@example.test\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:notadate\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261201T100000Z\r\n",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    ],
    ids=["not a calendar", "bad date", "truncated", "no events"],
)
def test_a_malformed_calendar_is_refused(data):
    with pytest.raises(ImportRefused):
        read_calendar(data, START, START + timedelta(days=365))
