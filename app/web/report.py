"""The appointments report page (R8) and its CSV export.

Filters live in the query string: a report is a bookmarkable URL. htmx swaps ``#report`` and pushes
the canonical URL of the filters it applied, so the back button steps through earlier reports.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Response, Stream, Template
from markupsafe import Markup, escape

from app.domain.report import BILLING_TYPES, PRESETS, SORTS, STATUS_ORDER, Chart
from app.domain.statuses import AppointmentStatus, ChargeKind
from app.services import report
from app.web.guards import clinician_only
from app.web.htmx import redirect, render, wants_fragment
from app.web.runtime import Context, Now, User

CSV_BOM = "\ufeff"  # lets spreadsheet programs read the file as UTF-8 (accents in client names)


def chart_bars(chart: Chart) -> Markup:
    """The chart's SVG bars, a ``<g>`` per week (the ``chart_bars`` template filter). Built here, not
    in the template: a year is 53 weeks of up to five segments, and the template's attribute lookups
    and escapes for them cost more than the rest of the report page."""
    text_y = chart.text_y
    rows = []
    for row in chart.rows:
        bars = []
        for s in row.segments:
            bars.append(
                f'<rect class="bar-{escape(s.status)}" x="{s.x}" y="{chart.bar_y}" width="{s.width}" '
                f'height="{chart.bar_height}"><title>{escape(s.title)}</title></rect>'
            )
            if s.show_count:
                bars.append(
                    f'<text class="chart-count" x="{s.middle}" y="{text_y}" text-anchor="middle">'
                    f"{s.count}</text>"
                )
        rows.append(
            f'\n    <g transform="translate(0 {row.y})"><text class="chart-week" x="0" y="{text_y}">'
            f"{escape(row.label)}</text>{''.join(bars)}"
            f'<text class="chart-total" x="{chart.width}" y="{text_y}" text-anchor="end">'
            f"{row.total}</text></g>"
        )
    return Markup("".join(rows))  # noqa: S704 - every text above is escaped


def _query(request: Request) -> dict[str, list[str]]:
    return request.query_params.dict()


class ReportController(Controller):
    path = "/"
    guards = [clinician_only]

    @get("/report", name="report")
    async def page(self, request: Request, user: User, now: Now) -> Template:
        view = await report.report_page(_query(request), clinician_id=user.clinician_id, now=now, member=user)
        query = view.filters.query() if not view.errors else request.url.query
        url = f"/report?{query}" if query else "/report"
        context = {
            "view": view,
            "filters": view.filters,
            "errors": view.errors,
            "report": view.report,
            "presets": list(PRESETS.items()),
            "statuses": [(status.value, status.label) for status in STATUS_ORDER],
            "billing_types": [("", "All"), *BILLING_TYPES.items()],
            "client_options": [("", "All clients")] + [(str(cid), name) for cid, name in view.clients],
            "clinician_options": [("", "All clinicians")]
            + [(str(cid), name) for cid, name in view.practice.clinicians],
            "sorts": list(SORTS.items()),
            "status_labels": {status.value: status.label for status in AppointmentStatus},
            "charge_kinds": [(kind.value, kind.label) for kind in ChargeKind],
            "export_url": "/report.csv" + (f"?{view.filters.query(page=1)}" if not view.errors else ""),
        }
        headers = {"HX-Push-Url": url} if wants_fragment(request) else {}
        return await render(
            request, "report/index.html", context, fragment="report/_report.html", headers=headers
        )

    @get("/report.csv", name="report_csv")
    async def export(self, request: Request, user: User, ctx: Context) -> Response:
        practice, parsed = await report.start_export(
            _query(request), clinician_id=user.clinician_id, member=user, **ctx.acting
        )
        if not parsed.ok:
            return redirect(request, f"/report?{request.url.query}")

        async def content():
            yield CSV_BOM
            async for text in report.csv_lines(parsed.filters, practice):
                yield text

        return Stream(
            content,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{report.export_file_name(parsed.filters)}"',
            },
        )
