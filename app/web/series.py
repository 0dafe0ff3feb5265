""" "Book next" and weekly series from an appointment's panel, and series edits/cancellations.

``GET /appointments/{id}/book-next`` (optional ``count`` and ``every``) opens the form with its
preview; the same form posts back to refresh the preview or to book. Nothing is saved before "Book".
"""

from __future__ import annotations

from datetime import time
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
from app.services.series import SCOPES, SeriesBlocked, SeriesChange, SeriesRequest
from app.web.appointments import _panel_context, _zone
from app.web.guards import clinician_only
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.runtime import actor_of, current_user, runtime

FormBody = URLEncodedBody[dict[str, Any]]
MAX_ROWS = MAX_OCCURRENCES


def _request_from(form: Form, practice: Practice) -> SeriesRequest | None:
    """The series the form describes, with a message next to every field that can't be read."""
    zone = practice.time_zone
    starts_at, problem = parse_local_start(form.data.get("date", ""), form.data.get("time", ""), _zone(zone))
    if problem:
        form.error("time" if "time" in problem.lower() else "date", problem)
    minutes = form.integer("minutes", label="Length in minutes", minimum=1, maximum=8 * 60)
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
            when, problem = parse_local_start(day, at[:5], _zone(zone))
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
    guards = [clinician_only]

    async def _form(
        self, request: Request, appointment_id: int, values, errors, plan=None, **extra
    ) -> Template:
        context = await _panel_context(request, appointment_id)
        return await render(
            request,
            "series/book_next.html",
            {
                **context,
                "values": values,
                "errors": errors,
                "plan": plan,
                "intervals": INTERVALS,
                "max_count": MAX_OCCURRENCES,
                **extra,
            },
            fragment="series/_book_next_form.html",
        )

    @get("/{appointment_id:int}/book-next", name="appointment_book_next")
    async def book_next_form(
        self,
        request: Request,
        appointment_id: FromPath[int],
        count: FromQuery[str | None] = None,
        every: FromQuery[str | None] = None,
    ) -> Template:
        user, now = current_user(request), runtime(request).clock.now()
        found = await get_for_clinician(appointment_id, user.clinician_id)
        practice = await practice_of(user.clinician_id)
        first = series.suggested_start(found, practice.time_zone)
        local = first.astimezone(practice.zone)
        values = {
            "date": f"{local:%Y-%m-%d}",
            "time": f"{local:%H:%M}",
            "minutes": str(found.duration_minutes),
            "fee": format_money(found.fee_minor, found.currency).lstrip("$£€"),
            "every": (every or "1").strip(),
            "count": (count or "6").strip(),
        }
        form = Form(values)
        found_request = _request_from(form, practice)
        plan = None
        if found_request is not None:
            plan = await series.plan(appointment_id, user.clinician_id, found_request, now=now)
        return await self._form(request, appointment_id, form.data, form.errors, plan)

    @post("/{appointment_id:int}/book-next", name="appointment_book_series")
    async def book_series(self, request: Request, appointment_id: FromPath[int], data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        now = rt.clock.now()
        practice = await practice_of(user.clinician_id)
        form = Form.of(data)
        wanted = _request_from(form, practice)
        if wanted is None:
            return await self._form(request, appointment_id, form.data, form.errors)
        try:
            if form.data.get("action") != "book" or not form.ok:
                plan = await series.plan(appointment_id, user.clinician_id, wanted, now=now)
                return await self._form(request, appointment_id, form.data, form.errors, plan)
            _, ids = await series.book_series(
                appointment_id,
                user.clinician_id,
                wanted,
                now=now,
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except SeriesBlocked as blocked:
            count = len(blocked.plan.blocking)
            them = "them" if count != 1 else "it"
            form.error(
                "form",
                f"{_dates(count)} can't be booked as planned: skip or move {them}, or tick “Allow overlap”.",
            )
            return await self._form(request, appointment_id, form.data, form.errors, blocked.plan)
        except BookingProblem as problem:
            form.error(problem.field, problem.message)
            return await self._form(request, appointment_id, form.data, form.errors)
        notice = f"Booked {_sessions(len(ids))}. The client gets one email with the dates."
        if not wants_fragment(request):
            await flash(request, notice)
            return redirect(request, f"/appointments/{appointment_id}")
        # Back on the session the series was booked from, with the result at the top of the sheet
        # (the form was scrolled down to its "Book" button).
        context = await _panel_context(request, appointment_id, notice=notice)
        return await render(
            request,
            "appointments/show.html",
            context,
            fragment="appointments/_panel.html",
            headers={"HX-Trigger": "calendar-changed", "HX-Reswap": "outerHTML show:#appointment-panel:top"},
        )

    # --- editing or cancelling occurrences ---------------------------------------------------------

    async def _edit(self, request: Request, appointment_id: int, values, errors, **extra) -> Template:
        context = await _panel_context(request, appointment_id)
        return await render(
            request,
            "series/edit.html",
            {**context, "values": values, "errors": errors, "scopes": SCOPES, **extra},
            fragment="series/_edit_form.html",
        )

    @get("/{appointment_id:int}/series", name="appointment_series_edit")
    async def edit_form(self, request: Request, appointment_id: FromPath[int]) -> Template:
        context = await _panel_context(request, appointment_id)
        appointment, zone = context["appointment"], context["time_zone"]
        values = {
            "scope": "following" if appointment["series"] else "this",
            "time": appointment["starts_at"].astimezone(_zone(zone)).strftime("%H:%M"),
            "minutes": str(appointment["duration_minutes"]),
            "fee": format_money(appointment["fee_minor"], appointment["currency"]).lstrip("$£€"),
        }
        return await self._edit(request, appointment_id, values, {})

    @post("/{appointment_id:int}/series", name="appointment_series_save")
    async def edit(self, request: Request, appointment_id: FromPath[int], data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        form = Form.of(data)
        scope = form.choice("scope", SCOPES, label="Sessions to change")
        at = None
        try:
            at = time.fromisoformat(form.data.get("time", "").strip()).replace(second=0, microsecond=0)
        except ValueError:
            form.error("time", "Enter the time like 09:30.")
        minutes = form.integer("minutes", label="Length in minutes", minimum=1, maximum=8 * 60)
        practice = await practice_of(user.clinician_id)
        fee = form.money("fee", label="fee", ceiling=practice.max_fee_minor, currency=practice.currency)
        if form.ok:
            try:
                changed = await series.edit_series(
                    appointment_id,
                    user.clinician_id,
                    scope,
                    SeriesChange(at, minutes, fee, allow_overlap=form.checkbox("allow_overlap")),
                    now=rt.clock.now(),
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except BookingProblem as problem:
                form.error(problem.field, problem.message)
            else:
                return await self._done(request, appointment_id, f"Changed {_sessions(changed)}.")
        return await self._edit(request, appointment_id, form.data, form.errors)

    @post("/{appointment_id:int}/series/cancel", name="appointment_series_cancel")
    async def cancel(self, request: Request, appointment_id: FromPath[int], data: FormBody) -> Any:
        user, rt = current_user(request), runtime(request)
        form = Form.of(data)
        scope = form.choice("cancel_scope", SCOPES, label="Sessions to cancel")
        if form.ok:
            try:
                cancelled = await series.cancel_series(
                    appointment_id,
                    user.clinician_id,
                    scope,
                    now=rt.clock.now(),
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except BookingProblem as problem:
                form.error("cancel_scope", problem.message)
            else:
                return await self._done(request, appointment_id, f"Cancelled {_sessions(cancelled)}.")
        return await self._edit(request, appointment_id, {"scope": "this", **form.data}, form.errors)

    async def _done(self, request: Request, appointment_id: int, notice: str) -> Any:
        if not wants_fragment(request):
            await flash(request, notice)
            return redirect(request, f"/appointments/{appointment_id}")
        context = await _panel_context(request, appointment_id, notice=notice)
        return await render(
            request,
            "appointments/show.html",
            context,
            fragment="appointments/_panel.html",
            headers={"HX-Trigger": "calendar-changed"},
        )


def _sessions(count: int) -> str:
    return f"{count} session{'s' if count != 1 else ''}"


def _dates(count: int) -> str:
    return f"{count} date{'s' if count != 1 else ''}"
