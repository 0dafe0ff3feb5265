"""One appointment: its panel (status, history, actions), booking a new one, rescheduling, status changes.

Each URL renders a full page on a normal request (works without JavaScript) and, for htmx, the
fragment that goes in the calendar's dialog. A status change answers with the new panel plus
out-of-band swaps of the appointment's grid cell and the navigation's "needs a status" count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from app.domain.appointments import KINDS
from app.domain.calendar import View, parse_local_start
from app.domain.practice import format_money
from app.domain.statuses import APPOINTMENT_STATUS_LABELS
from app.domain.validation import Form, record_id
from app.services import appointments
from app.services.appointments import Booking, BookingProblem, StatusChangeRefused
from app.services.clients import NewClient
from app.web.auth import safe_next
from app.web.calendar import STATUS_CHOICES, calendar_url, cell_of, display_name, privacy_on
from app.web.guards import clinician_only
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.runtime import actor_of, current_user, runtime

FormBody = URLEncodedBody[dict[str, Any]]
NEW_CLIENT = "new"


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or "UTC")


def _local(value: datetime, zone: str, fmt: str) -> str:
    return value.astimezone(_zone(zone)).strftime(fmt)


async def _panel_context(request: Request, appointment_id: int, **extra: Any) -> dict[str, Any]:
    user = current_user(request)
    found = await appointments.detail(appointment_id, user.clinician_id)
    appointment = found.appointment
    local_day = appointment["starts_at"].astimezone(_zone(found.time_zone)).date()
    privacy = privacy_on(request)
    return {
        "appointment": appointment,
        "history": found.history,
        "time_zone": found.time_zone,
        "status_choices": STATUS_CHOICES,
        "status_labels": APPOINTMENT_STATUS_LABELS,
        "kinds": KINDS,
        "now": runtime(request).clock.now(),
        "back_url": calendar_url(View.DAY, local_day),
        "display_name": lambda name: display_name(name, privacy),
        "cell": cell_of(appointment, _zone(found.time_zone), privacy=privacy),
        **extra,
    }


def _start_fields(form: Form, zone: str) -> datetime | None:
    """The start from the form's local date and time fields, with a message on the right field."""
    starts_at, problem = parse_local_start(form.data.get("date", ""), form.data.get("time", ""), _zone(zone))
    if problem:
        form.error("time" if "time" in problem.lower() else "date", problem)
    return starts_at


def _minutes(form: Form, *, required: bool) -> int | None:
    if not required and not form.data.get("minutes", "").strip():
        return None
    return form.integer("minutes", label="Length in minutes", minimum=1, maximum=8 * 60)


class AppointmentController(Controller):
    path = "/appointments"
    guards = [clinician_only]

    # --- the panel and status changes -------------------------------------------------------------

    @get("/{appointment_id:int}", name="appointment")
    async def show(self, request: Request, appointment_id: FromPath[int]) -> Template:
        context = await _panel_context(request, appointment_id)
        return await render(request, "appointments/show.html", context, fragment="appointments/_panel.html")

    @post("/{appointment_id:int}/status", name="appointment_status")
    async def change_status(self, request: Request, appointment_id: FromPath[int], data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        form = Form.of(data)
        status = form.data.get("status", "")
        back = safe_next(form.data.get("back"))
        problem = None
        try:
            if not form.ok:
                await appointments.get_for_clinician(appointment_id, user.clinician_id)
                raise StatusChangeRefused(form.first_error[1])
            await appointments.change_status(
                appointment_id,
                status,
                clinician_id=user.clinician_id,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except StatusChangeRefused as refused:
            problem = refused.message
        if not wants_fragment(request):
            if problem:
                await flash(request, problem)
            return redirect(request, back or f"/appointments/{appointment_id}")
        count = await appointments.needs_status_count(user.clinician_id, now=rt.clock.now())
        context = await _panel_context(
            request, appointment_id, status_problem=problem, needs_status_count=count
        )
        fragment = "appointments/_status_changed_row.html" if back else "appointments/_status_changed.html"
        return await render(request, "appointments/show.html", context, fragment=fragment)

    # --- booking ----------------------------------------------------------------------------------

    @get("/new", name="appointment_new")
    async def new(
        self,
        request: Request,
        date: FromQuery[str | None] = None,
        time: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
    ) -> Template:
        user = current_user(request)
        now = runtime(request).clock.now()
        practice = await appointments.practice_of(user.clinician_id)
        clients = await appointments.bookable_clients(user.clinician_id)
        values = {
            "date": date or practice.today(now).isoformat(),
            "time": time or "",
            "kind": kind if kind in KINDS else "regular",
            "client_id": "" if clients else NEW_CLIENT,
        }
        return await self._booking_form(request, practice, clients, values, {})

    @get("/client-options", name="appointment_client_options")
    async def client_options(self, request: Request, q: FromQuery[str] = "") -> Template:
        """Search as you type: the matching clients as ``<option>``s for the booking form's list."""
        user = current_user(request)
        clients = await appointments.bookable_clients(user.clinician_id, q[:100])
        return await render(
            request,
            "appointments/_client_options.html",
            {"clients": clients, "selected": str(clients[0]["id"]) if clients else NEW_CLIENT},
        )

    @post("/", name="appointment_book")
    async def book(self, request: Request, data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        now = rt.clock.now()
        practice = await appointments.practice_of(user.clinician_id)
        form = Form.of(data)
        starts_at = _start_fields(form, practice.time_zone)
        kind = form.choice("kind", KINDS, label="Session type", default="regular")
        minutes = _minutes(form, required=False)
        fee = form.money(
            "fee", label="fee", ceiling=practice.max_fee_minor, currency=practice.currency, required=False
        )
        client_choice = form.data.get("client_id", "").strip()
        client_id, new_client = None, None
        if client_choice == NEW_CLIENT:
            name = form.name("new_name", label="Client's name")
            address = form.email("new_email", label="Client's email")
            new_client = NewClient(name, address)
        elif record_id(client_choice) is not None:
            client_id = record_id(client_choice)
        else:
            form.error("client_id", "Choose a client, or add a new one.")
        if form.ok:
            try:
                appointment_id = await appointments.book_appointment(
                    user.clinician_id,
                    Booking(
                        starts_at=starts_at,
                        kind=kind,
                        minutes=minutes,
                        fee_minor=fee,
                        client_id=client_id,
                        new_client=new_client,
                        allow_overlap=form.checkbox("allow_overlap"),
                    ),
                    now=now,
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                return await self._booked(request, appointment_id, starts_at, practice.time_zone)
        clients = await appointments.bookable_clients(user.clinician_id)
        return await self._booking_form(request, practice, clients, form.data, form.errors)

    async def _booked(self, request: Request, appointment_id: int, starts_at: datetime, zone: str) -> Any:
        when = _local(starts_at, zone, "%a %-d %b, %H:%M")
        if not wants_fragment(request):
            await flash(request, f"Booked {when}.")
            return redirect(request, calendar_url(View.DAY, starts_at.astimezone(_zone(zone)).date()))
        context = await _panel_context(request, appointment_id, notice=f"Booked {when}.")
        return await render(
            request,
            "appointments/show.html",
            context,
            fragment="appointments/_panel.html",
            headers={"HX-Trigger": "calendar-changed"},
        )

    async def _booking_form(self, request, practice, clients, values, errors) -> Template:
        return await render(
            request,
            "appointments/new.html",
            {
                "values": values,
                "errors": errors,
                "clients": clients,
                "kinds": KINDS,
                "practice": practice,
                "defaults": {
                    kind: (minutes, format_money(fee, practice.currency))
                    for kind in KINDS
                    for minutes, fee in [practice.defaults_for(kind)]
                },
                "time_zone": practice.time_zone,
            },
            fragment="appointments/_book_form.html",
        )

    # --- rescheduling -----------------------------------------------------------------------------

    @get("/{appointment_id:int}/reschedule", name="appointment_reschedule_form")
    async def reschedule_form(self, request: Request, appointment_id: FromPath[int]) -> Template:
        context = await _panel_context(request, appointment_id)
        appointment, zone = context["appointment"], context["time_zone"]
        values = {
            "date": _local(appointment["starts_at"], zone, "%Y-%m-%d"),
            "time": _local(appointment["starts_at"], zone, "%H:%M"),
            "minutes": str(appointment["duration_minutes"]),
        }
        return await render(
            request,
            "appointments/reschedule.html",
            {**context, "values": values, "errors": {}},
            fragment="appointments/_reschedule_form.html",
        )

    @post("/{appointment_id:int}/reschedule", name="appointment_reschedule")
    async def reschedule(self, request: Request, appointment_id: FromPath[int], data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        context = await _panel_context(request, appointment_id)
        form = Form.of(data)
        starts_at = _start_fields(form, context["time_zone"])
        minutes = _minutes(form, required=True)
        if form.ok:
            try:
                await appointments.reschedule(
                    appointment_id,
                    user.clinician_id,
                    starts_at=starts_at,
                    minutes=minutes,
                    allow_overlap=form.checkbox("allow_overlap"),
                    now=rt.clock.now(),
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                when = _local(starts_at, context["time_zone"], "%a %-d %b, %H:%M")
                if not wants_fragment(request):
                    await flash(request, f"Moved to {when}.")
                    return redirect(request, f"/appointments/{appointment_id}")
                moved = await _panel_context(request, appointment_id, notice=f"Moved to {when}.")
                return await render(
                    request,
                    "appointments/show.html",
                    moved,
                    fragment="appointments/_panel.html",
                    headers={"HX-Trigger": "calendar-changed"},
                )
        return await render(
            request,
            "appointments/reschedule.html",
            {**context, "values": form.data, "errors": form.errors},
            fragment="appointments/_reschedule_form.html",
        )
