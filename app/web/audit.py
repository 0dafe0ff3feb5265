"""The audit trail page for clinicians (``/audit``) and its CSV export (``/audit/export``)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Response, Template

from app.domain.validation import record_id, year_problem
from app.services import audit_trail
from app.services.audit_trail import TrailFilters
from app.web.guards import clinician_only
from app.web.htmx import render
from app.web.middleware import query_problems
from app.web.runtime import Context, User

FILTER_NAMES = ("client", "person", "action", "from", "to")


def parse_filters(query: dict[str, str]) -> tuple[TrailFilters, dict[str, str]]:
    """Filters from the query string; a bad value is reported next to its field and ignored."""
    errors: dict[str, str] = {}

    def number(name: str) -> int | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        if record_id(raw) is None:
            errors[name] = "Choose from the list."
        return record_id(raw)

    def day(name: str, label: str) -> date | None:
        raw = query.get(name, "").strip()
        if not raw:
            return None
        try:
            found = date.fromisoformat(raw)
        except ValueError:
            errors[name] = f"{label} must be a date like 2026-11-30."
            return None
        problem = year_problem(found.year, label)
        if problem:
            errors[name] = problem
            return None
        return found

    filters = TrailFilters(
        client_id=number("client"),
        person_id=number("person"),
        action=query.get("action", "").strip()[:64],
        date_from=day("from", "From"),
        date_to=day("to", "To"),
    )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        errors["to"] = "To must be on or after From."
    return filters, errors


def _query(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name) or "" for name in (*FILTER_NAMES, "page")}


class AuditController(Controller):
    path = "/audit"
    guards = [clinician_only]

    @get("/", name="audit")
    async def trail(self, request: Request, user: User, ctx: Context) -> Template:
        query = _query(request)
        filters, errors = parse_filters(query)
        errors = {**query_problems(request), **errors}
        page_raw = query.get("page", "")
        page = record_id(page_raw) or 1
        trail = await audit_trail.read(user, filters, page, **ctx.acting)
        kept = {name: query[name] for name in FILTER_NAMES if query[name]}
        return await render(
            request,
            "audit/index.html",
            {
                "trail": trail,
                "choices": await audit_trail.choices(user),
                "values": query,
                "errors": errors,
                "filter_query": urlencode(kept),
                "page_link": lambda n: "/audit?" + urlencode({**kept, "page": n}),
            },
            fragment="audit/_results.html",
        )

    @get("/export", name="audit_export")
    async def export(self, request: Request, user: User, ctx: Context) -> Response:
        filters, _ = parse_filters(_query(request))
        text = await audit_trail.export_csv(user, filters, **ctx.acting)
        stamp = ctx.now.strftime("%Y-%m-%d")
        return Response(
            content=text.encode("utf-8"),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="audit-trail-{stamp}.csv"'},
        )
