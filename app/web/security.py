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
from app.services.two_factor import PENDING_SECONDS, TwoFactorError
from app.web.guards import ENROL_URL, signed_in
from app.web.htmx import flash, redirect, render
from app.web.runtime import actor_of, current_session, current_user, runtime

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


class SecurityController(Controller):
    path = "/account"
    guards = [signed_in]

    async def _page(self, request: Request, **context: Any) -> Template:
        rt = runtime(request)
        user = current_user(request)
        session = current_session(request)
        context.setdefault("errors", {})
        return await render(
            request,
            "security/account.html",
            {
                "two_factor": await two_factor.status(user),
                "devices": await devices.list_devices(rt.sessions, user.id, session.key if session else None),
                **context,
            },
        )

    @get("/", name="account")
    async def account_page(self, request: Request) -> Template:
        return await self._page(request)

    @get("/security", name="security")
    async def security_page(self, request: Request) -> Template:
        return await self._page(request)

    @get("/security/two-factor", name="two_factor_setup")
    async def setup_page(self, request: Request) -> Any:
        user = current_user(request)
        state = await two_factor.status(user)
        if state.enabled:
            return redirect(request, "/account/security")
        enrolment = await two_factor.begin_enrolment(runtime(request).redis, user)
        return await render(
            request, "security/setup.html", {"enrolment": enrolment, "required": state.required, "errors": {}}
        )

    @post("/security/two-factor")
    async def setup(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        user = current_user(request)
        form = Form.of(data)
        password, code = form.data.get("password", ""), form.data.get("code", "")
        if not password:
            form.error("password", "Enter your password.")
        if not code.strip():
            form.error("code", "Enter the 6-digit code your app shows.")
        if form.ok:
            try:
                codes = await two_factor.complete_enrolment(
                    rt.redis,
                    user,
                    password,
                    code,
                    settings=rt.settings,
                    now=rt.clock.now(),
                    actor=actor_of(request),
                )
            except TwoFactorError as problem:
                form.error(problem.field, problem.message)
            else:
                session = current_session(request)
                if session is not None and session.must_enrol_two_factor:
                    session.must_enrol_two_factor = False
                    await rt.sessions.save(session)
                return await render(
                    request, "security/recovery_codes.html", {"codes": codes, "first_time": True}
                )
        enrolment = await two_factor.begin_enrolment(rt.redis, user)
        state = await two_factor.status(user)
        return await render(
            request,
            "security/setup.html",
            {"enrolment": enrolment, "required": state.required, "errors": form.errors},
        )

    @post("/security/recovery-codes")
    async def new_recovery_codes(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        form = Form.of(data)
        try:
            codes = await two_factor.regenerate_recovery_codes(
                current_user(request),
                form.data.get("recovery_code", ""),
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
        except TwoFactorError as problem:
            return await self._page(request, errors={"recovery_code": problem.message})
        return await render(request, "security/recovery_codes.html", {"codes": codes, "first_time": False})

    @post("/security/two-factor/off")
    async def disable(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        form = Form.of(data)
        try:
            await two_factor.disable(
                current_user(request),
                form.data.get("off_password", ""),
                form.data.get("off_code", ""),
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
        except TwoFactorError as problem:
            return await self._page(request, errors={f"off_{problem.field}": problem.message})
        await flash(request, "Two-step sign-in is off. Trusted browsers must sign in with a password again.")
        return redirect(request, "/account/security")

    @post("/security/requirement")
    async def requirement(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        user = current_user(request)
        if not user.is_clinician:
            raise NotFoundException()
        required = Form.of(data).checkbox("required")
        await two_factor.set_required(user, required, now=rt.clock.now(), actor=actor_of(request))
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
    async def end_device(self, request: Request, device_id: FromPath[str]) -> Any:
        rt = runtime(request)
        user = current_user(request)
        session = current_session(request)
        ended = await devices.end_device(
            rt.sessions, user.id, device_id, now=rt.clock.now(), actor=actor_of(request)
        )
        if session is not None and devices.public_id(session) == device_id:
            return redirect(request, "/login?notice=signed-out")
        await flash(request, "That device is signed out." if ended else "That device was already signed out.")
        return redirect(request, "/account/security#devices")

    @post("/sessions/end-others")
    async def end_others(self, request: Request) -> Any:
        rt = runtime(request)
        session = current_session(request)
        ended = await devices.end_other_devices(
            rt.sessions,
            current_user(request).id,
            session.key if session else None,
            now=rt.clock.now(),
            actor=actor_of(request),
        )
        await flash(request, f"Signed out on {ended} other device{'s' if ended != 1 else ''}.")
        return redirect(request, "/account/security#devices")

    @post("/session/refresh", name="stay_signed_in", status_code=200)
    async def stay_signed_in(self, request: Request) -> dict[str, int]:
        """Called by the idle warning's "Stay signed in": the session was just touched by this request;
        answer how many seconds are left before it ends (idle or absolute, whichever is first)."""
        session = current_session(request)
        now = runtime(request).clock.now().timestamp()
        return {"seconds_left": max(int(session.expires_at - now), 0) if session else 0}
