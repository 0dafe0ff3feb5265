"""Codes insurers read on a superbill: CPT service codes, place of service, ICD-10-CM diagnoses.

The CPT list is the outpatient psychotherapy set (descriptions in our own words, AMA's are
copyrighted). The ICD-10-CM list (``icd10cm_subset.tsv``) is a compact subset of the CMS/NCHS
ICD-10-CM code set (public domain): the mental and behavioural F-codes therapists use most and the
Z-codes for problems related to circumstances. See the file's header for the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

ICD10_FILE = Path(__file__).with_name("icd10cm_subset.tsv")


@dataclass(frozen=True)
class ServiceCode:
    """A CPT code with what it is for; ``minutes`` is the session length range it stands for."""

    code: str
    label: str
    minutes: tuple[int, int] | None = None


SERVICE_CODES: dict[str, ServiceCode] = {
    c.code: c
    for c in (
        ServiceCode("90791", "Diagnostic evaluation (intake)"),
        ServiceCode("90832", "Psychotherapy, 30 minutes", (16, 37)),
        ServiceCode("90834", "Psychotherapy, 45 minutes", (38, 52)),
        ServiceCode("90837", "Psychotherapy, 60 minutes", (53, 24 * 60)),
        ServiceCode("90846", "Family psychotherapy without the client"),
        ServiceCode("90847", "Family psychotherapy with the client"),
        ServiceCode("90853", "Group psychotherapy"),
    )
}

PLACES_OF_SERVICE: dict[str, str] = {
    "11": "11 Office",
    "02": "02 Telehealth (not in the client's home)",
    "10": "10 Telehealth in the client's home",
}
DEFAULT_PLACE_OF_SERVICE = "11"


def default_service_code(kind: str, minutes: int) -> str:
    """The CPT code an appointment gets unless the clinician picks another: an intro session is the
    intake evaluation (90791); otherwise the psychotherapy code whose time range holds its length.
    Empty when no code fits (under 16 minutes is not billable psychotherapy)."""
    if kind == "intro":
        return "90791"
    for code in SERVICE_CODES.values():
        if code.minutes and code.minutes[0] <= minutes <= code.minutes[1]:
            return code.code
    return ""


def service_code_of(chosen: str, kind: str, minutes: int) -> str:
    """The appointment's code: the chosen one, or the default from its kind and length."""
    return chosen if chosen in SERVICE_CODES else default_service_code(kind, minutes)


@cache
def diagnoses() -> dict[str, str]:
    """Every shipped ICD-10-CM code with its description, in the file's order."""
    codes: dict[str, str] = {}
    for line in ICD10_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, description = line.split("\t", 1)
            codes[code] = description
    return codes


def search_diagnoses(query: str, *, limit: int = 20) -> list[tuple[str, str]]:
    """Codes whose code or description contains every word of ``query`` (case-insensitive)."""
    words = query.lower().replace(".", "").split()
    if not words:
        return []
    found = []
    for code, description in diagnoses().items():
        haystack = f"{code.replace('.', '')} {description}".lower()
        if all(word in haystack for word in words):
            found.append((code, description))
            if len(found) == limit:
                break
    return found


def parse_diagnosis_codes(text: str) -> tuple[list[str], list[str]]:
    """Codes typed as a list (commas or spaces, primary first): (known codes, unknown entries)."""
    known, unknown = [], []
    for raw in text.replace(",", " ").split():
        code = raw.strip().upper()
        if len(code) > 3 and "." not in code:
            code = f"{code[:3]}.{code[3:]}"
        if code in diagnoses():
            if code not in known:
                known.append(code)
        else:
            unknown.append(raw[:20])
    return known, unknown


def valid_npi(npi: str) -> bool:
    """A National Provider Identifier: ten digits whose last is the Luhn check digit over the
    prefix 80840 and the first nine (CMS's NPI check digit rule)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def clean_tax_id(kind: str, text: str) -> str | None:
    """An EIN as NN-NNNNNNN or an SSN as NNN-NN-NNNN, from digits typed with or without dashes;
    None when it has the wrong number of digits."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 9 or len(digits) != len(text.replace("-", "").replace(" ", "")):
        return None
    return f"{digits[:2]}-{digits[2:]}" if kind == "ein" else f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def masked_tax_id(tax_id: str) -> str:
    """Only the last four digits, for pages that show a tax ID is on file."""
    return f"•••••{tax_id[-4:]}" if tax_id else ""
