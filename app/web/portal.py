"""The client portal (phone first): sessions and charges, insurance, profile. Card on file lives at
``/portal/card`` (the charging area). Another person's record id answers 404."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from app.domain.accounts import time_zone_names, valid_time_zone
from app.domain.insurance import clean_self_check, form_values, questions
from app.domain.validation import Form
from app.services import insurance, portal, session_links
from app.services.context import CurrentUser
from app.services.errors import StatusChangeRefused
from app.services.portal import NotYours, Profile
from app.web.guards import client_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import Context, Now, User

FormBody = URLEncodedBody[dict[str, Any]]


async def _insurance_form(user: CurrentUser, client_id: int) -> tuple[Any, Any]:
    """The practice and insurance details of one of this person's client records (404 for another's)."""
    try:
        return await portal.insurance_form(user.id, client_id)
    except NotYours:
        raise NotFoundException() from None


class PortalController(Controller):
    path = "/portal"
    guards = [client_only]

    @get("/", name="portal")
    async def index(self, request: Request, user: User, now: Now, welcome: FromQuery[str] = "") -> Template:
        view = await portal.overview(user.id, now=now)
        return await render(
            request, "portal/index.html", {"view": view, "welcome": bool(welcome), "zone": user.time_zone}
        )

    @post("/sessions/{appointment_id:int}/check-in", name="portal_check_in")
    async def check_in(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        """ "I'm here" or "Join" from the portal home: the same check-in as the reminder's link."""
        try:
            page = await session_links.check_in_from_portal(
                user.id, appointment_id, settings=ctx.settings, **ctx.acting
            )
        except StatusChangeRefused as refused:
            await flash(request, refused.message)
            return redirect(request, "/portal")
        if Form.of(data).data.get("how") == "join" and page.video_link:
            return Redirect(path=page.video_link, status_code=303)
        await flash(request, "Thank you: you're checked in. Your clinician can see it.")
        return redirect(request, "/portal")

    @get("/insurance", name="portal_insurance")
    async def insurance_list(self, request: Request, user: User) -> Template:
        pages = await portal.insurance_pages(user.id)
        return await render(
            request, "portal/insurance.html", {"pages": pages, "relationships": insurance.RELATIONSHIPS}
        )

    @get("/insurance/{client_id:int}", name="portal_insurance_edit")
    async def insurance_edit(self, request: Request, client_id: FromPath[int], user: User) -> Template:
        practice, details = await _insurance_form(user, client_id)
        return await render(
            request,
            "portal/insurance_edit.html",
            {
                "practice": practice,
                "details": details,
                "relationships": insurance.RELATIONSHIPS,
                "history": await insurance.history_lines(client_id, currency=practice.currency),
            },
        )

    @post("/insurance/{client_id:int}")
    async def insurance_save(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        practice, _ = await _insurance_form(user, client_id)
        form = Form.of(data)
        details = insurance.details_from_form(
            form, billing_type=practice.billing_type, ceiling=practice.max_fee_minor
        )
        if form.ok:
            await portal.update_insurance(user.id, client_id, details, **ctx.acting)
            await flash(request, f"Insurance details saved. {practice.practice_name} can see them now.")
            return redirect(request, "/portal/insurance")
        return await render(
            request,
            "portal/insurance_edit.html",
            {
                "practice": practice,
                "details": details,
                "values": form.data,
                "errors": form.errors,
                "relationships": insurance.RELATIONSHIPS,
            },
        )

    @get("/insurance/{client_id:int}/self-check", name="portal_self_check")
    async def self_check_page(self, request: Request, client_id: FromPath[int], user: User) -> Template:
        practice, _ = await _insurance_form(user, client_id)
        answers, saved_at = await insurance.self_check_of(client_id)
        return await render(
            request,
            "portal/self_check.html",
            self._self_check_context(practice, form_values(answers), {}, saved_at),
        )

    @post("/insurance/{client_id:int}/self-check")
    async def self_check_save(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        practice, _ = await _insurance_form(user, client_id)
        form = Form.of(data)
        answers = clean_self_check(form, questions(practice.licence_type, practice.practice_name))
        if form.ok:
            await portal.save_self_check(user.id, client_id, answers, **ctx.acting)
            await flash(request, f"Your answers are saved. {practice.practice_name} can see them now.")
            return redirect(request, "/portal/insurance")
        return await render(
            request,
            "portal/self_check.html",
            self._self_check_context(practice, form.data, form.errors, None),
        )

    def _self_check_context(self, practice, values, errors, saved_at) -> dict[str, Any]:
        return {
            "practice": practice,
            "questions": questions(practice.licence_type, practice.practice_name),
            "values": values,
            "errors": errors,
            "saved_at": saved_at,
        }

    @get("/profile", name="portal_profile")
    async def profile_page(self, request: Request, user: User) -> Template:
        profile = await portal.profile_of(user.id)
        return await render(
            request,
            "portal/profile.html",
            {"profile": profile, "values": profile.__dict__, "time_zones": time_zone_names()},
        )

    @post("/profile")
    async def profile_save(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        name = form.name("name", label="Name")
        phone = form.text("phone", label="Phone", required=False, max_length=40)
        time_zone = form.data.get("time_zone", "").strip()
        if not valid_time_zone(time_zone):
            form.error("time_zone", "Choose your time zone from the list.")
        profile = await portal.profile_of(user.id)
        if form.ok:
            await portal.update_profile(user.id, Profile(name, profile.email, phone, time_zone), **ctx.acting)
            await flash(request, "Profile saved.")
            return redirect(request, "/portal/profile")
        return await render(
            request,
            "portal/profile.html",
            {"profile": profile, "values": form.data, "errors": form.errors, "time_zones": time_zone_names()},
        )
