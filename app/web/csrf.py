"""CSRF tokens bound to the server-side session.

Signed in, the only token accepted is an HMAC of the session's key: it changes at every sign-in and
nobody can compute it without both the session and ``SECRET_KEY``, so a ``csrftoken`` cookie planted
by another site (or a sibling subdomain) is useless. Signed out (sign-in, public booking, password
reset) there is no session to bind to: the token is a random value in the cookie that the form or
the htmx header must repeat (double submit). The cookie always carries the current token so that
scripts and tests can read it; it is never what a signed-in request is checked against.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from litestar import Request, Response
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app.config import Settings
from app.services.sessions import Session
from app.web.middleware import SAFE_METHODS, cookie_value

HEADER = "x-csrftoken"
EMAIL_EVENTS_PATH = "/email/events"
STRIPE_WEBHOOK_PATH = "/stripe/webhook"
TEXT_REPLIES_PATH = "/texts/inbound"
FIELD = "_csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def cookie_name(settings: Settings) -> str:
    return "__Host-csrftoken" if settings.secure_cookies else "csrftoken"


def session_token(session: Session, settings: Settings) -> str:
    """The one token a signed-in session accepts."""
    return hmac.new(settings.secret_key.encode(), f"csrf:{session.key}".encode(), hashlib.sha256).hexdigest()


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and hmac.compare_digest(a.encode(), b.encode())


def _cookie(name: str, token: str, settings: Settings) -> Cookie:
    return Cookie(key=name, value=token, path="/", secure=settings.secure_cookies, samesite="lax")


def set_session_token(response: Response, session: Session, settings: Settings) -> Response:
    """At sign-in: the browser's token rotates to the new session's one."""
    cookie = _cookie(cookie_name(settings), session_token(session, settings), settings)
    response.set_cookie(cookie)
    return response


class CsrfMiddleware(ASGIMiddleware):
    """Checks the token on every unsafe request and offers the current one to templates
    (``csrf_input``, ``csrf_token()``). Runs after the session middleware."""

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:
        path = scope.get("path", "")
        # A provider's webhook is guarded by its token or signature instead.
        return path.startswith("/static/") or path in (
            EMAIL_EVENTS_PATH,
            STRIPE_WEBHOOK_PATH,
            TEXT_REPLIES_PATH,
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        settings: Settings = scope["litestar_app"].state.runtime.settings
        name = cookie_name(settings)
        in_cookie = cookie_value(scope, name)
        session: Session | None = scope.get("auth")
        expected = session_token(session, settings) if session is not None else in_cookie
        if scope.get("method", "GET") in SAFE_METHODS:
            token = expected or secrets.token_urlsafe(32)
            ScopeState.from_scope(scope).csrf_token = token
            if token != in_cookie:
                send = self._setting_cookie(send, _cookie(name, token, settings))
            await next_app(scope, receive, send)
            return
        if not _same(await self._submitted(scope, receive), expected):
            raise PermissionDeniedException("CSRF token verification failed")
        ScopeState.from_scope(scope).csrf_token = expected
        await next_app(scope, receive, send)

    @staticmethod
    async def _submitted(scope: Scope, receive: Receive) -> str | None:
        request: Request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        token = request.headers.get(HEADER)
        if not token and request.content_type[0] in FORM_TYPES:
            value = (await request.form()).get(FIELD)
            token = value if isinstance(value, str) else None
        return token

    @staticmethod
    def _setting_cookie(send: Send, cookie: Cookie) -> Send:
        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))
            await send(message)

        return send_with_cookie
