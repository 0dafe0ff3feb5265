"""iCalendar files (RFC 5545) for booked sessions: email attachments and the client's calendar feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event

PRODUCT_ID = "-//Stillwater//Sessions//EN"


@dataclass(frozen=True)
class SessionEvent:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str = ""
    cancelled: bool = False


def calendar_bytes(
    events: list[SessionEvent], *, name: str, stamp: datetime, method: str = "PUBLISH"
) -> bytes:
    """One calendar holding ``events`` (UTC times; calendar apps show them in the reader's zone)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.starts_at)
        event.add("dtend", item.ends_at)
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
