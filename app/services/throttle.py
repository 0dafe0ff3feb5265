"""Fixed-window counters in Redis, shared by every web process (login, resets, public booking)."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

PREFIX = "sw:throttle:"


def _key(scope: str, subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]
    return f"{PREFIX}{scope}:{digest}"


async def count(redis: Redis, scope: str, subject: str) -> int:
    value = await redis.get(_key(scope, subject))
    return int(value or 0)


async def hit(redis: Redis, scope: str, subject: str, *, window_seconds: int) -> int:
    """Count one event; returns the number of events in the current window."""
    key = _key(scope, subject)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_seconds, nx=True)
        total, _ = await pipe.execute()
    return int(total)


async def allow(redis: Redis, scope: str, subject: str, *, limit: int, window_seconds: int) -> bool:
    """Count one event and say whether it is within ``limit`` for the window."""
    return await hit(redis, scope, subject, window_seconds=window_seconds) <= limit


async def clear(redis: Redis, scope: str, subject: str) -> None:
    await redis.delete(_key(scope, subject))
