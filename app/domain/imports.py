"""Switching in (R13): reading a client list or a calendar exported from another system.

Pure functions: the upload's bytes become text (whatever the spreadsheet program saved), the text a
table, the table rows of client fields with every problem next to its cell. A file that can't be read
as a whole is refused with ``ImportRefused``; nothing of it is imported.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from app.domain.practice import parse_money
from app.domain.spreadsheets import FORMULA_STARTS
from app.domain.statuses import BillingType
from app.domain.validation import (
    CONTROL_RE,
    EMAIL_RE,
    MAX_YEAR,
    MIN_YEAR,
    clean_text,
    name_problem,
    normalize_email,
    text_problem,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
PREVIEW_ROWS = 20
# The longest value each field keeps (the columns of ``Client`` and ``InsurancePolicy``).
MAX_LENGTH = {"name": 200, "email": 254, "phone": 40, "payer": 200, "member_id": 80, "group_number": 80}
MAX_COPAY_MINOR = 100_000
SEPARATORS = ",;\t"


class ImportRefused(Exception):
    """The whole file is refused; ``message`` says why in the owner's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientField(StrEnum):
    NAME = "name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    DATE_OF_BIRTH = "date_of_birth"
    BILLING_TYPE = "billing_type"
    PAYER = "payer"
    MEMBER_ID = "member_id"
    GROUP_NUMBER = "group_number"
    COPAY = "copay"
    CLINICIAN = "clinician"

    @property
    def label(self) -> str:
        return FIELD_LABELS[self]


FIELD_LABELS = {
    ClientField.NAME: "Full name",
    ClientField.FIRST_NAME: "First name",
    ClientField.LAST_NAME: "Last name",
    ClientField.EMAIL: "Email",
    ClientField.PHONE: "Phone",
    ClientField.DATE_OF_BIRTH: "Date of birth",
    ClientField.BILLING_TYPE: "Billing type",
    ClientField.PAYER: "Insurance payer",
    ClientField.MEMBER_ID: "Insurance member ID",
    ClientField.GROUP_NUMBER: "Insurance group number",
    ClientField.COPAY: "Copay",
    ClientField.CLINICIAN: "Assigned clinician",
}


@dataclass(frozen=True)
class Layout:
    """A known export: its name and, per field, the column heading it uses."""

    name: str
    columns: Mapping[ClientField, str]


# Column headings of the client-list exports of the systems people switch from. Each is taken from the
# vendor's help-centre description of that export (not from a real account's file, which we can't get):
# - SimplePractice: Clients > Transfer client data, the client data template / "Client Details" report
#   (legal first and last name, email, phone, date of birth, billing type, primary clinician, insurance).
# - Jane: Reports > Patients > Patient List (first/last name, email, mobile phone, birth date, practitioner)
#   and the Insurance Policies report's insurer, policy and group numbers folded into the same sheet.
# - TherapyNotes: Patients > Patient list export ("Patient Contact Information" spreadsheet).
# A file with other headings is mapped by the owner, column by column.
LAYOUTS = (
    Layout(
        "SimplePractice",
        {
            ClientField.FIRST_NAME: "Legal First Name",
            ClientField.LAST_NAME: "Legal Last Name",
            ClientField.EMAIL: "Email",
            ClientField.PHONE: "Phone",
            ClientField.DATE_OF_BIRTH: "Date of Birth",
            ClientField.BILLING_TYPE: "Billing Type",
            ClientField.CLINICIAN: "Primary Clinician",
            ClientField.PAYER: "Insurance Payer",
            ClientField.MEMBER_ID: "Insurance Member ID",
            ClientField.GROUP_NUMBER: "Insurance Group ID",
            ClientField.COPAY: "Insurance Copay",
        },
    ),
    Layout(
        "Jane",
        {
            ClientField.FIRST_NAME: "First Name",
            ClientField.LAST_NAME: "Last Name",
            ClientField.EMAIL: "Email",
            ClientField.PHONE: "Mobile Phone",
            ClientField.DATE_OF_BIRTH: "Birth Date",
            ClientField.CLINICIAN: "Primary Practitioner",
            ClientField.PAYER: "Insurer",
            ClientField.MEMBER_ID: "Policy Number",
            ClientField.GROUP_NUMBER: "Group Number",
        },
    ),
    Layout(
        "TherapyNotes",
        {
            ClientField.FIRST_NAME: "Patient First Name",
            ClientField.LAST_NAME: "Patient Last Name",
            ClientField.EMAIL: "Email Address",
            ClientField.PHONE: "Mobile Phone",
            ClientField.DATE_OF_BIRTH: "DOB",
            ClientField.CLINICIAN: "Primary Clinician",
            ClientField.PAYER: "Primary Insurance",
            ClientField.MEMBER_ID: "Primary Insurance Member ID",
            ClientField.GROUP_NUMBER: "Primary Insurance Group Number",
            ClientField.COPAY: "Primary Insurance Copay",
        },
    ),
)

# Headings a hand-made spreadsheet commonly uses, for a first guess at the mapping.
COMMON_HEADINGS: dict[str, ClientField] = {
    "name": ClientField.NAME,
    "full name": ClientField.NAME,
    "client": ClientField.NAME,
    "client name": ClientField.NAME,
    "first name": ClientField.FIRST_NAME,
    "last name": ClientField.LAST_NAME,
    "surname": ClientField.LAST_NAME,
    "email": ClientField.EMAIL,
    "e-mail": ClientField.EMAIL,
    "email address": ClientField.EMAIL,
    "phone": ClientField.PHONE,
    "mobile": ClientField.PHONE,
    "telephone": ClientField.PHONE,
    "date of birth": ClientField.DATE_OF_BIRTH,
    "dob": ClientField.DATE_OF_BIRTH,
    "birthday": ClientField.DATE_OF_BIRTH,
    "billing": ClientField.BILLING_TYPE,
    "billing type": ClientField.BILLING_TYPE,
    "insurance": ClientField.PAYER,
    "payer": ClientField.PAYER,
    "member id": ClientField.MEMBER_ID,
    "group": ClientField.GROUP_NUMBER,
    "group number": ClientField.GROUP_NUMBER,
    "copay": ClientField.COPAY,
    "clinician": ClientField.CLINICIAN,
    "therapist": ClientField.CLINICIAN,
}


@dataclass(frozen=True)
class Table:
    """A spreadsheet read whole: its headings and its rows (each as long as the headings)."""

    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def decode(data: bytes) -> str:
    """The text of an uploaded spreadsheet: UTF-8 (with or without a byte-order mark), UTF-16 with its
    mark (Excel's "Unicode text"), or Windows-1252 (older Excel on Windows). Anything else is refused."""
    if len(data) > MAX_BYTES:
        raise ImportRefused("The file is larger than 10 MB. Split it into smaller files and import each.")
    if data.startswith(b"PK\x03\x04"):
        raise ImportRefused("This is an Excel workbook, not a CSV file. Save it as CSV (comma separated).")
    if data.startswith(b"%PDF"):
        raise ImportRefused("This is a PDF, not a CSV file. Export the list from your old system as CSV.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decoded(data, "utf-16")
    elif b"\x00" in data:
        raise ImportRefused("This isn't a text file. Export the list from your old system as CSV.")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decoded(data, "cp1252")
    if not text.strip():
        raise ImportRefused("The file is empty.")
    sample = text[:4096]
    if (
        len(CONTROL_RE.findall(sample.replace("\t", "").replace("\r", "").replace("\n", "")))
        > len(sample) // 50
    ):
        raise ImportRefused("This isn't a text file. Export the list from your old system as CSV.")
    return text


def _decoded(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise ImportRefused(
            "We can't read the characters in this file. Save it again as CSV UTF-8 and upload that."
        ) from None


def read_table(text: str) -> Table:
    """The headings and rows of CSV text whose separator is a comma, semicolon or tab (detected)."""
    lines = text.splitlines()
    sample = "\n".join(lines[:20])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=SEPARATORS)
    except csv.Error:
        dialect = csv.excel
    separator = dialect.delimiter if dialect is not csv.excel else _likeliest_separator(lines[0])
    try:
        records = [row for row in csv.reader(text.splitlines(), delimiter=separator, strict=True) if any(row)]
    except csv.Error:
        raise ImportRefused("The file isn't valid CSV (a quote is not closed). Export it again.") from None
    if not records:
        raise ImportRefused("The file is empty.")
    headings = tuple(cell.strip() for cell in records[0])
    if len(headings) < 2:
        raise ImportRefused(
            "We found only one column. Check the file is CSV with a heading on each column in the first row."
        )
    seen: dict[str, int] = {}
    for number, heading in enumerate(headings, start=1):
        if not heading:
            raise ImportRefused(f"Column {number} has no heading. Give every column a heading in row 1.")
        if heading.casefold() in seen:
            raise ImportRefused(
                f"Two columns are called “{heading}” (columns {seen[heading.casefold()]} and {number}). "
                "Rename one and upload the file again."
            )
        seen[heading.casefold()] = number
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) > len(headings) and any(cell.strip() for cell in record[len(headings) :]):
            raise ImportRefused(f"Row {number} has more cells than there are headings. Check that row.")
        cells = tuple(cell.strip() for cell in record[: len(headings)])
        rows.append(cells + ("",) * (len(headings) - len(cells)))
    if not rows:
        raise ImportRefused("The file has headings but no rows.")
    if len(rows) > MAX_ROWS:
        raise ImportRefused(f"The file has more than {MAX_ROWS:,} rows. Split it and import each part.")
    return Table(headings, tuple(rows))


def _likeliest_separator(heading_line: str) -> str:
    return max(SEPARATORS, key=heading_line.count)


def recognise(headings: Sequence[str]) -> tuple[str, dict[ClientField, str]]:
    """The known layout the headings match (its name and mapping), or ("", a guess from common headings)."""
    present = {heading.casefold(): heading for heading in headings}
    for layout in LAYOUTS:
        if all(column.casefold() in present for column in layout.columns.values()):
            return layout.name, {f: present[c.casefold()] for f, c in layout.columns.items()}
    guess: dict[ClientField, str] = {}
    for key, heading in present.items():
        found = COMMON_HEADINGS.get(re.sub(r"[_\s]+", " ", key).strip())
        if found is not None and found not in guess:
            guess[found] = heading
    return "", guess


def mapping_problems(mapping: Mapping[ClientField, str], headings: Sequence[str]) -> dict[str, str]:
    """What stops a mapping being used: a field needs a name and an email column that exist."""
    problems: dict[str, str] = {}
    for mapped_field, heading in mapping.items():
        if heading and heading not in headings:
            problems[mapped_field.value] = f"There is no column called “{heading}”."
    has_name = mapping.get(ClientField.NAME) or (
        mapping.get(ClientField.FIRST_NAME) and mapping.get(ClientField.LAST_NAME)
    )
    if not has_name:
        problems[ClientField.NAME.value] = "Choose the full name column, or both first and last name."
    if not mapping.get(ClientField.EMAIL):
        problems[ClientField.EMAIL.value] = "Choose the column with the email address."
    return problems


NAME_PARTS = (ClientField.NAME, ClientField.FIRST_NAME, ClientField.LAST_NAME)


@dataclass(frozen=True)
class ClientRow:
    """One row read as a client: cleaned values, and the problems found in each cell (by field)."""

    number: int
    name: str = ""
    email: str = ""
    phone: str = ""
    date_of_birth: date | None = None
    billing_type: str = BillingType.SELF_PAY.value
    payer: str = ""
    member_id: str = ""
    group_number: str = ""
    copay_minor: int | None = None
    clinician: str = ""
    problems: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # a change we made, e.g. a neutralised formula

    @property
    def importable(self) -> bool:
        return not self.problems

    def shown(self, key: ClientField) -> str:
        """The value as the preview shows it in the column of ``key``."""
        if key in (ClientField.NAME, ClientField.FIRST_NAME, ClientField.LAST_NAME):
            return self.name
        if key is ClientField.DATE_OF_BIRTH:
            return self.date_of_birth.isoformat() if self.date_of_birth else ""
        if key is ClientField.COPAY:
            return f"{self.copay_minor / 100:.2f}" if self.copay_minor is not None else ""
        if key is ClientField.BILLING_TYPE:
            return "Insurance" if self.billing_type == BillingType.INSURANCE.value else "Self-pay"
        return str(getattr(self, key.value))

    def problem_in(self, key: ClientField) -> str:
        """The problem the preview shows in the column of ``key`` (name problems under the name)."""
        if key is ClientField.NAME:
            return (
                self.problems.get("name")
                or self.problems.get("first_name")
                or self.problems.get("last_name", "")
            )
        return self.problems.get(key.value, "")


def preview_columns(mapping: Mapping[ClientField, str]) -> list[ClientField]:
    """The preview's columns: the name, the email, then each other field that has a column."""
    rest = [
        key
        for key in ClientField
        if mapping.get(key) and key not in NAME_PARTS and key is not ClientField.EMAIL
    ]
    return [ClientField.NAME, ClientField.EMAIL, *rest]


def file_label(name: str) -> str:
    """An uploaded file's name as we keep and show it: one line of readable text, at most 200 characters."""
    return clean_text(name).strip()[:200] or "upload"


def neutralise(value: str) -> tuple[str, bool]:
    """A cell that starts like a spreadsheet formula (OWASP "CSV injection") without its leading
    formula characters, and whether anything was removed."""
    stripped = value.lstrip("".join(FORMULA_STARTS) + "'")
    return stripped, stripped != value


def read_client(
    number: int, cells: Mapping[str, str], mapping: Mapping[ClientField, str], clinicians: Mapping[str, int]
) -> ClientRow:
    """One spreadsheet row as a client. ``clinicians`` maps a clinician's name (case-folded) to their id."""
    values = {f: cells.get(heading, "") for f, heading in mapping.items() if heading}
    problems: dict[str, str] = {}
    notes: dict[str, str] = {}
    text: dict[ClientField, str] = {}
    for key, value in values.items():
        problem = text_problem(value)
        if problem:
            problems[key.value] = problem
            value = ""
        if key is not ClientField.PHONE:
            value, changed = neutralise(value)
            if changed:
                notes[key.value] = "Started like a spreadsheet formula; imported as plain text."
        limit = MAX_LENGTH.get(key.value)
        if limit and len(value) > limit:
            problems[key.value] = f"Longer than {limit} characters."
        text[key] = value
    name = text.get(ClientField.NAME) or " ".join(
        part for part in (text.get(ClientField.FIRST_NAME, ""), text.get(ClientField.LAST_NAME, "")) if part
    )
    name_field = "name" if mapping.get(ClientField.NAME) else "first_name"
    if not name:
        problems.setdefault(name_field, "No name.")
    elif len(name) > MAX_LENGTH["name"]:
        problems.setdefault(name_field, f"Longer than {MAX_LENGTH['name']} characters.")
    elif problem := name_problem(name):
        problems.setdefault(name_field, problem)
    email = normalize_email(text.get(ClientField.EMAIL, ""))
    if not email:
        problems.setdefault("email", "No email address.")
    elif not EMAIL_RE.match(email):
        problems.setdefault("email", "Not an email address.")
    born = None
    if raw := text.get(ClientField.DATE_OF_BIRTH):
        born = parse_date(raw)
        if born is None:
            problems["date_of_birth"] = "Not a date we can read (use YYYY-MM-DD or MM/DD/YYYY)."
    payer = text.get(ClientField.PAYER, "")
    billing = _billing_type(text.get(ClientField.BILLING_TYPE, ""), has_payer=bool(payer))
    if billing is None:
        problems["billing_type"] = "Use “self-pay” or “insurance”."
        billing = BillingType.SELF_PAY.value
    copay = None
    if raw := text.get(ClientField.COPAY):
        copay = parse_money(raw)
        if copay is None or not 0 <= copay <= MAX_COPAY_MINOR:
            problems["copay"] = f"Not an amount between 0 and {MAX_COPAY_MINOR // 100}."
            copay = None
    clinician = text.get(ClientField.CLINICIAN, "")
    if clinician and clinician.casefold() not in clinicians:
        problems["clinician"] = f"No clinician called “{clinician}” in this practice."
    return ClientRow(
        number=number,
        name=name,
        email=email,
        phone=text.get(ClientField.PHONE, ""),
        date_of_birth=born,
        billing_type=billing,
        payer=payer,
        member_id=text.get(ClientField.MEMBER_ID, ""),
        group_number=text.get(ClientField.GROUP_NUMBER, ""),
        copay_minor=copay,
        clinician=clinician,
        problems=problems,
        notes=notes,
    )


def read_clients(
    table: Table, mapping: Mapping[ClientField, str], clinicians: Mapping[str, int]
) -> list[ClientRow]:
    """Every row of the table as a client; a second row with an address already seen is a problem."""
    rows: list[ClientRow] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(table.rows, start=2):
        row = read_client(number, dict(zip(table.headings, cells, strict=True)), mapping, clinicians)
        if row.email and row.email in seen and "email" not in row.problems:
            row.problems["email"] = f"Same address as row {seen[row.email]}."
        seen.setdefault(row.email, number)
        rows.append(row)
    return rows


def _billing_type(value: str, *, has_payer: bool) -> str | None:
    key = re.sub(r"[\s_-]+", "", value.casefold())
    if not key:
        return BillingType.INSURANCE.value if has_payer else BillingType.SELF_PAY.value
    if key in {"selfpay", "self", "private", "privatepay", "cash"}:
        return BillingType.SELF_PAY.value
    if key in {"insurance", "insured"}:
        return BillingType.INSURANCE.value
    return None


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%b %d, %Y", "%B %d, %Y")


def parse_date(value: str) -> date | None:
    """A date as the common exports write it (ISO, US month/day/year, or "Mar 4, 1990")."""
    for pattern in DATE_FORMATS:
        try:
            found = datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
        return found if MIN_YEAR <= found.year <= MAX_YEAR else None
    return None


@dataclass(frozen=True)
class CalendarEvent:
    """One occurrence read from an ``.ics`` calendar, in UTC. ``uid`` is shared by a recurring event's
    occurrences; ``moved`` marks an occurrence changed on its own (a ``RECURRENCE-ID`` exception)."""

    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    attendees: tuple[str, ...] = ()
    recurring: bool = False
    interval_weeks: int = 1
    moved: bool = False

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


def is_calendar(data: bytes) -> bool:
    """Whether an upload is an iCalendar file rather than a spreadsheet."""
    return data.lstrip(codecs.BOM_UTF8).lstrip().upper().startswith(b"BEGIN:VCALENDAR")


def read_calendar(data: bytes, start: datetime, end: datetime) -> list[CalendarEvent]:
    """The timed, not-cancelled events of an iCalendar file between ``start`` and ``end``, recurring
    ones expanded (their exceptions and deleted dates applied) by ``recurring_ical_events``."""
    if len(data) > MAX_BYTES:
        raise ImportRefused("The file is larger than 10 MB. Export a shorter range of your calendar.")
    if b"\x00" in data or not is_calendar(data):
        raise ImportRefused("This isn't a calendar (.ics) file. Export your old calendar as iCalendar.")
    try:
        calendar = Calendar.from_ical(data.lstrip(codecs.BOM_UTF8))
        found = recurring_ical_events.of(calendar).between(start, end)
    except Exception:  # the parser and expander raise many kinds for a broken file; each means the same
        raise ImportRefused("This calendar file is damaged and can't be read. Export it again.") from None
    intervals = {
        str(master.get("UID", "")): int(master["RRULE"].get("INTERVAL", [1])[0])
        for master in calendar.walk("VEVENT")
        if master.get("RRULE") is not None
    }
    events = []
    for item in found:
        begins, finishes = item.get("DTSTART"), item.get("DTEND")
        if begins is None or not isinstance(begins.dt, datetime) or begins.dt.tzinfo is None:
            continue  # all-day events and floating times are not sessions
        if str(item.get("STATUS", "")).upper() == "CANCELLED":
            continue
        starts = begins.dt
        ends = finishes.dt if finishes is not None else starts + item.get("DURATION").dt
        uid, original = str(item.get("UID", "")), item.get("RECURRENCE-ID")
        attendees = item.get("ATTENDEE") or []
        attendees = attendees if isinstance(attendees, list) else [attendees]
        events.append(
            CalendarEvent(
                uid=uid,
                summary=str(item.get("SUMMARY", "")).strip(),
                starts_at=starts.astimezone(UTC),
                ends_at=ends.astimezone(UTC),
                attendees=tuple(
                    normalize_email(str(a).removeprefix("mailto:").removeprefix("MAILTO:")) for a in attendees
                ),
                recurring=uid in intervals,
                interval_weeks=intervals.get(uid, 1),
                moved=original is not None and original.dt != starts,
            )
        )
    if not events and not calendar.walk("VEVENT"):
        raise ImportRefused("This calendar has no events.")
    return sorted(events, key=lambda e: (e.starts_at, e.uid))


def match_client(event: CalendarEvent, by_email: Mapping[str, int], by_name: Mapping[str, int]) -> int | None:
    """The client an event is with: an attendee's address, else the event's title as a client's name."""
    for address in event.attendees:
        if address in by_email:
            return by_email[address]
    title = event.summary.casefold()
    for prefix in ("session with ", "appointment with ", "therapy with "):
        title = title.removeprefix(prefix)
    return by_name.get(title.strip())


# Sessions from a spreadsheet: one row per session, in the practice's local time.
SESSION_HEADINGS = {
    "client": "name",
    "client name": "name",
    "name": "name",
    "email": "email",
    "client email": "email",
    "date": "date",
    "start date": "date",
    "time": "time",
    "start time": "time",
    "start": "time",
    "duration": "minutes",
    "minutes": "minutes",
    "length": "minutes",
}
MAX_SESSION_MINUTES = 8 * 60


def read_session_table(table: Table, zone: str, start: datetime, end: datetime) -> list[CalendarEvent]:
    """The sessions of a spreadsheet (a client name or email, a date, a start time and a length in minutes)
    between ``start`` and ``end``; a row that can't be read refuses the whole file, naming the row."""
    columns: dict[str, int] = {}
    for index, heading in enumerate(table.headings):
        found = SESSION_HEADINGS.get(re.sub(r"[_\s]+", " ", heading.casefold()).strip())
        if found and found not in columns:
            columns[found] = index
    missing = [label for key, label in (("date", "date"), ("time", "start time")) if key not in columns]
    if "name" not in columns and "email" not in columns:
        missing.insert(0, "client name or email")
    if missing:
        raise ImportRefused(f"We need a column for each of: {', '.join(missing)}.")
    events = []
    local = ZoneInfo(zone)
    for number, cells in enumerate(table.rows, start=2):
        day = parse_date(cells[columns["date"]])
        at = _parse_time(cells[columns["time"]])
        raw_minutes = cells[columns["minutes"]] if "minutes" in columns else "50"
        minutes = int(raw_minutes) if raw_minutes.isdigit() and len(raw_minutes) < 4 else 0
        if day is None or at is None or not 0 < minutes <= MAX_SESSION_MINUTES:
            raise ImportRefused(
                f"Row {number}: we can't read its date, start time or length (e.g. 2026-12-01, 10:00, 50)."
            )
        starts = datetime.combine(day, at, tzinfo=local).astimezone(UTC)
        if not start <= starts < end:
            continue
        name = neutralise(cells[columns["name"]])[0] if "name" in columns else ""
        email = normalize_email(cells[columns["email"]]) if "email" in columns else ""
        events.append(
            CalendarEvent(
                uid=f"row-{number}",
                summary=name or email,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=minutes),
                attendees=(email,) if email else (),
            )
        )
    return events


def _parse_time(value: str) -> time | None:
    for pattern in ("%H:%M", "%I:%M %p", "%I:%M%p", "%I %p"):
        try:
            return datetime.strptime(value.strip().upper(), pattern).time()
        except ValueError:
            continue
    return None
