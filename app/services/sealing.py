"""Secrets the database keeps but must not show in clear (two-step sign-in seeds), sealed with
Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

Keys come from ``DATA_KEYS`` (comma-separated Fernet keys, newest first: the first seals, every one
opens, so a key can be rotated in). Without it one key is derived from ``SECRET_KEY`` (HKDF), which
ties the sealed data to that secret: set ``DATA_KEYS`` before ever changing ``SECRET_KEY``.

A stored value without the ``sealed1:`` prefix was written before sealing existed and is read as
it is (callers seal it again when they next write).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings

PREFIX = "sealed1:"


class CannotOpen(Exception):
    """The value was sealed with a key this installation no longer has."""


@lru_cache(maxsize=8)
def _sealer(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"stillwater sealed data v1"
        ).derive(secret_key.encode())
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def seal(text: str, settings: Settings) -> str:
    return PREFIX + _sealer(settings.data_keys, settings.secret_key).encrypt(text.encode()).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def unseal(stored: str, settings: Settings) -> str:
    """The text inside ``stored``; raises ``CannotOpen`` when no configured key opens it."""
    if not is_sealed(stored):
        return stored
    try:
        token = stored.removeprefix(PREFIX).encode()
        return _sealer(settings.data_keys, settings.secret_key).decrypt(token).decode()
    except InvalidToken:
        raise CannotOpen() from None
