"""Operational endpoints: health check, the email provider's bounce webhook and, in debug only, the
dev mailbox."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Response, Template

from app.domain.email_events import undeliverable
from app.domain.validation import Form
from app.models.db import engine
from app.models.tables import EmailMessage, TextMessage
from app.services import texts
from app.services.bounces import record_undeliverable
from app.services.email import attachments_of
from app.web.csrf import EMAIL_EVENTS_PATH
from app.web.htmx import render
from app.web.runtime import AppRuntime, Now

log = logging.getLogger(__name__)
FormBody = URLEncodedBody[dict[str, Any]]


@get("/healthz", name="healthz", include_in_schema=False)
async def healthz(rt: AppRuntime) -> Response:
    """200 when the database and Redis answer, 503 otherwise."""
    checks = {"database": False, "redis": False}
    try:
        await engine().run_ddl("SELECT 1")
        checks["database"] = True
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
    try:
        checks["redis"] = bool(await rt.redis.ping())
    except Exception:
        log.warning("health check: redis unreachable", exc_info=True)
    ok = all(checks.values())
    return Response(
        content={"status": "ok" if ok else "unavailable", **checks},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def _webhook_token(request: Request) -> str:
    """The token a provider sends: ``Authorization: Bearer …``, or the password of basic auth (a URL
    like ``https://hook:TOKEN@host/email/events``)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


@post(EMAIL_EVENTS_PATH, name="email_events", include_in_schema=False, status_code=200)
async def email_events(request: Request, rt: AppRuntime, now: Now) -> Response:
    """Bounces and complaints from the email provider (SendGrid, Postmark or Mailgun JSON); a hard
    bounce or a complaint stops email to that address. Off (404) unless EMAIL_WEBHOOK_TOKEN is set."""
    expected = rt.settings.email_webhook_token
    if not expected:
        raise NotFoundException()
    if not hmac.compare_digest(_webhook_token(request).encode(), expected.encode()):
        return Response(content={"error": "Wrong or missing webhook token."}, status_code=401)
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return Response(content={"error": "The body must be JSON."}, status_code=400)
    recorded = await record_undeliverable(undeliverable(payload), now=now)
    return Response(content={"recorded": recorded}, headers={"Cache-Control": "no-store"})


async def _mailbox(request: Request, said: str = "") -> Template:
    messages = await EmailMessage.objects().order_by(EmailMessage.id, ascending=False).limit(100)
    texts_ = await TextMessage.objects().order_by(TextMessage.id, ascending=False).limit(100)
    return await render(request, "dev/mailbox.html", {"messages": messages, "texts": texts_, "said": said})


class DevMailboxController(Controller):
    """Every e-mail the app wrote, newest first; links work. Only exists when DEBUG is on."""

    path = "/dev/mailbox"

    @get("/", name="dev_mailbox")
    async def index(self, request: Request, rt: AppRuntime) -> Template:
        if not rt.settings.debug:
            raise NotFoundException()
        return await _mailbox(request)

    @post("/texts/{text_id:int}/reply", name="dev_mailbox_text_reply")
    async def reply(
        self, request: Request, text_id: FromPath[int], data: FormBody, rt: AppRuntime
    ) -> Template:
        """Answer a text as the client's phone would (STOP, START …): a signed call to the real webhook."""
        if not rt.settings.debug:
            raise NotFoundException()
        body = str(Form.of(data).data.get("body", "")).strip()[:160]
        said = await texts.reply_from_dev_mailbox(text_id, body, settings=rt.settings)
        return await _mailbox(request, said)

    @get("/{message_id:int}", name="dev_mailbox_message")
    async def show(self, request: Request, message_id: FromPath[int], rt: AppRuntime) -> Template:
        if not rt.settings.debug:
            raise NotFoundException()
        message = await EmailMessage.objects().where(EmailMessage.id == message_id).first()
        if message is None:
            raise NotFoundException()
        return await render(
            request, "dev/message.html", {"message": message, "attachments": attachments_of(message)}
        )
