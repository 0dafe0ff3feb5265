"""Downloads of a client's records: by the client from the portal, by their clinician from the client."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath
from litestar.response import Response

from app.services import exports
from app.web.guards import client_only, clinician_only
from app.web.runtime import Context, User


def _download(export: exports.Export) -> Response:
    return Response(
        content=export.content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@get("/portal/export", guards=[client_only], name="portal_export")
async def portal_export(user: User, ctx: Context) -> Response:
    return _download(await exports.for_client_user(user.id, user.time_zone, **ctx.acting))


@get("/clients/{client_id:int}/export", guards=[clinician_only], name="client_export")
async def client_export(client_id: FromPath[int], user: User, ctx: Context) -> Response:
    return _download(await exports.for_clinician(user.clinician_id, client_id, **ctx.acting))
