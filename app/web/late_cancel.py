"""The client's late-cancel screen in the portal (R4): the exact fee before they confirm, and a
same-week move without a fee when the practice allows it. The rules live in app/services/late_cancel.py."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from app.domain.practice import format_money
from app.services import late_cancel
from app.services.errors import StatusChangeRefused
from app.web.booking import parse_slot
from app.web.guards import client_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import Context, Now, User

FormBody = URLEncodedBody[dict[str, Any]]


class LateCancelController(Controller):
    path = "/portal/sessions"
    guards = [client_only]

    @get("/{appointment_id:int}/late-cancel", name="portal_late_cancel")
    async def show(self, request: Request, appointment_id: FromPath[int], user: User, now: Now) -> Template:
        try:
            late = await late_cancel.preview(user.id, appointment_id, now=now)
        except LookupError:
            raise NotFoundException() from None
        return await render(request, "portal/late_cancel.html", {"late": late, "zone": user.time_zone})

    @post("/{appointment_id:int}/late-cancel", name="portal_late_cancel_confirm")
    async def confirm(self, request: Request, appointment_id: FromPath[int], user: User, ctx: Context) -> Any:
        try:
            late = await late_cancel.preview(user.id, appointment_id, now=ctx.now)
            await late_cancel.late_cancel(user.id, appointment_id, **ctx.sending)
        except LookupError:
            raise NotFoundException() from None
        except StatusChangeRefused as refused:
            await flash(request, str(refused))
            return redirect(request, "/portal")
        fee = format_money(late.fee_minor, late.practice.currency)
        await flash(
            request, f"Cancelled. A late-cancel fee of {fee} is due." if late.fee_minor else "Cancelled."
        )
        return redirect(request, "/portal")

    @post("/{appointment_id:int}/move", name="portal_free_move")
    async def move(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        starts_at = parse_slot(str(data.get("slot", "")))
        try:
            await late_cancel.move_free(user.id, appointment_id, starts_at, **ctx.sending)
        except LookupError:
            raise NotFoundException() from None
        except StatusChangeRefused as refused:
            await flash(request, str(refused))
            return redirect(request, f"/portal/sessions/{appointment_id}/late-cancel")
        local = starts_at.astimezone(ZoneInfo(user.time_zone))
        await flash(request, f"Moved to {local:%A %-d %B, %H:%M}, with no fee.")
        return redirect(request, "/portal")
