"""Password hashing (argon2id) with a cheap profile for tests and a dummy hash for unknown users."""

from __future__ import annotations

from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106 low-memory profile (argon2-cffi default): t=3, m=64 MiB, p=4 — above the OWASP minimum.
# The "fast" profile is for the test suite only (still argon2id, just cheap).
PROFILES = {
    "strong": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
    "fast": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}


@cache
def hasher(profile: str = "strong") -> PasswordHasher:
    return PasswordHasher(**PROFILES[profile])


@cache
def _dummy_hash(profile: str) -> str:
    return hasher(profile).hash("stillwater-dummy-password-for-timing")


async def hash_password(password: str, profile: str = "strong") -> str:
    return await anyio.to_thread.run_sync(hasher(profile).hash, password)


async def verify_password(stored_hash: str | None, password: str, profile: str = "strong") -> bool:
    """Check a password. With no stored hash, still spends the same work so timing reveals nothing."""
    target = stored_hash or _dummy_hash(profile)

    def check() -> bool:
        try:
            return hasher(profile).verify(target, password)
        except (VerificationError, InvalidHashError):
            return False

    ok = await anyio.to_thread.run_sync(check)
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str, profile: str = "strong") -> bool:
    try:
        return hasher(profile).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
