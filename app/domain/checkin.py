"""Client check-in on the day of a session (R3).

The client may check in from 30 minutes before the start until the session ends: "I'm here" in
person, or "Join" for the practice's video link, shown only in that window. A client running late still
finds the session among their upcoming ones, with both buttons, until its end. Fifteen minutes after
the start with no check-in the session is flagged for the clinician with No-show suggested; the
status itself is never set by this.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

OPENS_BEFORE = timedelta(minutes=30)
NO_SHOW_AFTER = timedelta(minutes=15)
MAX_VIDEO_LINK = 500
# The calendar starts asking a little before the window opens, so the first check-in is never missed.
WATCH_BEFORE = OPENS_BEFORE + timedelta(minutes=5)


def check_in_open(starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
    """Whether the client may check in (and see the video link) now."""
    return starts_at - OPENS_BEFORE <= now < ends_at


def under_way(starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
    """A session that has started and not ended: for the client it is still ahead of them (listed with
    the upcoming ones, check-in and Join open) until its end, however late they are."""
    return starts_at <= now < ends_at


def awaiting_check_ins(appointments: list[dict], now: datetime) -> bool:
    """Whether a calendar showing these sessions should keep asking for check-ins: one is still
    Scheduled, not checked in, and its check-in window is open or about to open."""
    return any(
        a["status"] == "scheduled"
        and a.get("checked_in_at") is None
        and a["starts_at"] - WATCH_BEFORE <= now < a["ends_at"]
        for a in appointments
    )


def no_show_suggested(starts_at: datetime, checked_in_at: datetime | None, now: datetime) -> bool:
    """A session still without a check-in fifteen minutes after its start."""
    return checked_in_at is None and now >= starts_at + NO_SHOW_AFTER


def parse_video_link(text: str) -> tuple[str, str | None]:
    """The practice's video link: blank (none) or an https address; otherwise ("", why not)."""
    link = (text or "").strip()
    if not link:
        return "", None
    if len(link) > MAX_VIDEO_LINK:
        return "", f"Use at most {MAX_VIDEO_LINK} characters."
    parts = urlsplit(link) if link.isprintable() and " " not in link else None
    if parts is None or parts.scheme != "https" or not parts.netloc:
        return "", "Enter the full address of your video room, starting with https://"
    return link, None
