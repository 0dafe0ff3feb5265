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
from app.web.runtime import actor_of, current_session, current_user, runtime
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


def home_for(user: CurrentUser) -> str:
    return "/calendar" if user.is_clinician else "/portal"


def safe_next(value: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


async def start_session(request: Request, user: CurrentUser, to: str) -> Response:
    """Sign ``user`` in with a brand-new session id (the old one, if any, is destroyed). A clinician
    whose practice requires two-factor sign-in and who has not set it up goes to set it up first."""
    rt = runtime(request)
    must_enrol = await two_factor.must_enrol(user)
    if must_enrol:
        to = ENROL_URL
    cookie = session_cookie_name(rt.settings)
    await rt.sessions.destroy(request.cookies.get(cookie))
    token, session = await rt.sessions.create(
        user.id,
        user.role,
        ip=actor_of(request).ip,
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


class AuthController(Controller):
    path = "/"

    @get("/", name="home")
    async def home(self, request: Request) -> Response:
        user = current_user(request)
        return Redirect(path=home_for(user) if user else "/login", status_code=303)

    @get("/login", name="login")
    async def login_page(
        self, request: Request, next: FromQuery[str | None] = None, notice: FromQuery[str | None] = None
    ) -> Any:
        user = current_user(request)
        if user is not None:
            return Redirect(path=safe_next(next) or home_for(user), status_code=303)
        return await render(
            request, "auth/login.html", {"next": safe_next(next) or "", "notice": NOTICES.get(notice or "")}
        )

    @post("/login")
    async def login(self, request: Request, data: FormBody) -> Any:
        form = Form.of(data)
        address = form.email()
        password = form.data.get("password", "")
        if not password:
            form.error("password", "Password is required.")
        next_path = safe_next(form.data.get("next"))
        if form.ok:
            rt = runtime(request)
            result = await accounts.sign_in(
                address,
                password,
                redis=rt.redis,
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
                trust_token=request.cookies.get(trust_cookie_name(rt.settings)),
            )
            if result.needs_code is not None:
                token = await two_factor.start_pending(
                    rt.redis, result.needs_code, next_path or "", now=rt.clock.now()
                )
                return set_pending_cookie(redirect(request, "/login/code"), token, rt.settings)
            if result.user is not None:
                return await start_session(request, result.user, next_path or home_for(result.user))
            form.errors["form"] = (
                throttled_message(result)
                if result.throttled
                else "That email and password don't match an account."
            )
        return await render(
            request,
            "auth/login.html",
            {"form": form, "errors": form.errors, "next": next_path or ""},
            status_code=200,
        )

    @get("/login/code", name="login_code")
    async def code_page(self, request: Request) -> Any:
        rt = runtime(request)
        token = request.cookies.get(pending_cookie_name(rt.settings))
        if not await two_factor.pending_exists(rt.redis, token, now=rt.clock.now()):
            return Redirect(path="/login?notice=code-expired", status_code=303)
        return await render(request, "security/code.html", {})

    @post("/login/code")
    async def code(self, request: Request, data: FormBody) -> Any:
        """The second sign-in step: a code from the authenticator app, or a recovery code."""
        rt = runtime(request)
        form = Form.of(data)
        entered = form.data.get("code", "").strip()
        if not entered:
            form.error("code", "Enter the 6-digit code from your app, or a recovery code.")
        cookie = pending_cookie_name(rt.settings)
        if form.ok:
            result = await two_factor.verify_sign_in_code(
                rt.redis,
                request.cookies.get(cookie),
                entered,
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
            if result.expired:
                return clear_pending_cookie(redirect(request, "/login?notice=code-expired"), rt.settings)
            if result.user is not None:
                response = await start_session(
                    request, result.user, result.next_path or home_for(result.user)
                )
                if form.checkbox("trust"):
                    token = await two_factor.trust_browser(
                        result.user.id, settings=rt.settings, now=rt.clock.now()
                    )
                    set_trust_cookie(response, token, rt.settings)
                return clear_pending_cookie(response, rt.settings)
            form.errors["code"] = (
                "Too many wrong codes. Wait 15 minutes and try again."
                if result.throttled
                else "That code doesn't match. Codes change every 30 seconds and work once."
            )
        return await render(
            request, "security/code.html", {"errors": form.errors, "trust": form.checkbox("trust")}
        )

    @post("/logout", name="logout")
    async def logout(self, request: Request) -> Response:
        rt = runtime(request)
        cookie = session_cookie_name(rt.settings)
        user = current_user(request)
        await rt.sessions.destroy(request.cookies.get(cookie))
        if user is not None:
            await accounts.record_session_end(user.id, "logout", now=rt.clock.now(), actor=actor_of(request))
        response = redirect(request, "/login?notice=signed-out")
        response.delete_cookie(cookie, path="/")
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response

    @get("/signup", name="signup")
    async def signup_page(self, request: Request) -> Template:
        return await render(request, "auth/signup.html", {"time_zones": time_zone_names(), "values": {}})

    @post("/signup")
    async def signup(self, request: Request, data: FormBody) -> Template:
        form = Form.of(data)
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
        if not form.ok:
            return await render(
                request,
                "auth/signup.html",
                {"errors": form.errors, "values": form.data, "time_zones": time_zone_names()},
            )
        rt = runtime(request)
        await accounts.sign_up_clinician(
            accounts.NewClinician(practice, name, address, password, time_zone),
            now=rt.clock.now(),
            settings=rt.settings,
            actor=actor_of(request),
            queue=rt.queue,
        )
        return await render(request, "auth/check_email.html", {"email": address, "what": "signup"})

    @get("/signup/confirm/{token:str}")
    async def confirm_page(self, request: Request, token: FromPath[str]) -> Template:
        rt = runtime(request)
        link = await check(token, Purpose.SIGNUP, rt.clock.now())
        return await render(request, "auth/confirm.html", {"state": link.state.value, "token": token})

    @post("/signup/confirm/{token:str}")
    async def confirm(self, request: Request, token: FromPath[str]) -> Any:
        rt = runtime(request)
        user = await accounts.confirm_sign_up(token, now=rt.clock.now(), actor=actor_of(request))
        if user is None:
            link = await check(token, Purpose.SIGNUP, rt.clock.now())
            return await render(request, "auth/confirm.html", {"state": link.state.value, "token": token})
        return await start_session(request, user, home_for(user))

    @get("/password/forgot", name="forgot_password")
    async def forgot_page(self, request: Request) -> Template:
        return await render(request, "auth/forgot.html", {"values": {}})

    @post("/password/forgot")
    async def forgot(self, request: Request, data: FormBody) -> Template:
        form = Form.of(data)
        address = form.email()
        if not form.ok:
            return await render(request, "auth/forgot.html", {"errors": form.errors, "values": form.data})
        rt = runtime(request)
        # After the page is sent: how long the answer takes must not tell whether the address has an
        # account (a known one costs a token, an email and a job; an unknown one almost nothing).
        work = BackgroundTask(
            accounts.request_password_reset,
            address,
            redis=rt.redis,
            settings=rt.settings,
            now=rt.clock.now(),
            actor=actor_of(request),
            queue=rt.queue,
        )
        return await render(
            request, "auth/check_email.html", {"email": address, "what": "reset"}, background=work
        )

    @get("/password/reset/{token:str}")
    async def reset_page(self, request: Request, token: FromPath[str]) -> Template:
        rt = runtime(request)
        link = await check(token, Purpose.PASSWORD_RESET, rt.clock.now())
        return await render(request, "auth/reset.html", {"state": link.state.value, "token": token})

    @post("/password/reset/{token:str}")
    async def reset(self, request: Request, token: FromPath[str], data: FormBody) -> Any:
        rt = runtime(request)
        form = Form.of(data)
        password = form.data.get("password", "")
        problem = password_problem(password)
        if problem:
            form.error("password", problem)
        elif password != form.data.get("password_confirm", ""):
            form.error("password_confirm", "The two passwords don't match.")
        if not form.ok:
            link = await check(token, Purpose.PASSWORD_RESET, rt.clock.now())
            return await render(
                request, "auth/reset.html", {"state": link.state.value, "token": token, "errors": form.errors}
            )
        user_id = await accounts.reset_password(
            token, password, settings=rt.settings, now=rt.clock.now(), actor=actor_of(request)
        )
        if user_id is None:
            link = await check(token, Purpose.PASSWORD_RESET, rt.clock.now())
            state = link.state.value if link.state != LinkState.VALID else LinkState.USED.value
            return await render(request, "auth/reset.html", {"state": state, "token": token})
        await rt.sessions.destroy_all_for_user(user_id)
        return redirect(request, "/login?notice=password-reset")

    @get("/account/password", guards=[signed_in], name="change_password")
    async def change_password_page(self, request: Request) -> Template:
        return await render(request, "auth/change_password.html", {})

    @post("/account/password", guards=[signed_in])
    async def change_password(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        user = current_user(request)
        form = Form.of(data)
        current = form.data.get("current_password", "")
        new = form.data.get("new_password", "")
        if not current:
            form.error("current_password", "Enter your current password.")
        problem = password_problem(new, email=user.email, name=user.name)
        if problem:
            form.error("new_password", problem)
        elif new != form.data.get("new_password_confirm", ""):
            form.error("new_password_confirm", "The two passwords don't match.")
        if form.ok:
            changed = await accounts.change_password(
                user.id, current, new, settings=rt.settings, now=rt.clock.now(), actor=actor_of(request)
            )
            if changed:
                session = current_session(request)
                await rt.sessions.destroy_all_for_user(user.id, keep_key=session.key if session else None)
                await flash(request, "Password changed. You were signed out on your other devices.")
                return redirect(request, home_for(user))
            form.error("current_password", "That isn't your current password.")
        return await render(request, "auth/change_password.html", {"errors": form.errors})
