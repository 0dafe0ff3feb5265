"""Form validation shared by every area: a field-keyed error map and small parsers.

Parsers return the cleaned value or record a message against the field; a form is valid
when no message was recorded. Handlers re-render the form with ``errors`` next to fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Record ids are PostgreSQL ``serial`` integers: a number outside 1…MAX_ID names no record (and a
# larger one would overflow the database driver), so it is treated like any unknown id.
MAX_ID = 2**31 - 1

EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")


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
    def of(cls, raw: dict[str, object] | None) -> Form:
        cleaned: dict[str, str] = {}
        for key, value in (raw or {}).items():
            if isinstance(value, list):
                value = value[-1] if value else ""
            cleaned[str(key)] = "" if value is None else str(value)
        return cls(cleaned)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, *, label: str, required: bool = True, max_length: int = 200) -> str:
        value = self.data.get(name, "").strip()
        if required and not value:
            self.error(name, f"{label} is required.")
        elif len(value) > max_length:
            self.error(name, f"{label} must be at most {max_length} characters.")
        return value

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


def normalize_email(value: str) -> str:
    """Emails compare case-insensitively: store and look up the lower-cased, trimmed form."""
    return (value or "").strip().lower()


def record_id(raw: str | int | None) -> int | None:
    """The record id in ``raw`` (a form or query value), or None when it can't be one."""
    if isinstance(raw, int):
        value = raw
    elif raw and raw.strip().isdigit() and len(raw.strip()) <= 10:
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value <= MAX_ID else None
