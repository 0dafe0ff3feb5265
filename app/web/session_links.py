"""The reminder's one-tap link: a page about one session with Confirm and Cancel, no sign-in needed.

Opening it changes nothing; the buttons post back with the same token (see services/session_links.py).
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Template

from app.services import session_links
from app.services.errors import StatusChangeRefused
from app.web.htmx import render
from app.web.runtime import actor_of, runtime

TOKEN_LENGTH = 64


class SessionLinkController(Controller):
    path = "/s"

    @get("/{appointment_id:int}/{token:str}", name="session_link")
    async def show(self, request: Request, appointment_id: FromPath[int], token: FromPath[str]) -> Template:
        rt = runtime(request)
        page = await session_links.open_link(
            appointment_id, token[:TOKEN_LENGTH], settings=rt.settings, now=rt.clock.now()
        )
        return await render(request, "links/session.html", {"page": page})

    @post("/{appointment_id:int}/{token:str}/confirm", name="session_link_confirm")
    async def confirm(
        self, request: Request, appointment_id: FromPath[int], token: FromPath[str]
    ) -> Template:
        rt = runtime(request)
        try:
            page = await session_links.confirm(
                appointment_id,
                token[:TOKEN_LENGTH],
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
        except StatusChangeRefused as refused:
            return await self._refused(request, appointment_id, token, refused)
        return await render(
            request, "links/session.html", {"page": page, "done": "Thank you: your session is confirmed."}
        )

    @post("/{appointment_id:int}/{token:str}/cancel", name="session_link_cancel")
    async def cancel(self, request: Request, appointment_id: FromPath[int], token: FromPath[str]) -> Template:
        rt = runtime(request)
        try:
            page = await session_links.cancel(
                appointment_id,
                token[:TOKEN_LENGTH],
                settings=rt.settings,
                now=rt.clock.now(),
                actor=actor_of(request),
                queue=rt.queue,
            )
        except StatusChangeRefused as refused:
            return await self._refused(request, appointment_id, token, refused)
        return await render(
            request,
            "links/session.html",
            {"page": page, "done": "Your session is cancelled. We've emailed you."},
        )

    async def _refused(self, request: Request, appointment_id: int, token: str, refused: StatusChangeRefused):
        rt = runtime(request)
        page = await session_links.open_link(
            appointment_id, token[:TOKEN_LENGTH], settings=rt.settings, now=rt.clock.now()
        )
        return await render(
            request, "links/session.html", {"page": page, "problem": refused.message}, status_code=409
        )
