"""iCalendar files (RFC 5545) for booked sessions: email attachments and the client's calendar feed.

Times carry the reader's zone (``TZID`` with its ``VTIMEZONE``); ``UID`` is stable per appointment and
``SEQUENCE`` grows at each move or cancellation, so calendar apps update the event they already have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
    sequence: int = 0
    organizer: str = ""  # the practice's address; with ``attendee``, for METHOD:REQUEST / CANCEL
    attendee: str = ""


def calendar_bytes(
    events: list[SessionEvent], *, name: str, stamp: datetime, method: str = "PUBLISH", zone: str = "UTC"
) -> bytes:
    """One calendar holding ``events``, their times in ``zone`` (an IANA name)."""
    tz = ZoneInfo(zone or "UTC")
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("sequence", item.sequence)
        event.add("dtstart", item.starts_at.astimezone(tz))
        event.add("dtend", item.ends_at.astimezone(tz))
        event.add("summary", item.summary)
        if item.organizer:
            event.add("organizer", f"mailto:{item.organizer}")
        if item.attendee:
            event.add("attendee", f"mailto:{item.attendee}", parameters={"ROLE": "REQ-PARTICIPANT"})
        if item.description:
            event.add("description", item.description)
        event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        calendar.add_component(event)
    if events and tz.key != "UTC":
        first = min(e.starts_at for e in events) - timedelta(days=366)
        last = max(e.ends_at for e in events) + timedelta(days=366)
        calendar.add_missing_timezones(first_date=first.date(), last_date=last.date())
    return calendar.to_ical()
