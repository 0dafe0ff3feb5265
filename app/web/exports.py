"""Downloads of a client's records: by the client from the portal, by their clinician from the client."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Response

from app.services import exports
from app.web.guards import client_only, clinician_only
from app.web.runtime import actor_of, current_user, runtime


def _download(export: exports.Export) -> Response:
    return Response(
        content=export.content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@get("/portal/export", guards=[client_only], name="portal_export")
async def portal_export(request: Request) -> Response:
    rt = runtime(request)
    user = current_user(request)
    export = await exports.for_client_user(
        user.id, user.time_zone, now=rt.clock.now(), actor=actor_of(request)
    )
    return _download(export)


@get("/clients/{client_id:int}/export", guards=[clinician_only], name="client_export")
async def client_export(request: Request, client_id: FromPath[int]) -> Response:
    rt = runtime(request)
    export = await exports.for_clinician(
        current_user(request).clinician_id, client_id, now=rt.clock.now(), actor=actor_of(request)
    )
    return _download(export)
