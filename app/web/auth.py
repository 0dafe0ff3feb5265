"""One door for everyone (R1): sign-in, sign-out, clinician sign-up, password reset and change."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template

from app.domain.accounts import password_problem, time_zone_names, valid_time_zone
from app.domain.sign_in_throttle import wait_text
from app.domain.validation import Form, clean_text
from app.services import accounts, two_factor
from app.services.account_tokens import LinkState, Purpose, check
from app.services.context import CurrentUser
from app.web.csrf import set_session_token
from app.web.guards import signed_in
from app.web.htmx import flash, redirect, render
from app.web.middleware import session_cookie_name
from app.web.runtime import AppRuntime, Context, CurrentSession, MaybeUser, Now, Runtime, User, client_ip
from app.web.security import (
    ENROL_URL,
    clear_pending_cookie,
    pending_cookie_name,
    set_pending_cookie,
    set_trust_cookie,
    trust_cookie_name,
)

FormBody = URLEncodedBody[dict[str, Any]]

NOTICES = {
    "signed-out": "You're signed out.",
    "password-reset": "Your password was changed. Sign in with the new one.",
    "timed-out": "You were signed out after a period of inactivity.",
    "code-expired": "That sign-in took too long. Enter your email and password again.",
    "joined": "You joined the practice. Sign in, then choose it under your name at the top.",
}


def throttled_message(result: accounts.SignIn) -> str:
    wait = wait_text(result.wait_seconds)
    if result.throttled_by == "network":
        return f"Too many sign-in attempts from your network. Wait {wait} and try again."
    if result.throttled_by == "account":
        return (
            f"Too many sign-in attempts for this email from other places. Wait {wait} and try again "
            "(a browser you trusted at two-step sign-in is not held up)."
        )
    return f"Too many sign-in attempts. Wait {wait} before trying again, or reset your password."


def sign_in_refused(result: accounts.SignIn) -> str:
    if result.throttled:
        return throttled_message(result)
    return "That email and password don't match an account."


def home_for(user: CurrentUser) -> str:
    if user.is_clinician:
        return "/calendar"
    return "/practice" if user.is_member else "/portal"


def safe_next(value: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


async def start_session(request: Request, rt: Runtime, user: CurrentUser, to: str) -> Response:
    """Sign ``user`` in with a brand-new session id (the old one, if any, is destroyed). A clinician
    whose practice requires two-factor sign-in and who has not set it up goes to set it up first."""
    must_enrol = await two_factor.must_enrol(user)
    if must_enrol:
        to = ENROL_URL
    cookie = session_cookie_name(rt.settings)
    await rt.sessions.destroy(request.cookies.get(cookie))
    token, session = await rt.sessions.create(
        user.id,
        user.role,
        ip=client_ip(request),
        user_agent=clean_text(request.headers.get("user-agent", "")),
        must_enrol_two_factor=must_enrol,
        user=user,
    )
    response = redirect(request, to)
    response.set_cookie(
        key=cookie,
        value=token,
        path="/",
        secure=rt.settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return set_session_token(response, session, rt.settings)


def _new_clinician(form: Form) -> accounts.NewClinician:
    """The sign-up the form describes, with a message next to every field that can't be used."""
    practice = form.name("practice_name", label="Practice name")
    name = form.name("name", label="Your name")
    address = form.email()
    password = form.data.get("password", "")
    time_zone = form.data.get("time_zone", "").strip()
    if not valid_time_zone(time_zone):
        form.error("time_zone", "Choose your time zone from the list.")
    problem = password_problem(password, email=address, name=name)
    if problem:
        form.error("password", problem)
    return accounts.NewClinician(practice, name, address, password, time_zone)


def new_password(form: Form, *, email: str = "", name: str = "", field: str = "password") -> str:
    """The new password typed twice (``field`` and ``field_confirm``), with a message when it won't do."""
    password = form.data.get(field, "")
    problem = password_problem(password, email=email, name=name)
    if problem:
        form.error(field, problem)
    elif password != form.data.get(f"{field}_confirm", ""):
        form.error(f"{field}_confirm", "The two passwords don't match.")
    return password


class AuthController(Controller):
    path = "/"

    @get("/", name="home")
    async def home(self, user: MaybeUser) -> Response:
        return Redirect(path=home_for(user) if user else "/login", status_code=303)

    @get("/login", name="login")
    async def login_page(
        self,
        request: Request,
        user: MaybeUser,
        next: FromQuery[str | None] = None,
        notice: FromQuery[str | None] = None,
    ) -> Any:
        if user is not None:
            return Redirect(path=safe_next(next) or home_for(user), status_code=303)
        return await render(
            request, "auth/login.html", {"next": safe_next(next) or "", "notice": NOTICES.get(notice or "")}
        )

    @post("/login")
    async def login(self, request: Request, data: FormBody, rt: AppRuntime, ctx: Context) -> Any:
        form = Form.of(data)
        address = form.email()
        password = form.data.get("password", "")
        if not password:
            form.error("password", "Password is required.")
        next_path = safe_next(form.data.get("next"))
        if form.ok:
            trust_token = request.cookies.get(trust_cookie_name(rt.settings))
            result = await accounts.sign_in(
                address, password, redis=rt.redis, settings=rt.settings, trust_token=trust_token, **ctx.acting
            )
            if result.needs_code is not None:
                token = await two_factor.start_pending(
                    rt.redis, result.needs_code, next_path or "", now=ctx.now
                )
                return set_pending_cookie(redirect(request, "/login/code"), token, rt.settings)
            if result.user is not None:
                return await start_session(request, rt, result.user, next_path or home_for(result.user))
            form.errors["form"] = sign_in_refused(result)
        return await render(
            request, "auth/login.html", {"form": form, "errors": form.errors, "next": next_path or ""}
        )

    @get("/login/code", name="login_code")
    async def code_page(self, request: Request, rt: AppRuntime, now: Now) -> Any:
        token = request.cookies.get(pending_cookie_name(rt.settings))
        if not await two_factor.pending_exists(rt.redis, token, now=now):
            return Redirect(path="/login?notice=code-expired", status_code=303)
        return await render(request, "security/code.html", {})

    @post("/login/code")
    async def code(self, request: Request, data: FormBody, rt: AppRuntime, ctx: Context) -> Any:
        """The second sign-in step: a code from the authenticator app, or a recovery code."""
        form = Form.of(data)
        entered = form.data.get("code", "").strip()
        if not entered:
            form.error("code", "Enter the 6-digit code from your app, or a recovery code.")
        if form.ok:
            pending = request.cookies.get(pending_cookie_name(rt.settings))
            result = await two_factor.verify_sign_in_code(
                rt.redis, pending, entered, settings=rt.settings, **ctx.acting
            )
            if result.expired:
                return clear_pending_cookie(redirect(request, "/login?notice=code-expired"), rt.settings)
            if result.user is not None:
                return await self._signed_in_with_code(request, rt, result, ctx.now, form.checkbox("trust"))
            form.errors["code"] = (
                "Too many wrong codes. Wait 15 minutes and try again."
                if result.throttled
                else "That code doesn't match. Codes change every 30 seconds and work once."
            )
        return await render(
            request, "security/code.html", {"errors": form.errors, "trust": form.checkbox("trust")}
        )

    async def _signed_in_with_code(self, request: Request, rt: Runtime, result, now, trust: bool) -> Response:
        """The session after a right code, and "trust this browser" remembered when it was ticked."""
        response = await start_session(request, rt, result.user, result.next_path or home_for(result.user))
        if trust:
            token = await two_factor.trust_browser(result.user.id, settings=rt.settings, now=now)
            set_trust_cookie(response, token, rt.settings)
        return clear_pending_cookie(response, rt.settings)

    @post("/logout", name="logout")
    async def logout(self, request: Request, user: MaybeUser, rt: AppRuntime, ctx: Context) -> Response:
        cookie = session_cookie_name(rt.settings)
        await rt.sessions.destroy(request.cookies.get(cookie))
        if user is not None:
            await accounts.record_session_end(user.id, "logout", **ctx.acting)
        response = redirect(request, "/login?notice=signed-out")
        response.delete_cookie(cookie, path="/")
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response

    @get("/signup", name="signup")
    async def signup_page(self, request: Request) -> Template:
        return await render(request, "auth/signup.html", {"time_zones": time_zone_names(), "values": {}})

    @post("/signup")
    async def signup(self, request: Request, data: FormBody, ctx: Context) -> Template:
        form = Form.of(data)
        clinician = _new_clinician(form)
        if not form.ok:
            return await render(
                request,
                "auth/signup.html",
                {"errors": form.errors, "values": form.data, "time_zones": time_zone_names()},
            )
        await accounts.sign_up_clinician(clinician, **ctx.sending)
        return await render(request, "auth/check_email.html", {"email": clinician.email, "what": "signup"})

    @get("/signup/confirm/{token:str}")
    async def confirm_page(self, request: Request, token: FromPath[str], now: Now) -> Template:
        link = await check(token, Purpose.SIGNUP, now)
        return await render(request, "auth/confirm.html", {"state": link.state.value, "token": token})

    @post("/signup/confirm/{token:str}")
    async def confirm(self, request: Request, token: FromPath[str], rt: AppRuntime, ctx: Context) -> Any:
        user = await accounts.confirm_sign_up(token, **ctx.acting)
        if user is None:
            link = await check(token, Purpose.SIGNUP, ctx.now)
            return await render(request, "auth/confirm.html", {"state": link.state.value, "token": token})
        return await start_session(request, rt, user, home_for(user))

    @get("/password/forgot", name="forgot_password")
    async def forgot_page(self, request: Request) -> Template:
        return await render(request, "auth/forgot.html", {"values": {}})

    @post("/password/forgot")
    async def forgot(self, request: Request, data: FormBody, rt: AppRuntime, ctx: Context) -> Template:
        form = Form.of(data)
        address = form.email()
        if not form.ok:
            return await render(request, "auth/forgot.html", {"errors": form.errors, "values": form.data})
        # After the page is sent: how long the answer takes must not tell whether the address has an
        # account (a known one costs a token, an email and a job; an unknown one almost nothing).
        work = BackgroundTask(accounts.request_password_reset, address, redis=rt.redis, **ctx.sending)
        return await render(
            request, "auth/check_email.html", {"email": address, "what": "reset"}, background=work
        )

    @get("/password/reset/{token:str}")
    async def reset_page(self, request: Request, token: FromPath[str], now: Now) -> Template:
        link = await check(token, Purpose.PASSWORD_RESET, now)
        return await render(request, "auth/reset.html", {"state": link.state.value, "token": token})

    @post("/password/reset/{token:str}")
    async def reset(
        self, request: Request, token: FromPath[str], data: FormBody, rt: AppRuntime, ctx: Context
    ) -> Any:
        form = Form.of(data)
        password = new_password(form)
        user_id = None
        if form.ok:
            user_id = await accounts.reset_password(token, password, settings=rt.settings, **ctx.acting)
        if user_id is None:
            link = await check(token, Purpose.PASSWORD_RESET, ctx.now)
            state = link.state.value
            if form.ok and link.state == LinkState.VALID:
                state = LinkState.USED.value
            return await render(
                request, "auth/reset.html", {"state": state, "token": token, "errors": form.errors}
            )
        await rt.sessions.destroy_all_for_user(user_id)
        return redirect(request, "/login?notice=password-reset")

    @get("/account/password", guards=[signed_in], name="change_password")
    async def change_password_page(self, request: Request) -> Template:
        return await render(request, "auth/change_password.html", {})

    @post("/account/password", guards=[signed_in])
    async def change_password(
        self, request: Request, data: FormBody, user: User, session: CurrentSession, ctx: Context
    ) -> Any:
        form = Form.of(data)
        current = form.data.get("current_password", "")
        if not current:
            form.error("current_password", "Enter your current password.")
        new = new_password(form, email=user.email, name=user.name, field="new_password")
        if form.ok:
            if await accounts.change_password(user.id, current, new, settings=ctx.settings, **ctx.acting):
                await ctx.sessions.destroy_all_for_user(user.id, keep_key=session.key if session else None)
                await flash(request, "Password changed. You were signed out on your other devices.")
                return redirect(request, home_for(user))
            form.error("current_password", "That isn't your current password.")
        return await render(request, "auth/change_password.html", {"errors": form.errors})
