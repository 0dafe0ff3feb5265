"""The reminder's one-tap link: a page about one session with Confirm, Cancel and the week's open times
to move to, no sign-in needed.

Opening it changes nothing; the buttons post back with the same token (see services/session_links.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template

from app.domain.practice import format_money
from app.domain.validation import Form
from app.services import session_links
from app.services.appointments import BookingProblem
from app.services.errors import StatusChangeRefused
from app.web.booking import SLOT_FORMAT, parse_slot
from app.web.htmx import redirect, render
from app.web.runtime import Context, RequestContext

FormBody = URLEncodedBody[dict[str, Any]]

TOKEN_LENGTH = 64


class SessionLinkController(Controller):
    path = "/s"

    @get("/{appointment_id:int}/{token:str}", name="session_link")
    async def show(
        self,
        request: Request,
        appointment_id: FromPath[int],
        token: FromPath[str],
        ctx: Context,
        moved: FromQuery[str | None] = None,
    ) -> Template:
        page = await _opened(appointment_id, token, ctx)
        done = "Your session is moved to this time. We've emailed you." if moved else None
        return await self._page(request, page, ctx, done=done)

    @post("/{appointment_id:int}/{token:str}/move", name="session_link_move")
    async def move(
        self,
        request: Request,
        appointment_id: FromPath[int],
        token: FromPath[str],
        data: FormBody,
        ctx: Context,
    ) -> Response | Template:
        starts_at = parse_slot(Form.of(data).data.get("slot", ""))
        try:
            if starts_at is None:
                raise StatusChangeRefused("Choose one of the times shown.")
            new_link = await session_links.move(
                appointment_id, token[:TOKEN_LENGTH], starts_at, **ctx.sending
            )
        except (StatusChangeRefused, BookingProblem) as refused:
            return await self._refused(request, appointment_id, token, ctx, refused)
        return redirect(request, f"{new_link.removeprefix(ctx.settings.base_url)}?moved=1")

    async def _page(
        self, request: Request, page, ctx: RequestContext, *, status_code: int = 200, **extra
    ) -> Template:
        times = await session_links.open_times(page, now=ctx.now)
        choices = [(t.strftime(SLOT_FORMAT), t) for t in times]
        late = await session_links.late_offer(page, now=ctx.now)
        context = {"page": page, "times": choices, "late": late, **extra}
        return await render(request, "links/session.html", context, status_code=status_code)

    @post("/{appointment_id:int}/{token:str}/confirm", name="session_link_confirm")
    async def confirm(
        self, request: Request, appointment_id: FromPath[int], token: FromPath[str], ctx: Context
    ) -> Template:
        try:
            page = await session_links.confirm(
                appointment_id, token[:TOKEN_LENGTH], settings=ctx.settings, **ctx.acting
            )
        except StatusChangeRefused as refused:
            return await self._refused(request, appointment_id, token, ctx, refused)
        return await self._page(request, page, ctx, done="Thank you: your session is confirmed.")

    @post("/{appointment_id:int}/{token:str}/check-in", name="session_link_check_in")
    async def check_in(
        self,
        request: Request,
        appointment_id: FromPath[int],
        token: FromPath[str],
        data: FormBody,
        ctx: Context,
    ) -> Response | Template:
        try:
            page = await session_links.check_in(
                appointment_id, token[:TOKEN_LENGTH], settings=ctx.settings, **ctx.acting
            )
        except StatusChangeRefused as refused:
            return await self._refused(request, appointment_id, token, ctx, refused)
        if Form.of(data).data.get("how") == "join" and page.video_link:
            return Redirect(path=page.video_link, status_code=303)
        return await self._page(
            request, page, ctx, done="Thank you: you're checked in. Your clinician can see it."
        )

    @post("/{appointment_id:int}/{token:str}/cancel", name="session_link_cancel")
    async def cancel(
        self, request: Request, appointment_id: FromPath[int], token: FromPath[str], ctx: Context
    ) -> Template:
        late = await session_links.late_offer(await _opened(appointment_id, token, ctx), now=ctx.now)
        try:
            page = await session_links.cancel(appointment_id, token[:TOKEN_LENGTH], **ctx.sending)
        except StatusChangeRefused as refused:
            return await self._refused(request, appointment_id, token, ctx, refused)
        done = "Your session is cancelled. We've emailed you."
        if late and late.fee_minor:
            done += f" A late-cancel fee of {format_money(late.fee_minor, late.practice.currency)} is due."
        return await self._page(request, page, ctx, done=done)

    async def _refused(
        self, request: Request, appointment_id: int, token: str, ctx: RequestContext, refused
    ) -> Template:
        page = await _opened(appointment_id, token, ctx)
        return await self._page(request, page, ctx, problem=refused.message, status_code=409)


async def _opened(appointment_id: int, token: str, ctx: RequestContext):
    """The session behind the link as it is now (404 for a wrong or outdated token)."""
    return await session_links.open_link(
        appointment_id, token[:TOKEN_LENGTH], settings=ctx.settings, now=ctx.now
    )
