"""Landing pages for each role until the calendar and portal areas replace them."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from app.web.guards import client_only, clinician_only
from app.web.htmx import render


@get("/calendar", guards=[clinician_only], name="calendar")
async def calendar(request: Request) -> Template:
    return await render(request, "calendar/index.html", {})


@get("/portal", guards=[client_only], name="portal")
async def portal(request: Request) -> Template:
    return await render(request, "portal/index.html", {})
