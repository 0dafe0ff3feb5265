"""One appointment: its panel (status, history, actions), booking a new one, rescheduling, status changes.

Each URL renders a full page on a normal request (works without JavaScript) and, for htmx, the
fragment that goes in the calendar's dialog. A status change answers with the new panel plus
out-of-band swaps of the appointment's grid cell and the navigation's "needs a status" count.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from app.domain.appointments import KINDS
from app.domain.calendar import View
from app.domain.practice import format_money
from app.domain.validation import Form, record_id
from app.services import appointments
from app.services.appointments import Booking, BookingProblem, Practice, StatusChangeRefused
from app.services.clients import NewClient
from app.services.context import CurrentUser
from app.web.auth import safe_next
from app.web.calendar import calendar_url
from app.web.guards import clinician_only, in_the_record_s_calendar
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.panels import (
    PANEL_FRAGMENT,
    PANEL_PAGE,
    local,
    panel_changed,
    panel_context,
    session_minutes,
    start_fields,
)
from app.web.runtime import Context, Now, RequestContext, User

FormBody = URLEncodedBody[dict[str, Any]]
NEW_CLIENT = "new"
WHEN = "%a %-d %b, %H:%M"


def _booking_from(form: Form, practice: Practice) -> Booking:
    """The booking the form describes, with a message next to every field that can't be read."""
    starts_at = start_fields(form, practice.time_zone)
    kind = form.choice("kind", KINDS, label="Session type", default="regular")
    minutes = session_minutes(form, required=False)
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
    return Booking(
        starts_at=starts_at,
        kind=kind,
        minutes=minutes,
        fee_minor=fee,
        client_id=client_id,
        new_client=new_client,
        allow_overlap=form.checkbox("allow_overlap"),
    )


async def _status_problem(
    appointment_id: int, form: Form, user: CurrentUser, ctx: RequestContext
) -> str | None:
    """Change the status the form names; the reason it was refused, if it was."""
    try:
        if not form.ok:
            await appointments.get_for_clinician(appointment_id, user.clinician_id)
            raise StatusChangeRefused(form.first_error[1])
        await appointments.change_status(
            appointment_id, form.data.get("status", ""), clinician_id=user.clinician_id, **ctx.sending
        )
    except StatusChangeRefused as refused:
        return refused.message
    return None


class AppointmentController(Controller):
    path = "/appointments"
    guards = [clinician_only, in_the_record_s_calendar]

    # --- the panel and status changes -------------------------------------------------------------

    @get("/{appointment_id:int}", name="appointment")
    async def show(self, request: Request, appointment_id: FromPath[int], user: User, now: Now) -> Template:
        context = await panel_context(request, user, appointment_id, now)
        return await render(request, PANEL_PAGE, context, fragment=PANEL_FRAGMENT)

    @post("/{appointment_id:int}/status", name="appointment_status")
    async def change_status(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        back = safe_next(form.data.get("back"))
        problem = await _status_problem(appointment_id, form, user, ctx)
        if not wants_fragment(request):
            if problem:
                await flash(request, problem)
            return redirect(request, back or f"/appointments/{appointment_id}")
        count = await appointments.needs_status_count(user.clinician_id, now=ctx.now)
        context = await panel_context(
            request, user, appointment_id, ctx.now, status_problem=problem, needs_status_count=count
        )
        fragment = "appointments/_status_changed_row.html" if back else "appointments/_status_changed.html"
        return await render(request, PANEL_PAGE, context, fragment=fragment)

    # --- booking ----------------------------------------------------------------------------------

    @get("/new", name="appointment_new")
    async def new(
        self,
        request: Request,
        user: User,
        now: Now,
        date: FromQuery[str | None] = None,
        time: FromQuery[str | None] = None,
        kind: FromQuery[str | None] = None,
    ) -> Template:
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
    async def client_options(self, request: Request, user: User, q: FromQuery[str] = "") -> Template:
        """Search as you type: the matching clients as ``<option>``s for the booking form's list."""
        clients = await appointments.bookable_clients(user.clinician_id, q[:100])
        return await render(
            request,
            "appointments/_client_options.html",
            {"clients": clients, "selected": str(clients[0]["id"]) if clients else NEW_CLIENT},
        )

    @post("/", name="appointment_book")
    async def book(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        practice = await appointments.practice_of(user.clinician_id)
        form = Form.of(data)
        booking = _booking_from(form, practice)
        if form.ok:
            try:
                appointment_id = await appointments.book_appointment(
                    user.clinician_id, booking, **ctx.sending
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                notice = f"Booked {local(booking.starts_at, practice.time_zone, WHEN)}."
                day = booking.starts_at.astimezone(practice.zone).date()
                back = calendar_url(View.DAY, day)
                return await panel_changed(request, user, appointment_id, ctx.now, notice, back=back)
        clients = await appointments.bookable_clients(user.clinician_id)
        return await self._booking_form(request, practice, clients, form.data, form.errors)

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

    async def _reschedule_form(self, request: Request, context: dict[str, Any], values, errors) -> Template:
        return await render(
            request,
            "appointments/reschedule.html",
            {**context, "values": values, "errors": errors},
            fragment="appointments/_reschedule_form.html",
        )

    @get("/{appointment_id:int}/reschedule", name="appointment_reschedule_form")
    async def reschedule_form(
        self, request: Request, appointment_id: FromPath[int], user: User, now: Now
    ) -> Template:
        context = await panel_context(request, user, appointment_id, now)
        appointment, zone = context["appointment"], context["time_zone"]
        values = {
            "date": local(appointment["starts_at"], zone, "%Y-%m-%d"),
            "time": local(appointment["starts_at"], zone, "%H:%M"),
            "minutes": str(appointment["duration_minutes"]),
        }
        return await self._reschedule_form(request, context, values, {})

    @post("/{appointment_id:int}/reschedule", name="appointment_reschedule")
    async def reschedule(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        context = await panel_context(request, user, appointment_id, ctx.now)
        form = Form.of(data)
        starts_at = start_fields(form, context["time_zone"])
        minutes = session_minutes(form, required=True)
        if form.ok:
            try:
                await appointments.reschedule(
                    appointment_id,
                    user.clinician_id,
                    starts_at=starts_at,
                    minutes=minutes,
                    allow_overlap=form.checkbox("allow_overlap"),
                    **ctx.sending,
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                notice = f"Moved to {local(starts_at, context['time_zone'], WHEN)}."
                return await panel_changed(request, user, appointment_id, ctx.now, notice)
        return await self._reschedule_form(request, context, form.data, form.errors)
