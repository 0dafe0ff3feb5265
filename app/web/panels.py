"""The appointment panel, shared by the appointment and series pages: what it shows, the answer after
a change (the panel with a notice for htmx, a flash and a redirect otherwise), and the session's
start and length as their forms ask for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request

from app.domain.appointments import KINDS
from app.domain.calendar import View, parse_local_start
from app.domain.checkin import check_in_open
from app.domain.statuses import APPOINTMENT_STATUS_LABELS
from app.domain.validation import Form
from app.services import appointments, reminders
from app.services.context import CurrentUser
from app.web.calendar import STATUS_CHOICES, calendar_url, cell_of, display_name, privacy_on
from app.web.htmx import flash, redirect, render, wants_fragment

PANEL_PAGE = "appointments/show.html"
PANEL_FRAGMENT = "appointments/_panel.html"


def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def local(value: datetime, zone: str, fmt: str) -> str:
    return value.astimezone(zone_of(zone)).strftime(fmt)


def start_fields(form: Form, zone: str) -> datetime | None:
    """The start from the form's local date and time fields, with a message on the right field."""
    starts_at, problem = parse_local_start(
        form.data.get("date", ""), form.data.get("time", ""), zone_of(zone)
    )
    if problem:
        form.error("time" if "time" in problem.lower() else "date", problem)
    return starts_at


def session_minutes(form: Form, *, required: bool) -> int | None:
    """The session's length from the form (None when it may be left blank, for the default)."""
    if not required and not form.data.get("minutes", "").strip():
        return None
    return form.integer("minutes", label="Length in minutes", minimum=1, maximum=8 * 60)


async def panel_context(
    request: Request, user: CurrentUser, appointment_id: int, now: datetime, **extra: Any
) -> dict[str, Any]:
    """The panel of one of this clinician's appointments (404 for anyone else's)."""
    found = await appointments.detail(appointment_id, user.clinician_id)
    appointment = found.appointment
    local_day = appointment["starts_at"].astimezone(zone_of(found.time_zone)).date()
    privacy = privacy_on(request)
    return {
        "appointment": appointment,
        "history": found.history,
        "delivery_log": await reminders.session_log(appointment_id, user.clinician_id),
        "time_zone": found.time_zone,
        "status_choices": STATUS_CHOICES,
        "status_labels": APPOINTMENT_STATUS_LABELS,
        "kinds": KINDS,
        "now": now,
        "awaiting_check_in": appointment["status"] == "scheduled"
        and appointment["checked_in_at"] is None
        and check_in_open(appointment["starts_at"], appointment["ends_at"], now),
        "back_url": calendar_url(View.DAY, local_day),
        "display_name": lambda name: display_name(name, privacy),
        "cell": cell_of(appointment, zone_of(found.time_zone), privacy=privacy),
        **extra,
    }


async def panel_changed(
    request: Request,
    user: CurrentUser,
    appointment_id: int,
    now: datetime,
    notice: str,
    *,
    back: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """After a change: for htmx the panel with ``notice`` (and the calendar told to refresh); otherwise
    ``notice`` as a flash on ``back`` (the appointment's page by default)."""
    if not wants_fragment(request):
        await flash(request, notice)
        return redirect(request, back or f"/appointments/{appointment_id}")
    context = await panel_context(request, user, appointment_id, now, notice=notice)
    return await render(
        request,
        PANEL_PAGE,
        context,
        fragment=PANEL_FRAGMENT,
        headers={"HX-Trigger": "calendar-changed", **(headers or {})},
    )
