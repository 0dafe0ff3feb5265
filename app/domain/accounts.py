"""Account rules: roles, password policy, time zones."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class Role(StrEnum):
    CLINICIAN = "clinician"
    CLIENT = "client"


@cache
def common_passwords() -> frozenset[str]:
    text = files("app.domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why ``password`` is not acceptable, or None. No composition rules (ASVS 6.2)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        return "That password is too common. Try a few unrelated words."
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        return "Don't use your email address in your password."
    if name and len(name) >= 4 and name.lower().replace(" ", "") in lowered.replace(" ", ""):
        return "Don't use your name in your password."
    return None


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(
        sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    )


def valid_time_zone(name: str) -> bool:
    if not name or name not in set(time_zone_names()) | {"UTC"}:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
