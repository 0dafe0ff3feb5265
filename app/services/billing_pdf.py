"""Superbills and Good Faith Estimates as PDF (fpdf2, DejaVu fonts so any name prints).

What a client or clinician typed is only ever text on the page. The file's creation date is the
issue time, so the same document renders to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.domain.billing_codes import diagnoses
from app.domain.practice import format_money
from app.domain.superbills import Document
from app.services.pdf import new_pdf


class _Page:
    """A one-column A4 page with labelled lines and a simple table."""

    def __init__(self, title: str, author: str, at: datetime) -> None:
        self.pdf = new_pdf(title=title, author=author, created_at=at, margin=16)

    def text(self, text: str, *, size: float = 10, bold: bool = False, gap: float = 1) -> None:
        self.pdf.set_font("Sans", "B" if bold else "", size)
        self.pdf.multi_cell(self.pdf.epw, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(gap)

    def field(self, label: str, value: str) -> None:
        self.text(f"{label}: {value or '—'}", gap=0.5)

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self.text(text, size=11, bold=True, gap=1)

    def table(self, headings: list[str], widths: list[float], rows: list[list[str]]) -> None:
        total = sum(widths)
        widths = [w * self.pdf.epw / total for w in widths]
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=5) as table:
            self.pdf.set_font("Sans", "B", 9)
            row = table.row()
            for text in headings:
                row.cell(text)
            self.pdf.set_font("Sans", "", 9)
            for cells in rows:
                row = table.row()
                for text in cells:
                    row.cell(text)

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())


def _day(value: date | None) -> str:
    return f"{value:%m/%d/%Y}" if value else ""


def superbill(doc: Document, at: datetime) -> bytes:
    """The superbill: provider, client, diagnoses, one line per paid session, totals."""
    page = _Page(f"Superbill {doc.period}", doc.provider.practice_name, at)
    money = lambda minor: format_money(minor, doc.currency)  # noqa: E731
    page.text(doc.provider.practice_name, size=9)
    page.text(doc.title, size=16, bold=True)
    page.text(f"Statement for insurance reimbursement · {doc.period} · issued {_day(doc.issued_on)}", size=9)

    provider = doc.provider
    page.heading("Provider")
    page.field("Rendering provider", provider.clinician_name)
    page.field("Licence", f"{provider.licence_type} {provider.licence_number}".strip())
    page.field("NPI (individual)", provider.npi)
    if provider.group_npi:
        page.field("NPI (group)", provider.group_npi)
    page.field("Practice", provider.practice_name)
    page.field("Tax ID (EIN)" if provider.tax_id_kind == "ein" else "Tax ID (SSN)", provider.tax_id)
    page.field("Address", provider.address.replace("\n", ", "))
    if provider.phone or provider.email:
        page.field("Contact", " · ".join(part for part in (provider.phone, provider.email) if part))

    client = doc.client
    page.heading("Client")
    page.field("Name", client.name)
    page.field("Date of birth", _day(client.date_of_birth))
    page.field("Address", client.address.replace("\n", ", "))

    page.heading("Diagnosis (ICD-10-CM)")
    names = diagnoses()
    for letter, code in zip("ABCDEFGHIJKL", client.diagnosis_codes, strict=False):
        page.text(f"{letter}. {code} {names.get(code, '')}", gap=0.5)
    pointer = "".join("ABCD"[: min(4, len(client.diagnosis_codes))])

    page.heading("Services")
    page.table(
        ["Date of service", "Place of service", "CPT", "Description", "Diagnosis", "Fee", "Paid"],
        [16, 16, 9, 26, 10, 12, 12],
        [
            [
                _day(line.date_of_service),
                line.place_label,
                line.service_code,
                line.service_label,
                pointer,
                money(line.fee_minor),
                money(line.paid_minor),
            ]
            for line in doc.lines
        ],
    )
    page.pdf.ln(3)
    page.text(f"Total fees: {money(doc.total_fee_minor)}", bold=True, gap=0.5)
    page.text(f"Total paid: {money(doc.total_paid_minor)}", bold=True, gap=0.5)
    page.text(f"Balance due: {money(doc.total_fee_minor - doc.total_paid_minor)}", gap=4)
    page.text(
        f"I certify that these services were provided by me. Signed: {provider.clinician_name}, "
        f"{_day(doc.issued_on)}",
        size=9,
    )
    page.text(
        "Send this superbill to your insurer with their claim form for out-of-network reimbursement.",
        size=9,
    )
    return page.bytes()


@dataclass(frozen=True)
class Estimate:
    """Everything printed on a Good Faith Estimate."""

    version: int
    reason: str
    issued_on: date
    client_name: str
    client_date_of_birth: date | None
    provider_name: str
    licence: str
    npi: str
    practice_name: str
    tax_id: str
    address: str
    contact: str
    service_code: str
    service_label: str
    diagnosis_codes: tuple[str, ...]
    sessions: list[tuple[date, int]]  # (day, fee)
    currency: str
    total_minor: int


RIGHTS = (
    "You have the right to receive a Good Faith Estimate explaining how much your medical care will cost. "
    "Under the law, health care providers need to give patients who don't have insurance or who are not "
    "using insurance an estimate of the bill for medical items and services. You have the right to "
    "receive a Good Faith Estimate for the total expected cost of any non-emergency items or services. "
    "Make sure your health care provider gives you a Good Faith Estimate in writing at least 1 business "
    "day before your medical service or item. You can also ask your health care provider for a Good "
    "Faith Estimate before you schedule an item or service. If you receive a bill that is at least $400 "
    "more than your Good Faith Estimate, you can dispute the bill. Make sure to save a copy or picture "
    "of your Good Faith Estimate. For questions or more information about your right to a Good Faith "
    "Estimate, visit www.cms.gov/nosurprises or call 1-800-985-3059."
)


def estimate(est: Estimate, at: datetime) -> bytes:
    """The Good Faith Estimate: who, what, each planned session's expected fee, the total, the rights."""
    page = _Page(f"Good Faith Estimate {est.version}", est.practice_name, at)
    money = lambda minor: format_money(minor, est.currency)  # noqa: E731
    page.text(est.practice_name, size=9)
    page.text("Good Faith Estimate", size=16, bold=True)
    page.text(f"Version {est.version} ({est.reason}) · issued {_day(est.issued_on)}", size=9)
    page.heading("Client")
    page.field("Name", est.client_name)
    page.field("Date of birth", _day(est.client_date_of_birth))
    page.heading("Provider")
    page.field("Provider", est.provider_name)
    page.field("Licence", est.licence)
    page.field("NPI", est.npi)
    page.field("Practice", est.practice_name)
    page.field("Tax ID", est.tax_id)
    page.field("Address", est.address.replace("\n", ", "))
    page.field("Contact", est.contact)
    page.heading("Expected services")
    if est.diagnosis_codes:
        page.field("Diagnosis codes", ", ".join(est.diagnosis_codes))
    page.table(
        ["Date", "Service", "CPT", "Expected fee"],
        [16, 40, 10, 16],
        [[_day(day), est.service_label, est.service_code, money(fee)] for day, fee in est.sessions],
    )
    page.pdf.ln(3)
    page.text(f"Expected total for {len(est.sessions)} sessions: {money(est.total_minor)}", bold=True, gap=4)
    page.text(
        "This estimate is not a contract and does not oblige you to receive these services. It covers the "
        "sessions booked now, for at most 12 months; a new estimate is issued if the fee or the plan "
        "changes.",
        size=9,
    )
    page.heading("Your right to a Good Faith Estimate")
    page.text(RIGHTS, size=9)
    return page.bytes()
