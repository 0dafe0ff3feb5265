"""What goes on a superbill, and what must be known before one can be made (R15).

A superbill lists the paid sessions of one session or one month with every field an insurer reads.
Only sessions that took place are on it: late-cancel and no-show fees are never billed to insurance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.domain.billing_codes import PLACES_OF_SERVICE, SERVICE_CODES, valid_npi

PER_SESSION = "per_session"
MONTHLY = "monthly"
NONE = "none"
FREQUENCIES = {
    PER_SESSION: "After each paid session",
    MONTHLY: "Once a month, for the month's sessions",
    NONE: "I don't need superbills",
}


@dataclass(frozen=True)
class Provider:
    """The clinician and practice as printed on a superbill."""

    clinician_name: str
    licence_type: str
    licence_number: str
    npi: str
    practice_name: str
    tax_id_kind: str
    tax_id: str
    address: str
    group_npi: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class ClientDetails:
    name: str
    date_of_birth: date | None
    address: str
    diagnosis_codes: tuple[str, ...]
    consented: bool


@dataclass(frozen=True)
class Line:
    """One session: date, place, CPT, fee and what the client paid for it."""

    appointment_id: int
    date_of_service: date
    place_of_service: str
    service_code: str
    fee_minor: int
    paid_minor: int

    @property
    def service_label(self) -> str:
        code = SERVICE_CODES.get(self.service_code)
        return code.label if code else ""

    @property
    def place_label(self) -> str:
        return PLACES_OF_SERVICE.get(self.place_of_service, self.place_of_service)


@dataclass(frozen=True)
class Document:
    """Everything printed on one superbill."""

    title: str
    period: str
    issued_on: date
    currency: str
    provider: Provider
    client: ClientDetails
    lines: list[Line] = field(default_factory=list)

    @property
    def total_fee_minor(self) -> int:
        return sum(line.fee_minor for line in self.lines)

    @property
    def total_paid_minor(self) -> int:
        return sum(line.paid_minor for line in self.lines)


def missing_provider_fields(provider: Provider) -> list[str]:
    """What the provider's side of a superbill or Good Faith Estimate lacks, in words the clinician
    can act on (empty: ready)."""
    missing = []
    if not provider.licence_number:
        missing.append("Your licence number (Account › Billing details)")
    if not valid_npi(provider.npi):
        missing.append("Your NPI, 10 digits (Account › Billing details)")
    if not provider.tax_id:
        missing.append("The practice's tax ID, EIN or SSN (Account › Billing details)")
    if not provider.address:
        missing.append("The practice's address (Account › Billing details)")
    return missing


def missing_fields(provider: Provider, client: ClientDetails, lines: list[Line]) -> list[str]:
    """What stops a superbill from being made, in words the clinician can act on (empty: ready)."""
    missing = missing_provider_fields(provider)
    if client.date_of_birth is None:
        missing.append("The client's date of birth")
    if not client.address:
        missing.append("The client's address")
    if not client.diagnosis_codes:
        missing.append("A diagnosis code (ICD-10)")
    elif not client.consented:
        missing.append("The client's consent to share the diagnosis on superbills")
    if any(not line.service_code for line in lines):
        missing.append("A service code (CPT) for every session")
    return missing


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(key: str) -> tuple[date, date]:
    """The first day of the month ``YYYY-MM`` and the first day of the next."""
    year, month = (int(part) for part in key.split("-"))
    start = date(year, month, 1)
    return start, date(year + month // 12, month % 12 + 1, 1)


def month_label(key: str) -> str:
    return f"{month_bounds(key)[0]:%B %Y}"
