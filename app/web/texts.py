"""The text provider's webhook for clients' replies (STOP / START), signed like Twilio's."""

from __future__ import annotations

from litestar import Request, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Response

from app.domain.texts import signed_by
from app.services import texts
from app.web.csrf import TEXT_REPLIES_PATH
from app.web.runtime import AppRuntime, Now

EMPTY_REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@post(TEXT_REPLIES_PATH, name="text_replies", include_in_schema=False, status_code=200)
async def text_replies(request: Request, rt: AppRuntime, now: Now) -> Response:
    """Twilio posts each reply here; a request without a valid X-Twilio-Signature is refused (and without
    an auth token configured there is no webhook: 404)."""
    if not rt.settings.text_auth_token:
        raise NotFoundException()
    params = {key: str(value)[:1600] for key, value in (await request.form()).items()}
    url = f"{rt.settings.base_url}{TEXT_REPLIES_PATH}"
    if not signed_by(rt.settings.text_auth_token, url, params, request.headers.get("x-twilio-signature", "")):
        raise PermissionDeniedException("Bad signature.")
    await texts.reply(params.get("From", ""), params.get("Body", ""), now=now)
    return Response(content=EMPTY_REPLY, media_type="text/xml")
