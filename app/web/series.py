""" "Book next" and weekly series from an appointment's panel, and series edits/cancellations.

``GET /appointments/{id}/book-next`` (optional ``count`` and ``every``) opens the form with its
preview; the same form posts back to refresh the preview or to book. Nothing is saved before "Book".
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template

from app.domain.calendar import parse_local_start
from app.domain.practice import format_money
from app.domain.recurrence import INTERVALS, MAX_OCCURRENCES, MIN_OCCURRENCES
from app.domain.validation import Form
from app.services import series
from app.services.appointments import (
    BookingProblem,
    Practice,
    get_for_clinician,
    practice_of,
)
from app.services.context import CurrentUser
from app.services.series import SCOPES, SeriesBlocked, SeriesChange, SeriesRequest
from app.web.guards import clinician_only, in_the_record_s_calendar
from app.web.htmx import render
from app.web.panels import local, panel_changed, panel_context, session_minutes, start_fields, zone_of
from app.web.runtime import Context, Now, User

FormBody = URLEncodedBody[dict[str, Any]]
MAX_ROWS = MAX_OCCURRENCES


def _request_from(form: Form, practice: Practice) -> SeriesRequest | None:
    """The series the form describes, with a message next to every field that can't be read."""
    zone = practice.time_zone
    starts_at = start_fields(form, zone)
    minutes = session_minutes(form, required=True)
    fee = form.money("fee", label="fee", ceiling=practice.max_fee_minor, currency=practice.currency)
    every = form.integer("every", label="Repeat every", minimum=min(INTERVALS), maximum=max(INTERVALS))
    count = form.integer(
        "count", label="Number of sessions", minimum=MIN_OCCURRENCES, maximum=MAX_OCCURRENCES
    )
    skips, moves = set(), {}
    for index in range(min(count or 0, MAX_ROWS)):
        if form.checkbox(f"skip_{index}"):
            skips.add(index)
        moved = form.data.get(f"move_{index}", "").strip()
        if moved:
            day, _, at = moved.partition("T")
            when, problem = parse_local_start(day, at[:5], zone_of(zone))
            if problem:
                form.error(f"move_{index}", problem)
            else:
                moves[index] = when
    if any(not name.startswith("move_") for name in form.errors):
        return None
    # A bad move is refused next to its row, which only the preview shows: the plan is still made.
    return SeriesRequest(
        first_starts_at=starts_at,
        minutes=minutes,
        fee_minor=fee,
        interval_weeks=every,
        count=count,
        skips=frozenset(skips),
        moves=moves,
        allow_overlap=form.checkbox("allow_overlap"),
    )


class SeriesController(Controller):
    path = "/appointments"
    guards = [clinician_only, in_the_record_s_calendar]

    async def _form(
        self, request: Request, user: CurrentUser, appointment_id: int, now: datetime, form: Form, plan=None
    ) -> Template:
        context = await panel_context(request, user, appointment_id, now)
        return await render(
            request,
            "series/book_next.html",
            {
                **context,
                "values": form.data,
                "errors": form.errors,
                "plan": plan,
                "intervals": INTERVALS,
                "max_count": MAX_OCCURRENCES,
            },
            fragment="series/_book_next_form.html",
        )

    @get("/{appointment_id:int}/book-next", name="appointment_book_next")
    async def book_next_form(
        self,
        request: Request,
        appointment_id: FromPath[int],
        user: User,
        now: Now,
        count: FromQuery[str | None] = None,
        every: FromQuery[str | None] = None,
    ) -> Template:
        found = await get_for_clinician(appointment_id, user.clinician_id)
        practice = await practice_of(user.clinician_id)
        form = Form(_next_values(found, practice, count, every))
        wanted = _request_from(form, practice)
        plan = None
        if wanted is not None:
            plan = await series.plan(appointment_id, user.clinician_id, wanted, now=now)
        return await self._form(request, user, appointment_id, now, form, plan)

    @post("/{appointment_id:int}/book-next", name="appointment_book_series")
    async def book_series(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        wanted = _request_from(form, await practice_of(user.clinician_id))
        plan = None
        try:
            if wanted is not None and (form.data.get("action") != "book" or not form.ok):
                plan = await series.plan(appointment_id, user.clinician_id, wanted, now=ctx.now)
            elif wanted is not None:
                _, ids = await series.book_series(appointment_id, user.clinician_id, wanted, **ctx.sending)
                notice = f"Booked {_sessions(len(ids))}. The client gets one email with the dates."
                # Back on the session the series was booked from, with the result at the top of the
                # sheet (the form was scrolled down to its "Book" button).
                reswap = {"HX-Reswap": "outerHTML show:#appointment-panel:top"}
                return await panel_changed(request, user, appointment_id, ctx.now, notice, headers=reswap)
        except SeriesBlocked as blocked:
            form.error("form", _blocked_message(len(blocked.plan.blocking)))
            plan = blocked.plan
        except BookingProblem as problem:
            form.error(problem.field, problem.message)
        return await self._form(request, user, appointment_id, ctx.now, form, plan)

    # --- editing or cancelling occurrences ---------------------------------------------------------

    async def _edit(
        self, request: Request, user: CurrentUser, appointment_id: int, now: datetime, values, errors
    ) -> Template:
        context = await panel_context(request, user, appointment_id, now)
        return await render(
            request,
            "series/edit.html",
            {**context, "values": values, "errors": errors, "scopes": SCOPES},
            fragment="series/_edit_form.html",
        )

    @get("/{appointment_id:int}/series", name="appointment_series_edit")
    async def edit_form(
        self, request: Request, appointment_id: FromPath[int], user: User, now: Now
    ) -> Template:
        context = await panel_context(request, user, appointment_id, now)
        appointment, zone = context["appointment"], context["time_zone"]
        values = {
            "scope": "following" if appointment["series"] else "this",
            "time": local(appointment["starts_at"], zone, "%H:%M"),
            "minutes": str(appointment["duration_minutes"]),
            "fee": format_money(appointment["fee_minor"], appointment["currency"]).lstrip("$£€"),
        }
        return await self._edit(request, user, appointment_id, now, values, {})

    @post("/{appointment_id:int}/series", name="appointment_series_save")
    async def edit(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        scope = form.choice("scope", SCOPES, label="Sessions to change")
        change = _change_from(form, await practice_of(user.clinician_id))
        if form.ok:
            try:
                changed = await series.edit_series(
                    appointment_id, user.clinician_id, scope, change, **ctx.sending
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                notice = f"Changed {_sessions(changed)}."
                return await panel_changed(request, user, appointment_id, ctx.now, notice)
        return await self._edit(request, user, appointment_id, ctx.now, form.data, form.errors)

    @post("/{appointment_id:int}/series/cancel", name="appointment_series_cancel")
    async def cancel(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        scope = form.choice("cancel_scope", SCOPES, label="Sessions to cancel")
        if form.ok:
            try:
                cancelled = await series.cancel_series(
                    appointment_id, user.clinician_id, scope, **ctx.sending
                )
            except BookingProblem as problem:
                form.error("cancel_scope", problem.message)
            else:
                notice = f"Cancelled {_sessions(cancelled)}."
                return await panel_changed(request, user, appointment_id, ctx.now, notice)
        values = {"scope": "this", **form.data}
        return await self._edit(request, user, appointment_id, ctx.now, values, form.errors)


def _next_values(found, practice: Practice, count: str | None, every: str | None) -> dict[str, str]:
    """The "Book next" form's first values: a week after ``found``, at the same local time."""
    local_start = series.suggested_start(found, practice.time_zone).astimezone(practice.zone)
    return {
        "date": f"{local_start:%Y-%m-%d}",
        "time": f"{local_start:%H:%M}",
        "minutes": str(found.duration_minutes),
        "fee": format_money(found.fee_minor, found.currency).lstrip("$£€"),
        "every": (every or "1").strip(),
        "count": (count or "6").strip(),
    }


def _change_from(form: Form, practice: Practice) -> SeriesChange:
    """The edit the form describes, with a message next to every field that can't be read."""
    at = None
    try:
        at = time.fromisoformat(form.data.get("time", "").strip()).replace(second=0, microsecond=0)
    except ValueError:
        form.error("time", "Enter the time like 09:30.")
    minutes = session_minutes(form, required=True)
    fee = form.money("fee", label="fee", ceiling=practice.max_fee_minor, currency=practice.currency)
    return SeriesChange(at, minutes, fee, allow_overlap=form.checkbox("allow_overlap"))


def _blocked_message(count: int) -> str:
    them = "them" if count != 1 else "it"
    return f"{_dates(count)} can't be booked as planned: skip or move {them}, or tick “Allow overlap”."


def _sessions(count: int) -> str:
    return f"{count} session{'s' if count != 1 else ''}"


def _dates(count: int) -> str:
    return f"{count} date{'s' if count != 1 else ''}"
