"""The one way the app starts a PDF (fpdf2): A4, DejaVu fonts so any name prints, and a creation date
taken from the record (not the clock), so the same record always gives the same file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    ("Sans", ""): "DejaVuSans.ttf",
    ("Sans", "B"): "DejaVuSans-Bold.ttf",
    ("Mono", ""): "DejaVuSansMono.ttf",
}


def new_pdf(*, title: str, author: str, created_at: datetime, margin: float) -> FPDF:
    """An A4 document with its first page added, the fonts ``Sans`` (regular, bold) and ``Mono``.
    fpdf2 is imported here, on the first PDF, so starting a web or worker process does not pay for it."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(created_at.astimezone(UTC))
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_margins(margin, margin, margin)
    pdf.set_auto_page_break(True, margin=margin)
    for (family, style), filename in FONTS.items():
        pdf.add_font(family, style, str(FONT_DIR / filename))
    pdf.add_page()
    return pdf
