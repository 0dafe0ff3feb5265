"""Landing page for clinicians until the calendar area replaces it."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from app.web.guards import clinician_only
from app.web.htmx import render


@get("/calendar", guards=[clinician_only], name="calendar")
async def calendar(request: Request) -> Template:
    return await render(request, "calendar/index.html", {})
