"""Rendering helpers: one URL answers a full page, or only its fragment when htmx asks."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request
from litestar.background_tasks import BackgroundTask
from litestar.response import Redirect, Response, Template

from app.web.runtime import current_session, current_user


def wants_fragment(request: Request) -> bool:
    """True for htmx swaps; False for normal loads, boosted links and history restores."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


async def render(
    request: Request,
    page: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Template:
    """Render ``page`` (a full document) or, for an htmx request, ``fragment`` (a ``_name.html`` file).

    ``background`` runs after the response has been sent."""
    template = fragment if fragment and wants_fragment(request) else page
    merged = {"user": current_user(request), **(context or {})}
    session = current_session(request)
    if session is not None and session.flashes and template == page:
        merged["flashes"] = session.flashes[:]
        session.flashes.clear()
        await request.app.state.runtime.sessions.save(session)
    response_headers = {"Vary": "HX-Request", **(headers or {})}
    return Template(
        template_name=template,
        context=merged,
        status_code=status_code,
        headers=response_headers,
        media_type=MediaType.HTML,
        background=background,
    )


def redirect(request: Request, to: str) -> Response:
    """Go to ``to``: a 303 for normal requests, ``HX-Redirect`` for htmx (never a swapped login page)."""
    if request.headers.get("hx-request") == "true":
        return Response(content="", status_code=200, headers={"HX-Redirect": to})
    return Redirect(path=to, status_code=303)


async def flash(request: Request, message: str) -> None:
    """Show ``message`` once on the next full page this person sees."""
    session = current_session(request)
    if session is None:
        return
    session.flashes.append(message)
    await request.app.state.runtime.sessions.save(session)
