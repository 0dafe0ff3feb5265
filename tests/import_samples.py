"""Files a practice brings when it switches in: the vendors' client-list exports (their documented
columns, see ``app.domain.imports.LAYOUTS``), a hand-made spreadsheet saved by different programs, and
calendars exported as ``.ics``."""

from __future__ import annotations

import csv
import io

from app.domain.imports import LAYOUTS, MAX_BYTES, ClientField

PEOPLE = [
    # first, last, email, phone, date of birth, payer, member id, group, copay
    ("Ana", "Souza", "ana@example.test", "555-0101", "03/14/1988", "Aetna", "W123", "G9", "25.00"),
    ("Björn", "Åkesson", "bjorn@example.test", "555-0102", "11/02/1979", "", "", "", ""),
    ("Chloé", "Dubois", "chloe@example.test", "+1 555 0103", "07/30/1995", "", "", "", ""),
]


def vendor_export(layout_name: str, *, separator: str = ",", clinician: str = "Maya Chen") -> str:
    """A client list as ``layout_name`` exports it, with extra columns the import does not use."""
    layout = next(layout for layout in LAYOUTS if layout.name == layout_name)
    columns = ["Client ID", *layout.columns.values(), "Status"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(columns)
    for number, (first, last, email, phone, born, payer, member, group, copay) in enumerate(PEOPLE, start=1):
        values = {
            ClientField.FIRST_NAME: first,
            ClientField.LAST_NAME: last,
            ClientField.EMAIL: email,
            ClientField.PHONE: phone,
            ClientField.DATE_OF_BIRTH: born,
            ClientField.BILLING_TYPE: "Insurance" if payer else "Self-pay",
            ClientField.CLINICIAN: clinician,
            ClientField.PAYER: payer,
            ClientField.MEMBER_ID: member,
            ClientField.GROUP_NUMBER: group,
            ClientField.COPAY: copay,
        }
        writer.writerow([str(number), *(values[key] for key in layout.columns), "Active"])
    return buffer.getvalue()


# A spreadsheet someone made by hand: their own headings, accents, a formula-looking cell.
HAND_MADE = (
    "Client;E-mail;Telephone;Notes\r\n"
    "Zoë Müller;zoe@example.test;555-0201;likes mornings\r\n"
    '=HYPERLINK("http://x.test","José Núñez");jose@example.test;555-0202;\r\n'
    "Renée O’Brien;renee@example.test;555-0203;“quoted” text\r\n"
)

HAND_MADE_ENCODINGS = {
    "UTF-8": HAND_MADE.encode("utf-8"),
    "UTF-8 with BOM": HAND_MADE.encode("utf-8-sig"),
    "Windows-1252": HAND_MADE.encode("cp1252"),
    "UTF-16 (Excel Unicode text)": HAND_MADE.replace(";", "\t").encode("utf-16"),
}


def client_list(count: int) -> bytes:
    """A plain list of ``count`` clients."""
    lines = ["Name,Email,Phone"]
    lines += [f"Client {n:05d},client{n:05d}@example.test,555-{n:04d}" for n in range(count)]
    return ("\r\n".join(lines) + "\r\n").encode()


def weekly_calendar(first_start: str, *, client_email: str, client_name: str) -> bytes:
    """An old calendar's export: a weekly session for 8 weeks with one week deleted (EXDATE) and one
    moved an hour later (RECURRENCE-ID), plus a one-off event with someone not yet a client."""
    day = first_start[:8]
    return f"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Old System//EN\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:STANDARD\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
TZNAME:EST\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
TZNAME:EDT\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly-1@old.test\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=America/New_York:{first_start}\r
DURATION:PT50M\r
RRULE:FREQ=WEEKLY;COUNT=8\r
EXDATE;TZID=America/New_York:{_plus_weeks(first_start, 2)}\r
SUMMARY:Session with {client_name}\r
ATTENDEE;CN={client_name}:mailto:{client_email}\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-1@old.test\r
DTSTAMP:20260101T000000Z\r
RECURRENCE-ID;TZID=America/New_York:{_plus_weeks(first_start, 4)}\r
DTSTART;TZID=America/New_York:{_plus_weeks(first_start, 4, hours=1)}\r
DURATION:PT50M\r
SUMMARY:Session with {client_name}\r
ATTENDEE;CN={client_name}:mailto:{client_email}\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:oneoff-2@old.test\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=America/New_York:{day}T160000\r
DURATION:PT50M\r
SUMMARY:Consultation Sam Park\r
END:VEVENT\r
END:VCALENDAR\r
""".encode()


def _plus_weeks(stamp: str, weeks: int, *, hours: int = 0) -> str:
    from datetime import datetime, timedelta

    moved = datetime.strptime(stamp, "%Y%m%dT%H%M%S") + timedelta(weeks=weeks, hours=hours)
    return f"{moved:%Y%m%dT%H%M%S}"


# Files refused whole, and the words their message has.
BAD_FILES = {
    "empty": (b"", "empty"),
    "headings only": (b"Name,Email\r\n", "no rows"),
    "duplicate headings": (b"Name,Email,email\r\nA,a@example.test,b@example.test\r\n", "Two columns"),
    "missing heading": (b"Name,,Phone\r\nA,a@example.test,1\r\n", "no heading"),
    "more cells than headings": (b"Name,Email\r\nA,a@example.test,extra\r\n", "more cells"),
    "one column": (b"Name\r\nA\r\n", "one column"),
    "unclosed quote": (b'Name,Email\r\n"A,a@example.test\r\n', "quote"),
    "excel workbook": (b"PK\x03\x04" + b"\x00" * 100, "Excel"),
    "pdf": (b"%PDF-1.7\n...", "PDF"),
    "binary": (bytes(range(256)) * 4, "text file"),
    "undecodable": (b"Name,Email\r\n\x81\x8d\x8f,a@example.test\r\n", "characters"),
    "over 10 MB": (b"Name,Email\r\n" + b"A,a@example.test\r\n" * (MAX_BYTES // 17), "10 MB"),
}
