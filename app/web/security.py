"""The account page: password, two-step sign-in (authenticator app, recovery codes, the practice's
requirement), the devices signed in with "sign out" each or everywhere else, and the small endpoint the
idle warning calls to stay signed in."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Response, Template

from app.config import Settings
from app.domain.two_factor import TRUST_DAYS
from app.domain.validation import Form
from app.services import devices, two_factor
from app.services.context import CurrentUser
from app.services.sessions import Session
from app.services.two_factor import PENDING_SECONDS, TwoFactorError
from app.web.guards import ENROL_URL, signed_in
from app.web.htmx import flash, redirect, render
from app.web.runtime import AppRuntime, Context, CurrentSession, Now, RequestContext, Runtime, User

FormBody = URLEncodedBody[dict[str, Any]]


def pending_cookie_name(settings: Settings) -> str:
    return "__Host-sw_2fa" if settings.secure_cookies else "sw_2fa"


def trust_cookie_name(settings: Settings) -> str:
    return "__Host-sw_trusted" if settings.secure_cookies else "sw_trusted"


def _set_cookie(response: Response, name: str, value: str, max_age: int, settings: Settings) -> Response:
    response.set_cookie(
        key=name,
        value=value,
        path="/",
        max_age=max_age,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def set_pending_cookie(response: Response, token: str, settings: Settings) -> Response:
    return _set_cookie(response, pending_cookie_name(settings), token, PENDING_SECONDS, settings)


def clear_pending_cookie(response: Response, settings: Settings) -> Response:
    response.delete_cookie(pending_cookie_name(settings), path="/")
    return response


def set_trust_cookie(response: Response, token: str, settings: Settings) -> Response:
    return _set_cookie(response, trust_cookie_name(settings), token, TRUST_DAYS * 86400, settings)


def _enrolment_fields(form: Form) -> tuple[str, str]:
    """The password and the first code from the app, with a message for each one missing."""
    password, code = form.data.get("password", ""), form.data.get("code", "")
    if not password:
        form.error("password", "Enter your password.")
    if not code.strip():
        form.error("code", "Enter the 6-digit code your app shows.")
    return password, code


async def _enrolled(rt: Runtime, session: Session | None) -> None:
    """Two-step sign-in is set up: this session no longer waits for it."""
    if session is not None and session.must_enrol_two_factor:
        session.must_enrol_two_factor = False
        await rt.sessions.save(session)


class SecurityController(Controller):
    path = "/account"
    guards = [signed_in]

    async def _page(
        self,
        request: Request,
        user: CurrentUser,
        session: Session | None,
        ctx: RequestContext,
        **context: Any,
    ) -> Template:
        context.setdefault("errors", {})
        return await render(
            request,
            "security/account.html",
            {
                "two_factor": await two_factor.status(user),
                "devices": await devices.list_devices(
                    ctx.sessions, user.id, session.key if session else None
                ),
                **context,
            },
        )

    @get("/", name="account")
    async def account_page(
        self, request: Request, user: User, session: CurrentSession, ctx: Context
    ) -> Template:
        return await self._page(request, user, session, ctx)

    @get("/security", name="security")
    async def security_page(
        self, request: Request, user: User, session: CurrentSession, ctx: Context
    ) -> Template:
        return await self._page(request, user, session, ctx)

    async def _setup_form(self, request: Request, user: CurrentUser, rt: Runtime, errors: dict) -> Template:
        enrolment = await two_factor.begin_enrolment(rt.redis, user)
        state = await two_factor.status(user)
        return await render(
            request,
            "security/setup.html",
            {"enrolment": enrolment, "required": state.required, "errors": errors},
        )

    @get("/security/two-factor", name="two_factor_setup")
    async def setup_page(self, request: Request, user: User, rt: AppRuntime) -> Any:
        if (await two_factor.status(user)).enabled:
            return redirect(request, "/account/security")
        return await self._setup_form(request, user, rt, {})

    @post("/security/two-factor")
    async def setup(
        self,
        request: Request,
        data: FormBody,
        user: User,
        session: CurrentSession,
        rt: AppRuntime,
        ctx: Context,
    ) -> Any:
        form = Form.of(data)
        password, code = _enrolment_fields(form)
        if form.ok:
            try:
                codes = await two_factor.complete_enrolment(
                    rt.redis, user, password, code, settings=rt.settings, **ctx.acting
                )
            except TwoFactorError as problem:
                form.error(problem.field, problem.message)
            else:
                await _enrolled(rt, session)
                return await render(
                    request, "security/recovery_codes.html", {"codes": codes, "first_time": True}
                )
        return await self._setup_form(request, user, rt, form.errors)

    @post("/security/recovery-codes")
    async def new_recovery_codes(
        self, request: Request, data: FormBody, user: User, session: CurrentSession, ctx: Context
    ) -> Any:
        recovery_code = Form.of(data).data.get("recovery_code", "")
        try:
            codes = await two_factor.regenerate_recovery_codes(
                user, recovery_code, settings=ctx.settings, **ctx.acting
            )
        except TwoFactorError as problem:
            return await self._page(request, user, session, ctx, errors={"recovery_code": problem.message})
        return await render(request, "security/recovery_codes.html", {"codes": codes, "first_time": False})

    @post("/security/two-factor/off")
    async def disable(
        self, request: Request, data: FormBody, user: User, session: CurrentSession, ctx: Context
    ) -> Any:
        form = Form.of(data)
        password, code = form.data.get("off_password", ""), form.data.get("off_code", "")
        try:
            await two_factor.disable(user, password, code, settings=ctx.settings, **ctx.acting)
        except TwoFactorError as problem:
            return await self._page(
                request, user, session, ctx, errors={f"off_{problem.field}": problem.message}
            )
        await flash(request, "Two-step sign-in is off. Trusted browsers must sign in with a password again.")
        return redirect(request, "/account/security")

    @post("/security/requirement")
    async def requirement(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        if not user.is_clinician:
            raise NotFoundException()
        required = Form.of(data).checkbox("required")
        await two_factor.set_required(user, required, **ctx.acting)
        if required and await two_factor.must_enrol(user):
            await flash(request, "Your practice now requires two-step sign-in. Set it up to continue.")
            return redirect(request, ENROL_URL)
        await flash(
            request,
            "Two-step sign-in is now required for your account."
            if required
            else "Two-step sign-in is now optional for your account.",
        )
        return redirect(request, "/account/security")

    @post("/sessions/{device_id:str}/end")
    async def end_device(
        self, request: Request, device_id: FromPath[str], user: User, session: CurrentSession, ctx: Context
    ) -> Any:
        ended = await devices.end_device(ctx.sessions, user.id, device_id, **ctx.acting)
        if session is not None and devices.public_id(session) == device_id:
            return redirect(request, "/login?notice=signed-out")
        await flash(request, "That device is signed out." if ended else "That device was already signed out.")
        return redirect(request, "/account/security#devices")

    @post("/sessions/end-others")
    async def end_others(self, request: Request, user: User, session: CurrentSession, ctx: Context) -> Any:
        ended = await devices.end_other_devices(
            ctx.sessions, user.id, session.key if session else None, **ctx.acting
        )
        await flash(request, f"Signed out on {ended} other device{'s' if ended != 1 else ''}.")
        return redirect(request, "/account/security#devices")

    @post("/session/refresh", name="stay_signed_in", status_code=200)
    async def stay_signed_in(self, session: CurrentSession, now: Now) -> dict[str, int]:
        """Called by the idle warning's "Stay signed in": the session was just touched by this request;
        answer how many seconds are left before it ends (idle or absolute, whichever is first)."""
        return {"seconds_left": max(int(session.expires_at - now.timestamp()), 0) if session else 0}
