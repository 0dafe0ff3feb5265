"""The signed copy of a document or intake as a PDF (fpdf2, DejaVu fonts for any language).

The text is printed exactly as signed (the Markdown source, never interpreted), followed by the
signature block: typed name, "I agree", time, address, device and the SHA-256 of the signed text.
Whatever a client typed is only ever text on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.services.pdf import new_pdf


@dataclass(frozen=True)
class SignedCopy:
    """Everything printed on one signed copy."""

    heading: str
    subheading: str
    sections: list[tuple[str, str]]  # (label, text); an empty label prints the text alone
    practice_name: str
    client_name: str
    client_email: str
    signed_name: str
    signed_at: datetime
    time_zone: str
    ip: str
    user_agent: str
    text_hash: str
    hash_note: str


def _when(at: datetime, zone: str) -> tuple[str, str]:
    local = at.astimezone(ZoneInfo(zone or "UTC"))
    return local.strftime("%A %-d %B %Y, %H:%M:%S") + f" ({zone or 'UTC'})", at.astimezone(UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


def render(copy: SignedCopy) -> bytes:
    """The PDF bytes of ``copy`` (the file's creation date is the signing time, so it is reproducible)."""
    pdf = new_pdf(title=copy.heading, author=copy.practice_name, created_at=copy.signed_at, margin=18)
    width = pdf.epw

    def line(text: str, *, size: float = 10, style: str = "", family: str = "Sans", gap: float = 1) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(width, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line(copy.practice_name, size=9)
    line(copy.heading, size=16, style="B", gap=1)
    line(copy.subheading, size=9, gap=5)
    for label, text in copy.sections:
        if label:
            line(label, size=10, style="B", gap=0.5)
        line(text or "—", size=10, gap=3)

    pdf.ln(4)
    pdf.set_draw_color(120, 120, 120)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(4)
    local, utc = _when(copy.signed_at, copy.time_zone)
    line("Signature", size=12, style="B", gap=2)
    for label, value in (
        ("Signed by (typed full name)", copy.signed_name),
        ("Client", f"{copy.client_name} <{copy.client_email}>"),
        ("Agreement", "The client ticked “I agree” and typed their full name."),
        ("Signed at", local),
        ("In UTC", utc),
        ("From address", copy.ip or "unknown"),
        ("Device", copy.user_agent or "unknown"),
    ):
        line(label, size=8, gap=0)
        line(value, size=10, gap=2)
    line("SHA-256 of the signed text", size=8, gap=0)
    line(copy.text_hash, size=9, family="Mono", gap=1)
    line(copy.hash_note, size=8)
    return bytes(pdf.output())
