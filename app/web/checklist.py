"""The first-meeting checklist (R7): one partial shown on the client page, in the appointment panel of
a client's first session and on the "New clients" list; its actions; and the practice's
insurance-questions contact.

Every action answers htmx with just the re-rendered checklist (plus the navigation count, out of
band) and a normal form post with a redirect back to where it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain.checklist import Item
from app.domain.statuses import CoverageStatus
from app.domain.validation import Form, record_id
from app.services import checklist, clients, insurance
from app.services.checklist import ChecklistProblem
from app.services.clients import ClientError
from app.services.context import CurrentUser
from app.web.auth import safe_next
from app.web.guards import clinician_only
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.runtime import Context, Now, User

FormBody = URLEncodedBody[dict[str, Any]]
PLACES = ("page", "client", "panel", "list")
# The outcome of a coverage talk: anything but "not discussed".
OUTCOMES = {k: v for k, v in insurance.COVERAGE_CHOICES.items() if k != CoverageStatus.NOT_DISCUSSED.value}


def _place(value: str | None) -> str:
    return value if value in PLACES else "page"


def _context(now: datetime, place: str, **extra: Any) -> dict[str, Any]:
    return {
        "items": Item,
        "now": now,
        "place": place,
        "outcomes": OUTCOMES,
        "coverage_labels": insurance.COVERAGE_CHOICES,
        "errors": {},
        "values": {},
        **extra,
    }


class ChecklistController(Controller):
    path = "/"
    guards = [clinician_only]

    async def _answer(
        self,
        request: Request,
        user: CurrentUser,
        client_id: int,
        now: datetime,
        form: Form,
        *,
        done: str | None = None,
        problem=None,
    ) -> Any:
        """After an action: the partial for htmx; otherwise a redirect back (or the page with errors)."""
        if problem is None and not form.ok:
            problem = ChecklistProblem(*form.first_error)
        errors = {problem.field: problem.message} if problem else {}
        if not wants_fragment(request) and not errors:
            if done:
                await flash(request, done)
            return redirect(request, safe_next(form.data.get("back")) or f"/checklist/{client_id}")
        found = await checklist.for_client(user.clinician_id, client_id, now=now)
        count = await checklist.open_count(user.clinician_id, now=now)
        context = _context(
            now,
            _place(form.data.get("where")),
            cl=found,
            errors=errors,
            values=form.data if errors else {},
            notice=done,
            new_clients_count=count,
            oob=True,
        )
        return await render(request, "checklist/show.html", context, fragment="checklist/_respond.html")

    # --- showing it ------------------------------------------------------------------------------

    @get("/checklist/{client_id:int}", name="checklist")
    async def show(
        self,
        request: Request,
        client_id: FromPath[int],
        user: User,
        now: Now,
        where: FromQuery[str] = "page",
        appointment: FromQuery[int | None] = None,
    ) -> Template:
        """The checklist; from an appointment panel only when that appointment is the intro session."""
        found = await checklist.for_client(user.clinician_id, client_id, now=now)
        place = _place(where)
        if place == "panel" and wants_fragment(request):
            intro = found.checklist[Item.INTRO].session
            if intro is None or intro.id != appointment:
                return await render(request, "checklist/show.html", {}, fragment="checklist/_nothing.html")
        context = _context(now, place, cl=found, appointment_id=appointment)
        return await render(request, "checklist/show.html", context, fragment="checklist/_checklist.html")

    @get("/new-clients", name="new_clients")
    async def new_clients(self, request: Request, user: User, now: Now) -> Template:
        rows = await checklist.with_open_items(user.clinician_id, now=now)
        context = _context(now, "list", rows=rows, new_clients_count=len(rows))
        return await render(request, "checklist/new_clients.html", context)

    @get("/new-clients/count", name="new_clients_count")
    async def count(self, request: Request, user: User, now: Now) -> Template:
        count = await checklist.open_count(user.clinician_id, now=now)
        return await render(
            request,
            "checklist/_new_clients_count.html",
            {"new_clients_count": count},
            fragment="checklist/_new_clients_count.html",
        )

    # --- actions (a form that can't be read answers with its first problem) ----------------------

    @post("/checklist/{client_id:int}/invite", name="checklist_invite")
    async def resend(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        if not form.ok:
            return await self._answer(request, user, client_id, ctx.now, form)
        try:
            await clients.resend_invitation(user.clinician_id, client_id, **ctx.sending)
        except ClientError as error:
            problem = ChecklistProblem(Item.PORTAL.value, error.message)
            return await self._answer(request, user, client_id, ctx.now, form, problem=problem)
        done = "A new invitation is on its way. The earlier link no longer works."
        return await self._answer(request, user, client_id, ctx.now, form, done=done)

    @post("/checklist/{client_id:int}/occurred", name="checklist_occurred")
    async def occurred(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        if not form.ok:
            return await self._answer(request, user, client_id, ctx.now, form)
        appointment_id = record_id(form.data.get("appointment_id"))
        if appointment_id is None:
            raise NotFoundException()
        try:
            await checklist.mark_intro_occurred(user.clinician_id, client_id, appointment_id, **ctx.sending)
        except ChecklistProblem as problem:
            return await self._answer(request, user, client_id, ctx.now, form, problem=problem)
        return await self._answer(
            request, user, client_id, ctx.now, form, done="Intro session marked Occurred."
        )

    @post("/checklist/{client_id:int}/coverage", name="checklist_coverage")
    async def coverage(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        status = form.choice("coverage_status", OUTCOMES, label="Coverage status")
        note = insurance.coverage_note_from_form(form)
        if not form.ok:
            return await self._answer(request, user, client_id, ctx.now, form)
        await checklist.record_coverage(user.clinician_id, client_id, status, note, **ctx.acting)
        return await self._answer(request, user, client_id, ctx.now, form, done="Coverage recorded.")

    @post("/checklist/{client_id:int}/not-applicable", name="checklist_not_applicable")
    async def not_applicable(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        if not form.ok:
            return await self._answer(request, user, client_id, ctx.now, form)
        item, reason = form.data.get("item", ""), form.data.get("reason", "")
        try:
            await checklist.mark_not_applicable(user.clinician_id, client_id, item, reason, **ctx.acting)
        except ChecklistProblem as problem:
            return await self._answer(request, user, client_id, ctx.now, form, problem=problem)
        return await self._answer(request, user, client_id, ctx.now, form, done="Marked not applicable.")

    @post("/checklist/{client_id:int}/applicable", name="checklist_applicable")
    async def applicable(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        if not form.ok:
            return await self._answer(request, user, client_id, ctx.now, form)
        item = form.data.get("item", "")
        try:
            await checklist.clear_not_applicable(user.clinician_id, client_id, item, **ctx.acting)
        except ChecklistProblem as problem:
            return await self._answer(request, user, client_id, ctx.now, form, problem=problem)
        return await self._answer(request, user, client_id, ctx.now, form, done="Back on the checklist.")

    # --- the practice's insurance-questions contact ----------------------------------------------

    @get("/checklist/insurance-contact", name="insurance_contact")
    async def contact_page(self, request: Request, user: User, back: FromQuery[str] = "") -> Template:
        contact = await insurance.contact_of(user.clinician_id)
        values = {"insurance_email": contact.email, "licence_type": contact.licence_type, "back": back}
        return await render(request, "checklist/insurance_contact.html", {"values": values, "errors": {}})

    @post("/checklist/insurance-contact")
    async def contact_save(
        self, request: Request, data: FormBody, user: User, ctx: Context
    ) -> Response | Template:
        form = Form.of(data)
        email = form.email("insurance_email", label="Insurance questions email", required=False)
        licence = form.text("licence_type", label="Licence type", required=False, max_length=120)
        if not form.ok:
            return await render(
                request, "checklist/insurance_contact.html", {"values": form.data, "errors": form.errors}
            )
        await insurance.set_contact(user.clinician_id, email=email, licence_type=licence, **ctx.acting)
        await flash(request, "Saved. Clients see this in their portal and in invitation emails.")
        return redirect(request, safe_next(form.data.get("back")) or "/new-clients")
