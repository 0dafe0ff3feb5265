"""Practice-level rules: booking page slugs and money formatting (R10: integer minor units)."""

from __future__ import annotations

import re
import unicodedata

# The highest fee per session unless the practice sets another, and the most it may set (both in minor
# units; money columns are 32-bit integers).
DEFAULT_FEE_CEILING = 200_000
MAX_FEE_CEILING = 10_000_000
CURRENCY_SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "GBP": "£", "EUR": "€", "NZD": "NZ$"}


def slugify(text: str, *, max_length: int = 60) -> str:
    """A URL-safe slug: 'Calm Waters Therapy' -> 'calm-waters-therapy'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "practice"


def format_money(amount_minor: int | None, currency: str = "USD") -> str:
    """'$150.00' from 15000 USD. Integer arithmetic only."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency.upper() + " ")
    return f"{sign}{symbol}{whole:,}.{cents:02d}"


def money_input(amount_minor: int | None) -> str:
    """'150.00' from 15000: an amount as a person types it into a money field (no symbol, no commas)."""
    if amount_minor is None:
        return ""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_money(text: str) -> int | None:
    """'150', '150.5', '$1,150.00' -> minor units; None when it is not an amount."""
    cleaned = (text or "").strip().replace(",", "").lstrip("$£€").strip()
    match = re.fullmatch(r"(-?)(\d{1,9})(?:\.(\d{1,2}))?", cleaned)
    if not match:
        return None
    sign, whole, fraction = match.groups()
    minor = int(whole) * 100 + int((fraction or "0").ljust(2, "0"))
    return -minor if sign else minor


def amount_problem(amount: int, ceiling: int, currency: str = "USD", *, label: str = "The fee") -> str | None:
    """Why ``amount`` (minor units) can't be entered: negative, or over the practice's ceiling."""
    if amount < 0:
        return f"{label} can't be negative."
    if amount > ceiling:
        limit = format_money(ceiling, currency)
        return f"{label} can't be more than {limit} (the practice's limit per session)."
    return None
