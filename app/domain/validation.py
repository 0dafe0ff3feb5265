"""Form validation shared by every area: a field-keyed error map and small parsers.

Parsers return the cleaned value or record a message against the field; a form is valid
when no message was recorded. Handlers re-render the form with ``errors`` next to fields.

Every submitted value passes ``text_problem`` when the form is read (``Form.of``), and query strings
pass it in ``RequestChecks``: no control characters (tab and line breaks only in multi-line fields),
no unpaired surrogates; names also refuse bidirectional overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.domain.practice import amount_problem, parse_money

# Record ids are PostgreSQL ``serial`` integers: a number outside 1…MAX_ID names no record (and a
# larger one would overflow the database driver), so it is treated like any unknown id.
MAX_ID = 2**31 - 1

# The sane window for any date typed into the app; ``date(9999, 12, 31)`` + a time zone overflows.
MIN_YEAR, MAX_YEAR = 1900, 2200
# Fields that are textareas: tabs and line breaks are part of their text.
MULTILINE_FIELDS = frozenset({"internal_note", "coverage_note"})
# C0 and C1 control characters and DEL; tab, LF and CR are split out by ``text_problem``.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_BREAK_RE = re.compile(r"[\r\n\u2028\u2029]")
SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# Characters that reorder the text around them (U+202A–U+202E, U+2066–U+2069): refused in names.
BIDI_OVERRIDE_RE = re.compile(r"[\u202a-\u202e\u2066-\u2069]")

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` can't be accepted as typed text, or None (multi-line text may hold tabs and breaks)."""
    if SURROGATE_RE.search(value):
        return "This contains characters we can't read. Type it again."
    if not multiline and LINE_BREAK_RE.search(value):
        return "Keep this on one line (no line breaks)."
    rest = value.replace("\t", "").replace("\n", "").replace("\r", "") if multiline else value
    if CONTROL_RE.search(rest):
        return "This contains invisible control characters. Remove them and try again."
    return None


def name_problem(value: str) -> str | None:
    """Why ``value`` can't be someone's name (beyond ``text_problem``), or None."""
    if BIDI_OVERRIDE_RE.search(value):
        return "This contains invisible characters that reorder text. Remove them and try again."
    return None


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` without the characters ``text_problem`` refuses (for text we read but can't refuse, like
    a browser's User-Agent); multi-line text keeps tabs and line breaks, with CRLF as LF."""
    value = SURROGATE_RE.sub("", value)
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return CONTROL_RE.sub(lambda m: m.group() if m.group() in "\t\n" else "", value)
    return CONTROL_RE.sub("", LINE_BREAK_RE.sub(" ", value))


def year_problem(year: int, label: str = "The date") -> str | None:
    """Dates outside ``MIN_YEAR``…``MAX_YEAR`` are typos (and the far ones overflow time zones)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return f"{label} must be between the years {MIN_YEAR} and {MAX_YEAR}."
    return None


class FieldProblem(Exception):
    """A rule refused some input; ``field`` names the form field the ``message`` belongs next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Form:
    """Raw submitted values plus the errors found while cleaning them."""

    data: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, object] | None, *, multiline: frozenset[str] = MULTILINE_FIELDS) -> Form:
        """The submitted values; a value with characters ``text_problem`` refuses gets a message and is
        kept without them (so nothing downstream ever sees them, even when the form is re-rendered)."""
        form = cls({})
        for key, value in (raw or {}).items():
            if isinstance(value, list):
                value = value[-1] if value else ""
            name = clean_text(str(key))
            value = "" if value is None else str(value)
            problem = text_problem(value, multiline=name in multiline)
            if problem:
                form.error(name, problem)
                value = clean_text(value, multiline=name in multiline)
            elif name in multiline:
                value = clean_text(value, multiline=True)
            form.data[name] = value
        return form

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def first_error(self) -> tuple[str, str]:
        """(field, message) of the first problem recorded."""
        return next(iter(self.errors.items()))

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, *, label: str, required: bool = True, max_length: int = 200) -> str:
        value = self.data.get(name, "").strip()
        if required and not value:
            self.error(name, f"{label} is required.")
        elif len(value) > max_length:
            self.error(name, f"{label} must be at most {max_length} characters.")
        return value

    def name(
        self, name: str = "name", *, label: str = "Name", required: bool = True, max_length: int = 200
    ) -> str:
        """A person's or practice's name: text that also refuses bidirectional overrides."""
        value = self.text(name, label=label, required=required, max_length=max_length)
        problem = name_problem(value)
        if problem:
            self.error(name, problem)
        return value

    def money(
        self,
        name: str,
        *,
        label: str,
        ceiling: int,
        currency: str = "USD",
        required: bool = True,
        unreadable: str = "",
    ) -> int | None:
        """An amount in minor units between 0 and ``ceiling`` (the practice's highest fee). ``label`` is
        the lower-case noun the messages use: "fee" -> "Enter the fee like 150 or 150.00."."""
        raw = self.data.get(name, "").strip()
        if not raw:
            if required:
                self.error(name, f"Enter the {label}.")
            return None
        amount = parse_money(raw)
        if amount is None:
            self.error(name, unreadable or f"Enter the {label} like 150 or 150.00.")
            return None
        problem = amount_problem(amount, ceiling, currency, label=f"The {label}")
        if problem:
            self.error(name, problem)
            return None
        return amount

    def email(self, name: str = "email", *, label: str = "Email", required: bool = True) -> str:
        value = normalize_email(self.data.get(name, ""))
        if not value:
            if required:
                self.error(name, f"{label} is required.")
        elif len(value) > 254 or not EMAIL_RE.match(value):
            self.error(name, "Enter an email address like name@example.com.")
        return value

    def integer(
        self, name: str, *, label: str, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        raw = self.data.get(name, "").strip()
        if not raw:
            self.error(name, f"{label} is required.")
            return None
        try:
            value = int(raw)
        except ValueError:
            self.error(name, f"{label} must be a whole number.")
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"{label} must be at least {minimum}.")
        elif maximum is not None and value > maximum:
            self.error(name, f"{label} must be at most {maximum}.")
        return value

    def choice(self, name: str, choices: dict[str, str], *, label: str, default: str | None = None) -> str:
        value = self.data.get(name, "").strip() or (default or "")
        if value not in choices:
            self.error(name, f"Choose a valid {label.lower()}.")
        return value

    def checkbox(self, name: str) -> bool:
        return self.data.get(name, "").lower() in {"on", "1", "true", "yes"}


def is_digits(text: str) -> bool:
    """True for one or more ASCII digits 0-9 (``str.isdigit`` also takes "¹", which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def normalize_email(value: str) -> str:
    """Emails compare case-insensitively: store and look up the lower-cased, trimmed form."""
    return (value or "").strip().lower()


def record_id(raw: str | int | None) -> int | None:
    """The record id in ``raw`` (a form or query value), or None when it can't be one."""
    if isinstance(raw, int):
        value = raw
    elif raw and is_digits(raw.strip()) and len(raw.strip()) <= 10:
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value <= MAX_ID else None
