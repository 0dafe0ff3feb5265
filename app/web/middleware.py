"""Request middleware: query-string checks, who is signed in, cross-site request refusal, and security
headers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.domain.validation import text_problem
from app.services import accounts, sessions

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def session_cookie_name(settings: Settings) -> str:
    return "__Host-sw_session" if settings.secure_cookies else "sw_session"


def cookie_value(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == name:
                    return cookie_value
    return None


QUERY_PROBLEMS = "query_problems"


class RequestChecks(ASGIMiddleware):
    """The checks every request passes and the headers every answer carries, in one layer (each
    middleware layer costs a little on every request):

    - query parameters pass the form layer's ``text_problem``: a refused value is dropped before any
      handler reads it, and its message is kept for the page to show next to its field
      (``query_problems``). Bad percent-encoding reads as U+FFFD. A path that fails it names nothing: 404;
    - state-changing requests that a browser says came from another site are refused (OWASP CSRF
      defence, Fetch Metadata);
    - CSP, anti-framing, no sniffing, no referrer leaks; no caching of pages that may show health data."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        fixed = dict(SECURITY_HEADERS)
        if not settings.debug:
            fixed["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        self.fixed = [(name.encode(), value.encode()) for name, value in fixed.items()]
        self.replaced = {name for name, _ in self.fixed}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path = scope.get("path", "")
        if text_problem(path):  # no page or record has such a name
            raise NotFoundException()
        if scope.get("query_string"):
            check_query(scope)
        if scope.get("method", "GET") not in SAFE_METHODS:
            headers = dict(scope.get("headers", []))
            if headers.get(b"sec-fetch-site", b"") == b"cross-site":
                raise PermissionDeniedException("Cross-site request refused.")
        is_static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.answer_headers(message.get("headers", []), is_static)
            await send(message)

        await next_app(scope, receive, send_with_headers)

    def answer_headers(self, headers, is_static: bool) -> list[tuple[bytes, bytes]]:
        """``headers`` with ours set: a page's own CSP (the card form's) and a static file's own
        Cache-Control are kept; everything else of ours replaces what was there."""
        kept, has_csp, cache = [], False, STATIC_CACHE
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-security-policy":
                has_csp = True
            elif lower == b"cache-control":
                cache = value
                continue
            elif lower in self.replaced:
                continue
            kept.append((name, value))
        kept.extend(self.fixed)
        if not has_csp:
            kept.append((b"content-security-policy", CSP_BYTES))
        kept.append((b"cache-control", cache if is_static else NO_STORE))
        return kept


def check_query(scope: Scope) -> None:
    """Drop refused query parameters from ``scope`` and keep their messages (``query_problems``)."""
    pairs = parse_qsl(
        scope["query_string"].decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"
    )
    problems = {}
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem:
            problems.setdefault(name, problem)
    if problems:
        kept = [(name, value) for name, value in pairs if name not in problems]
        scope["query_string"] = urlencode(kept).encode("ascii")
        scope.setdefault("state", {})[QUERY_PROBLEMS] = problems


def query_problems(connection) -> dict[str, str]:
    """Messages for the query parameters ``RequestChecks`` refused, keyed by parameter name."""
    return dict(connection.scope.get("state", {}).get(QUERY_PROBLEMS, {}))


BACKGROUND_REFRESH = b"x-background-refresh"


def is_background_refresh(scope: Scope) -> bool:
    """A page refreshing itself (the calendar waiting for check-ins), not the person doing something:
    it must not keep an idle session alive."""
    return (BACKGROUND_REFRESH, b"1") in scope.get("headers", [])


class SessionMiddleware(ASGIMiddleware):
    """Loads the server-side session and the signed-in user into ``scope['auth']`` / ``scope['user']``.

    Redis is reached before any handler runs (the session, or a ping when there is none), so a Redis
    outage refuses the request whole (503, see ``errors.on_unavailable``) instead of half-applying it.
    The user comes from the session's cache while nothing they depend on changed (one Redis round trip,
    no query); people a use case says changed (``sessions.person_changed``) have their sessions'
    stamps moved on as the response starts, after the use case committed and before the browser can
    ask again. ``/healthz`` and ``/metrics`` are left alone: they report the outage themselves."""

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:
        path = scope.get("path", "")
        return path.startswith("/static/") or path in {"/healthz", "/metrics"}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        runtime = scope["litestar_app"].state.runtime
        scope["user"] = None
        scope["auth"] = None
        token = cookie_value(scope, session_cookie_name(runtime.settings))
        if not token:
            await runtime.redis.ping()
        lookup = await runtime.sessions.resolve(token, touch=not is_background_refresh(scope))
        if lookup.expired is not None:
            await accounts.record_session_end(
                lookup.expired.user_id, f"timeout_{lookup.reason}", now=runtime.clock.now()
            )
        session = lookup.live
        if session is not None:
            user = lookup.user
            if user is None:
                user = await accounts.current_user(session.user_id, session.practice_id, session.clinician_id)
                if user is not None:
                    await runtime.sessions.keep_user(session, user, lookup.stamp)
            if user is None:
                await runtime.sessions.destroy_key(session.user_id, session.key)
            else:
                scope["user"] = user
                scope["auth"] = session

        with sessions.noting_changes() as changed:

            async def send_after_bumps(message: Message) -> None:
                if message["type"] == "http.response.start" and changed:
                    await runtime.sessions.bump(changed)
                    changed.clear()
                await send(message)

            await next_app(scope, receive, send_after_bumps)


def content_security_policy(*, script: str = "", frame: str = "", connect: str = "") -> str:
    """Our strict policy; a page that needs another origin (the card form) names it here."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self'{script}",
            "style-src 'self'",
            # Calendar cells are placed with style attributes (top/height); no inline <style> or script.
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self'{connect}",
            *([f"frame-src{frame}"] if frame else []),
            "form-action 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


CSP = content_security_policy()
CSP_BYTES = CSP.encode()
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}
NO_STORE = b"no-store"
STATIC_CACHE = b"public, max-age=86400"


def stripe_card_csp(settings: Settings) -> str:
    """The card page's policy: Stripe.js, its frames and Stripe's API (a local stand-in in tests)."""
    script = origin(settings.stripe_js_url)
    api = origin(settings.stripe_api_base) if settings.stripe_api_base else "https://api.stripe.com"
    return content_security_policy(
        script=f" {script}", frame=f" {script} https://hooks.stripe.com", connect=f" {api}"
    )


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class AnswerHead:
    """Answers HEAD wherever GET works (uptime monitors use it): the GET handler runs, its status and
    headers are sent as they are (Content-Length included), and the body is left out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}  # a copy: the server still knows it is answering HEAD

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(as_get, receive, send_without_body)
