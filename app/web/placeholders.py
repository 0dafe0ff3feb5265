"""The client's landing page until the portal area replaces it."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from app.web.guards import client_only
from app.web.htmx import render


@get("/portal", guards=[client_only], name="portal")
async def portal(request: Request) -> Template:
    return await render(request, "portal/index.html", {})
