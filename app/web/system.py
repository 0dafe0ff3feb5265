"""Operational endpoints: health check and, in debug only, the dev mailbox."""

from __future__ import annotations

import logging

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Template

from app.models.db import engine
from app.models.tables import EmailMessage
from app.services.email import attachments_of
from app.web.htmx import render
from app.web.runtime import runtime

log = logging.getLogger(__name__)


@get("/healthz", name="healthz", include_in_schema=False)
async def healthz(request: Request) -> Response:
    """200 when the database and Redis answer, 503 otherwise."""
    checks = {"database": False, "redis": False}
    try:
        await engine().run_ddl("SELECT 1")
        checks["database"] = True
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
    try:
        checks["redis"] = bool(await runtime(request).redis.ping())
    except Exception:
        log.warning("health check: redis unreachable", exc_info=True)
    ok = all(checks.values())
    return Response(
        content={"status": "ok" if ok else "unavailable", **checks},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


class DevMailboxController(Controller):
    """Every e-mail the app wrote, newest first; links work. Only exists when DEBUG is on."""

    path = "/dev/mailbox"

    @get("/", name="dev_mailbox")
    async def index(self, request: Request) -> Template:
        if not runtime(request).settings.debug:
            raise NotFoundException()
        messages = await EmailMessage.objects().order_by(EmailMessage.id, ascending=False).limit(100)
        return await render(request, "dev/mailbox.html", {"messages": messages})

    @get("/{message_id:int}", name="dev_mailbox_message")
    async def show(self, request: Request, message_id: FromPath[int]) -> Template:
        if not runtime(request).settings.debug:
            raise NotFoundException()
        message = await EmailMessage.objects().where(EmailMessage.id == message_id).first()
        if message is None:
            raise NotFoundException()
        return await render(
            request, "dev/message.html", {"message": message, "attachments": attachments_of(message)}
        )
