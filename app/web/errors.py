"""HTML error pages (no tracebacks, ever) and the sign-in redirect for unauthenticated requests."""

from __future__ import annotations

import logging
from urllib.parse import quote

from litestar import MediaType, Request
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.response import Response, Template
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.domain.validation import record_id
from app.services.errors import NotAllowed, NotFound
from app.web.guards import ENROL_URL, TwoFactorEnrolmentRequired
from app.web.htmx import redirect

log = logging.getLogger("stillwater.web")

MESSAGES = {
    400: (
        "That request didn't make sense",
        "Something in the address or form wasn't valid. Go back and try again.",
    ),
    403: ("Not allowed", "You don't have access to that page."),
    404: ("Not found", "We couldn't find that page. It may have moved, or the link may be wrong."),
    405: ("Not allowed", "That action isn't available here."),
    429: ("Slow down", "Too many requests. Wait a minute and try again."),
    500: ("Something went wrong", "We've been notified. Your data is safe; try again in a moment."),
    503: (
        "Temporarily unavailable",
        "Temporarily unavailable — nothing was lost. Stillwater can't reach one of its services right "
        "now, so this request was not carried out. Try again in a minute.",
    ),
}
FLASH_AREA = "#flashes"


def error_page(
    request: Request, status_code: int, detail: str | None = None, headers: dict[str, str] | None = None
) -> Template:
    title, message = MESSAGES.get(status_code, MESSAGES[400 if status_code < 500 else 500])
    user = request.scope.get("user")
    return Template(
        template_name="errors/error.html",
        context={"status_code": status_code, "title": title, "message": detail or message, "user": user},
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
        media_type=MediaType.HTML,
    )


async def reject_impossible_ids(request: Request) -> None:
    """``before_request`` hook: an integer in the path that can't be a record id is not found.

    Async on purpose: Litestar runs a sync hook in a worker thread, a thread hop on every request."""
    for value in request.path_params.values():
        if isinstance(value, int) and record_id(value) is None:
            raise NotFoundException()


def on_not_authorized(request: Request, exc: NotAuthorizedException) -> Response:
    next_path = request.url.path
    if request.url.query:
        next_path += "?" + request.url.query
    target = "/login" if next_path in ("/", "/logout") else f"/login?next={quote(next_path, safe='')}"
    return redirect(request, target)


def on_enrolment_required(request: Request, exc: TwoFactorEnrolmentRequired) -> Response:
    return redirect(request, ENROL_URL)


def on_forbidden(request: Request, exc: PermissionDeniedException) -> Template:
    detail = (
        "Your form expired or came from another site. Reload the page and try again."
        if "CSRF" in str(exc.detail) or "Cross-site" in str(exc.detail)
        else None
    )
    return error_page(request, 403, detail)


def on_not_allowed(request: Request, exc: NotAllowed) -> Template:
    return error_page(request, 403, exc.message)


def on_not_found(request: Request, exc: NotFoundException | NotFound) -> Template:
    return error_page(request, 404)


def on_validation(request: Request, exc: ValidationException) -> Template:
    return error_page(request, 400)


def on_too_many(request: Request, exc: TooManyRequestsException) -> Template:
    return error_page(request, 429)


def on_http_error(request: Request, exc: HTTPException) -> Template:
    return error_page(request, exc.status_code)


def on_unavailable(request: Request, exc: Exception) -> Response:
    """Redis (sessions, throttles) did not answer: a 503 that says so, raised before anything was saved.

    A person gets the error page; an htmx request gets one line put into the page's flash area."""
    log.warning("redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    headers = {"Retry-After": "30"}
    if request.headers.get("hx-request") == "true":
        return Response(
            content=f'<p class="flash flash-error">{MESSAGES[503][1]}</p>',
            status_code=503,
            media_type=MediaType.HTML,
            headers={
                **headers,
                "Cache-Control": "no-store",
                "HX-Retarget": FLASH_AREA,
                "HX-Reswap": "innerHTML",
            },
        )
    return error_page(request, 503, headers=headers)


def on_server_error(request: Request, exc: Exception) -> Template:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500)


EXCEPTION_HANDLERS = {
    TwoFactorEnrolmentRequired: on_enrolment_required,
    NotAuthorizedException: on_not_authorized,
    PermissionDeniedException: on_forbidden,
    NotFoundException: on_not_found,
    NotAllowed: on_not_allowed,  # a practice member's role doesn't allow it
    NotFound: on_not_found,  # any use case's "no such record for you": one 404 for all of them
    ValidationException: on_validation,
    TooManyRequestsException: on_too_many,
    HTTPException: on_http_error,
    RedisConnectionError: on_unavailable,
    RedisTimeoutError: on_unavailable,
    Exception: on_server_error,
}
