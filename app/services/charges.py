"""Charging (R4): the charge that follows an appointment marked Occurred.

The status service calls ``on_status_change`` inside its transaction; whatever jobs it returns are
enqueued after commit. The charging issue (#5) fills in scheduling, cancelling and processing.
"""

from __future__ import annotations

from datetime import datetime

from app.config import Settings
from app.services.context import Actor
from app.services.queue import QueuedJob


async def on_status_change(
    appointment_id: int,
    old_status: str,
    new_status: str,
    *,
    now: datetime,
    actor: Actor,
    settings: Settings,
) -> list[QueuedJob]:
    """React to a status change inside the caller's transaction; returns jobs to enqueue after commit."""
    return []
