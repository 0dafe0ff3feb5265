"""The one source of "now". Tests swap in a ``FrozenClock`` to move time without sleeping; a debug
server can be started at another instant (``CLOCK_START``) to run the app as if it were then."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at


class StartedClock(Clock):
    """A clock that reads ``start`` when created and then runs at the normal pace: a whole server
    (web and worker) living through a chosen instant, such as a daylight-saving change."""

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC)
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._began)


def clock_starting_at(start: datetime | None) -> Clock:
    """The clock a process runs on: the wall clock, or one started at ``start`` (debug only)."""
    return StartedClock(start) if start else Clock()


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (``2027-03-14T06:30:00+00:00`` or ``…Z``)."""
    instant = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError("the instant needs an offset, e.g. +00:00")
    return instant.astimezone(UTC)
