"""Shared set-up for superbill and estimate tests: billing details filled in, paid sessions, PDF text."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from pypdf import PdfReader

from app.config import Settings
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Clinician
from app.services import superbills
from app.services.context import CurrentUser
from tests.charging_support import Practice
from tests.helpers import Person

NPI = "1234567893"  # CMS's example NPI: a valid check digit
TAX_ID = "12-3456789"
DATE_OF_BIRTH = date(1990, 4, 12)


def member_of(person: Person) -> CurrentUser:
    return person.user


async def fill_billing_details(
    practice: Practice, now: datetime, settings: Settings, *, npi: str = NPI
) -> None:
    """Everything a superbill needs: the clinician's licence and NPI, the practice's tax ID and
    address, the client's birth date, address and a diagnosis they agreed to share."""
    clinician = practice.clinician
    await Clinician.update({Clinician.licence_type: "LCSW"}).where(
        Clinician.id == clinician.user.clinician_id
    )
    await superbills.save_billing_setup(
        clinician.user,
        licence_number="NY-123456",
        npi=npi,
        legal_name="Calm Harbor Counseling PLLC",
        tax_id_kind="ein",
        tax_id=TAX_ID,
        group_npi="",
        address="12 Harbor Street, Suite 4\nBrooklyn, NY 11201",
        phone="718-555-0100",
        place_of_service="11",
        now=now,
        actor=practice.clinician_actor,
        settings=settings,
    )
    await superbills.save_client_details(
        clinician.user,
        practice.client_id,
        date_of_birth=DATE_OF_BIRTH,
        address="98 Elm Road\nQueens, NY 11375",
        diagnosis_codes=["F41.1", "Z63.0"],
        consented=True,
        now=now,
        actor=practice.clinician_actor,
    )


async def paid_session(
    practice: Practice,
    starts_at: datetime,
    *,
    fee_minor: int = 15000,
    status: str = "occurred",
    minutes: int = 50,
) -> int:
    """A session in the past with its charge already paid (as the charge job leaves it)."""
    async with transaction():
        rows = await Appointment.insert(
            Appointment(
                clinician=practice.clinician.user.clinician_id,
                client=practice.client_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                duration_minutes=minutes,
                fee_minor=fee_minor,
                status=status,
                created_at=starts_at - timedelta(days=7),
            )
        ).returning(Appointment.id)
        await Charge.insert(
            Charge(
                appointment=rows[0]["id"],
                client=practice.client_id,
                clinician=practice.clinician.user.clinician_id,
                amount_minor=fee_minor,
                status="succeeded",
                due_at=starts_at + timedelta(days=2),
                succeeded_at=starts_at + timedelta(days=2),
                created_at=starts_at,
                updated_at=starts_at + timedelta(days=2),
            )
        )
    return rows[0]["id"]


def pdf_text(data: bytes) -> str:
    """The text of every page, as a reader (or an insurer's scanner) gets it, on one line."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
