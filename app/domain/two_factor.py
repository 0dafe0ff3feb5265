"""Two-factor rules with no I/O: TOTP codes (RFC 6238), recovery codes, and the "trusted browser" token.

- A TOTP code is accepted for the current 30-second step or one step either side (clock skew), and
  only for a step later than the last one used (so a code cannot be replayed within its window).
- A recovery code is ``XXXX-XXXX-XXXX`` from an alphabet without look-alike characters (60 bits);
  the first group finds the stored row, the whole code is checked against a slow hash.
- A trusted-browser token is ``user.expiry.signature``; the signature covers the time the password
  and the two-factor set-up last changed, so changing either makes every such token worthless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp

from app.domain.validation import is_digits

ISSUER = "Stillwater"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U
TRUST_DAYS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def clean_code(value: str) -> str:
    """What a person typed, without spaces or dashes, upper-cased."""
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def looks_like_totp(value: str) -> bool:
    code = clean_code(value)
    return len(code) == 6 and is_digits(code)


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def matching_step(secret: str, code: str, now: datetime, *, after_step: int | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if it is later than
    ``after_step``; otherwise None."""
    code = clean_code(code)
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = now + timedelta(seconds=offset * STEP_SECONDS)
        if hmac.compare_digest(totp.at(moment), code):
            step = totp.timecode(moment)
            if after_step is not None and step <= after_step:
                return None
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` codes whose first groups all differ (the first group finds the row)."""
    codes: list[str] = []
    prefixes: set[str] = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        if raw[:4] in prefixes:
            continue
        prefixes.add(raw[:4])
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_prefix(value: str) -> str | None:
    """The lookup group of a typed recovery code, or None if it cannot be one."""
    code = clean_code(value)
    if len(code) != 12 or any(ch not in RECOVERY_ALPHABET for ch in code):
        return None
    return code[:4]


def canonical_recovery(value: str) -> str:
    code = clean_code(value)
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def _trust_signature(
    secret_key: str,
    user_id: int,
    expires: int,
    password_changed_at: datetime | None,
    enabled_at: datetime | None,
) -> str:
    message = "|".join(
        [
            "trusted-browser",
            str(user_id),
            str(expires),
            password_changed_at.isoformat() if password_changed_at else "",
            enabled_at.isoformat() if enabled_at else "",
        ]
    )
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def trust_token(
    secret_key: str,
    user_id: int,
    now: datetime,
    *,
    password_changed_at: datetime | None,
    enabled_at: datetime | None,
) -> str:
    expires = int((now + timedelta(days=TRUST_DAYS)).timestamp())
    signature = _trust_signature(secret_key, user_id, expires, password_changed_at, enabled_at)
    return f"{user_id}.{expires}.{signature}"


def trusted(
    token: str | None,
    secret_key: str,
    user_id: int,
    now: datetime,
    *,
    password_changed_at: datetime | None,
    enabled_at: datetime | None,
) -> bool:
    """True when ``token`` was issued to this user, has not expired, and neither the password nor the
    two-factor set-up changed since."""
    if not token or len(token) > 200:
        return False
    parts = token.split(".")
    if len(parts) != 3 or not is_digits(parts[0]) or not is_digits(parts[1]):
        return False
    if int(parts[0]) != user_id or int(parts[1]) <= now.timestamp():
        return False
    expected = _trust_signature(secret_key, user_id, int(parts[1]), password_changed_at, enabled_at)
    return hmac.compare_digest(expected, parts[2])
