"""Fixed-window counters and waits in Redis, shared by every web process (login, resets, public booking)."""

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


async def seconds_left(redis: Redis, scope: str, subject: str) -> int:
    """How long the wait (or window) under this key still runs; 0 when there is none."""
    left = await redis.ttl(_key(scope, subject))
    return max(int(left), 0)


async def hold(redis: Redis, scope: str, subject: str, seconds: int) -> None:
    """Start (or restart) a wait of ``seconds``."""
    await redis.set(_key(scope, subject), 1, ex=max(int(seconds), 1))


async def take_turn(redis: Redis, scope: str, subject: str, seconds: int) -> int:
    """One event per ``seconds``: 0 when this one may go ahead (the next must wait), else how long
    until the next turn."""
    if await redis.set(_key(scope, subject), 1, ex=max(int(seconds), 1), nx=True):
        return 0
    return max(await seconds_left(redis, scope, subject), 1)
