"""The clinician's calendar: day, week and month views, the privacy toggle and "needs a status".

One URL per view (``/calendar?view=week&date=2026-11-30``): a normal GET renders the whole page, an
htmx GET only the calendar region, and the response pushes the canonical URL so Back and shared
links show the same view.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain.appointments import initials
from app.domain.calendar import View, box, grid_hours, parse_view, place
from app.domain.statuses import APPOINTMENT_STATUS_LABELS, AppointmentStatus
from app.services import appointments
from app.web.auth import safe_next
from app.web.guards import clinician_only
from app.web.htmx import redirect, render, wants_fragment
from app.web.runtime import current_user, runtime

PRIVACY_COOKIE = "sw_privacy"
# Set by app.js from the window width: wide screens open the week view, phones the day view.
WIDE_COOKIE = "sw_wide"

# The statuses a clinician can set from the panel or the "needs a status" list, in that order.
STATUS_CHOICES = [(status.value, status.label) for status in AppointmentStatus]


def calendar_url(view: View | str, day: date) -> str:
    return "/calendar?" + urlencode({"view": str(view), "date": day.isoformat()})


def privacy_on(request: Request) -> bool:
    return request.cookies.get(PRIVACY_COOKIE) == "1"


def display_name(name: str, privacy: bool) -> str:
    return initials(name) if privacy else name


def default_view(request: Request) -> View:
    return View.WEEK if request.cookies.get(WIDE_COOKIE) == "1" else View.DAY


def grid_context(data: appointments.CalendarData, *, privacy: bool) -> dict[str, Any]:
    """Everything the calendar templates need: days with placed appointments and navigation links."""
    shown = data.range
    columns = place(data.appointments, shown.days, data.practice.zone)
    first_hour, last_hour = grid_hours(columns)
    return {
        "data": data,
        "shown": shown,
        "view": shown.view,
        "views": list(View),
        "columns": columns,
        "hours": list(range(first_hour, last_hour)),
        "first_hour": first_hour,
        "last_hour": last_hour,
        "box": lambda placement: box(placement, first_hour, last_hour),
        "privacy": privacy,
        "display_name": lambda name: display_name(name, privacy),
        "time_zone": data.practice.time_zone,
        "today": data.today,
        "self_url": calendar_url(shown.view, shown.anchor),
        "url": calendar_url,
        "needs_status_count": data.needs_status_count,
        "status_labels": APPOINTMENT_STATUS_LABELS,
    }


class CalendarController(Controller):
    path = "/calendar"
    guards = [clinician_only]

    @get("/", name="calendar")
    async def show(
        self, request: Request, view: FromQuery[str | None] = None, date: FromQuery[str | None] = None
    ) -> Template:
        user = current_user(request)
        chosen = parse_view(view, default_view(request))
        data = await appointments.calendar(user.clinician_id, chosen, date, now=runtime(request).clock.now())
        context = grid_context(data, privacy=privacy_on(request))
        headers = {}
        # A refresh of the region (after booking or rescheduling) must not add a history entry.
        if wants_fragment(request) and request.headers.get("hx-trigger") != "calendar":
            headers["HX-Push-Url"] = context["self_url"]
        return await render(
            request, "calendar/index.html", context, fragment="calendar/_calendar.html", headers=headers
        )

    @get("/needs-status", name="calendar_needs_status")
    async def needs_status(self, request: Request) -> Template:
        user = current_user(request)
        now = runtime(request).clock.now()
        practice = await appointments.practice_of(user.clinician_id)
        rows = await appointments.needs_status(user.clinician_id, now=now)
        privacy = privacy_on(request)
        return await render(
            request,
            "calendar/needs_status.html",
            {
                "rows": rows,
                "time_zone": practice.time_zone,
                "needs_status_count": len(rows),
                "status_choices": STATUS_CHOICES,
                "status_labels": APPOINTMENT_STATUS_LABELS,
                "display_name": lambda name: display_name(name, privacy),
            },
        )

    @get("/needs-status/count", name="calendar_needs_status_count")
    async def needs_status_count(self, request: Request) -> Template:
        """The navigation badge, loaded by pages that don't compute it themselves."""
        user = current_user(request)
        count = await appointments.needs_status_count(user.clinician_id, now=runtime(request).clock.now())
        return await render(request, "calendar/_needs_status_count.html", {"needs_status_count": count})

    @post("/privacy", name="calendar_privacy")
    async def privacy(self, request: Request, data: URLEncodedBody[dict[str, Any]]) -> Response:
        """Turn privacy mode (initials instead of names) on or off for this browser."""
        turn_on = str(data.get("privacy", "")) == "on"
        response = redirect(request, safe_next(str(data.get("back", ""))) or "/calendar")
        response.set_cookie(
            key=PRIVACY_COOKIE,
            value="1" if turn_on else "0",
            path="/",
            max_age=400 * 24 * 3600,
            secure=runtime(request).settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        return response
