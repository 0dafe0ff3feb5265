"""The clinician's calendar: day, week and month views, the privacy toggle and "needs a status".

One URL per view (``/calendar?view=week&date=2026-11-30``): a normal GET renders the whole page, an
htmx GET only the calendar region, and the response pushes the canonical URL so Back and shared
links show the same view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Response, Template
from markupsafe import Markup, escape

from app.domain.appointments import initials
from app.domain.calendar import DayColumn, View, box, grid_hours, parse_view, place
from app.domain.statuses import APPOINTMENT_STATUS_LABELS, AppointmentStatus
from app.domain.validation import Form, record_id
from app.services import appointments
from app.web.auth import safe_next
from app.web.guards import clinician_only
from app.web.htmx import redirect, render, wants_fragment
from app.web.middleware import is_background_refresh
from app.web.runtime import AppRuntime, Now, User

PRIVACY_COOKIE = "sw_privacy"
# Set by app.js from the window width: wide screens open the week view, phones the day view.
WIDE_COOKIE = "sw_wide"

# The statuses a clinician can set from the panel or the "needs a status" list, in that order.
STATUS_CHOICES = [(status.value, status.label) for status in AppointmentStatus]


def calendar_url(view: View | str, day: date) -> str:
    # Both parts are URL-safe as they are (a view name, an ISO date); a page builds ~30 of these.
    return f"/calendar?view={View(view)}&date={day.isoformat()}"


def privacy_on(request: Request) -> bool:
    return request.cookies.get(PRIVACY_COOKIE) == "1"


def display_name(name: str, privacy: bool) -> str:
    return initials(name) if privacy else name


def default_view(request: Request) -> View:
    return View.WEEK if request.cookies.get(WIDE_COOKIE) == "1" else View.DAY


@dataclass(frozen=True)
class Cell:
    """One appointment as the calendar shows it, every text ready: a busy week holds fifty of these,
    and each call or attribute lookup in the template costs more than doing it here."""

    id: int
    css: str
    time: str
    name: str
    status: str

    def markup(self, oob: bool = False) -> Markup:
        """The cell's link: status by colour AND text. Built here, not in a template macro: a macro
        call costs more than the whole string (a week holds fifty cells). ``oob``: swapped in
        out-of-band after a status change."""
        swap = ' hx-swap-oob="true"' if oob else ""
        # Every text is escaped here (Markup.format would do it too, at 1.5× the page's Python calls).
        return Markup(  # noqa: S704
            f'<a id="appt-{self.id}" class="{escape(self.css)}" href="/appointments/{self.id}" '
            f'hx-get="/appointments/{self.id}" hx-target="#dialog-body" hx-swap="innerHTML"{swap}>\n'
            f'  <span class="appt-time">{escape(self.time)}</span>\n'
            f'  <span class="appt-name">{escape(self.name)}</span>\n'
            f'  <span class="appt-status">{escape(self.status)}</span>\n</a>'
        )


def cell_of(appointment: Mapping[str, Any], zone: ZoneInfo, *, privacy: bool) -> Cell:
    css = f"appt status-{appointment['status']}"
    if appointment["kind"] == "intro":
        css += " is-intro"
    status = APPOINTMENT_STATUS_LABELS[appointment["status"]]
    if appointment["status"] == AppointmentStatus.SCHEDULED and appointment.get("checked_in_at"):
        css += " is-checked-in"
        status = f"Checked in {appointment['checked_in_at'].astimezone(zone):%-H:%M}"
    return Cell(
        id=appointment["id"],
        css=css,
        time=appointment["starts_at"].astimezone(zone).strftime("%H:%M"),
        name=display_name(appointment["client_name"], privacy),
        status=status,
    )


@dataclass(frozen=True)
class GridDay:
    """A day of the calendar page: its cells, and for the day and week grid where each one sits."""

    day: date
    cells: list[tuple[str, Cell]]  # (position style, cell), by start time


def grid_days(
    columns: list[DayColumn], first_hour: int, last_hour: int, zone: ZoneInfo, *, privacy: bool
) -> list[GridDay]:
    days = []
    for column in columns:
        cells = []
        for placement in column.placements:
            b = box(placement, first_hour, last_hour)
            style = f"top: {b['top']}%; height: {b['height']}%; left: {b['left']}%; width: {b['width']}%"
            cells.append((style, cell_of(placement.item, zone, privacy=privacy)))  # type: ignore[arg-type]
        days.append(GridDay(column.day, cells))
    return days


def grid_context(data: appointments.CalendarData, *, privacy: bool) -> dict[str, Any]:
    """Everything the calendar templates need: days with placed appointments and navigation links."""
    shown = data.range
    zone = data.practice.zone
    columns = place(data.appointments, shown.days, zone)
    first_hour, last_hour = grid_hours(columns)
    return {
        "data": data,
        "shown": shown,
        "view": shown.view,
        "views": list(View),
        "columns": grid_days(columns, first_hour, last_hour, zone, privacy=privacy),
        "hours": [f"{hour:02d}:00" for hour in range(first_hour, last_hour)],
        "first_hour": first_hour,
        "privacy": privacy,
        "time_zone": data.practice.time_zone,
        "today": data.today,
        "self_url": calendar_url(shown.view, shown.anchor),
        "url": calendar_url,
        "needs_status_count": data.needs_status_count,
    }


def practice_day_context(data: appointments.PracticeDay, *, privacy: bool) -> dict[str, Any]:
    """A column per clinician for one day, placed on one time grid."""
    zone = ZoneInfo(data.time_zone)
    placed = [(colleague, place(rows, (data.day,), zone)[0]) for colleague, rows in data.columns]
    first_hour, last_hour = grid_hours([column for _, column in placed])
    columns = [
        (colleague, grid_days([column], first_hour, last_hour, zone, privacy=privacy)[0])
        for colleague, column in placed
    ]
    return {
        "data": data,
        "columns": columns,
        "hours": [f"{hour:02d}:00" for hour in range(first_hour, last_hour)],
        "first_hour": first_hour,
        "shown_ids": [colleague.clinician_id for colleague, _ in data.columns],
        "time_zone": data.time_zone,
    }


class CalendarController(Controller):
    path = "/calendar"
    guards = [clinician_only]

    @get("/", name="calendar")
    async def show(
        self,
        request: Request,
        user: User,
        now: Now,
        view: FromQuery[str | None] = None,
        date: FromQuery[str | None] = None,
    ) -> Template:
        chosen = parse_view(view, default_view(request))
        data = await appointments.calendar(user.clinician_id, chosen, date, now=now)
        context = grid_context(data, privacy=privacy_on(request))
        headers = {}
        # A refresh of the region (after booking or rescheduling, or waiting for check-ins) must not
        # add a history entry.
        refresh = request.headers.get("hx-trigger") == "calendar" or is_background_refresh(request.scope)
        if wants_fragment(request) and not refresh:
            headers["HX-Push-Url"] = context["self_url"]
        return await render(
            request, "calendar/index.html", context, fragment="calendar/_calendar.html", headers=headers
        )

    @get("/needs-status", name="calendar_needs_status")
    async def needs_status(self, request: Request, user: User, now: Now) -> Template:
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

    @get("/practice", name="calendar_practice")
    async def practice(
        self,
        request: Request,
        user: User,
        now: Now,
        date: FromQuery[str | None] = None,
        clinician: FromQuery[list[str] | None] = None,
    ) -> Template:
        """The practice's day, a column per clinician (filtered to those ticked): owner and front desk."""
        shown = [seat for seat in (record_id(text) for text in clinician or []) if seat is not None]
        data = await appointments.practice_day(user, date, shown, now=now)
        context = practice_day_context(data, privacy=privacy_on(request))
        return await render(request, "calendar/practice.html", context)

    @get("/needs-status/count", name="calendar_needs_status_count")
    async def needs_status_count(self, request: Request, user: User, now: Now) -> Template:
        """The navigation badge, loaded by pages that don't compute it themselves."""
        count = await appointments.needs_status_count(user.clinician_id, now=now)
        return await render(request, "calendar/_needs_status_count.html", {"needs_status_count": count})

    @post("/privacy", name="calendar_privacy")
    async def privacy(
        self, request: Request, data: URLEncodedBody[dict[str, Any]], rt: AppRuntime
    ) -> Response:
        """Turn privacy mode (initials instead of names) on or off for this browser."""
        form = Form.of(data)
        turn_on = form.data.get("privacy", "") == "on"
        response = redirect(request, safe_next(form.data.get("back", "")) or "/calendar")
        response.set_cookie(
            key=PRIVACY_COOKIE,
            value="1" if turn_on else "0",
            path="/",
            max_age=400 * 24 * 3600,
            secure=rt.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        return response
