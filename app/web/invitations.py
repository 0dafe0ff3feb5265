"""The invitation link: choose a password, get signed in, land in the portal (R2).

A dead link offers "email me a new link", which answers the same way for every address.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from app.domain.validation import Form
from app.services import invitations
from app.services.account_tokens import LinkState, Purpose, check
from app.web.auth import new_password, start_session
from app.web.fees import agreed_fee_version
from app.web.htmx import render
from app.web.runtime import AppRuntime, Context, Now

FormBody = URLEncodedBody[dict[str, Any]]


class InvitationsController(Controller):
    path = "/invite"

    @get("/new", name="invitation_new_link")
    async def new_link_page(self, request: Request) -> Template:
        return await render(request, "invitations/new_link.html", {"values": {}})

    @post("/new")
    async def new_link(self, request: Request, data: FormBody, rt: AppRuntime, ctx: Context) -> Template:
        form = Form.of(data)
        address = form.email()
        if not form.ok:
            return await render(
                request, "invitations/new_link.html", {"errors": form.errors, "values": form.data}
            )
        # After the page is sent: how long the answer takes must not tell whether the address has an
        # account (a known one costs a token, an email and a job; an unknown one almost nothing).
        work = BackgroundTask(invitations.request_new_link, address, redis=rt.redis, **ctx.sending)
        return await render(
            request, "auth/check_email.html", {"email": address, "what": "link"}, background=work
        )

    @get("/{token:str}", name="invitation")
    async def show(self, request: Request, token: FromPath[str], now: Now) -> Template:
        page = await invitations.open_invitation(token, now=now)
        return await render(request, "invitations/accept.html", {"page": page, "token": token})

    @post("/{token:str}")
    async def accept(
        self, request: Request, token: FromPath[str], data: FormBody, rt: AppRuntime, ctx: Context
    ) -> Any:
        form = Form.of(data)
        link = await check(token, Purpose.INVITATION, ctx.now)
        if link.state == LinkState.VALID:
            page = await invitations.open_invitation(token, now=ctx.now)
            password = new_password(form, email=page.email, name=page.name)
            fee_version = agreed_fee_version(form, page.fee_words)
            if not form.ok:
                return await render(
                    request,
                    "invitations/accept.html",
                    {"page": page, "token": token, "errors": form.errors, "values": form.data},
                )
            user = await invitations.accept_invitation(
                token, password, settings=rt.settings, fee_version=fee_version, **ctx.acting
            )
            if user is not None:
                return await start_session(request, rt, user, "/portal?welcome=1")
            link = await check(token, Purpose.INVITATION, ctx.now)
        state = LinkState.USED if link.state == LinkState.VALID else link.state
        return await render(
            request, "invitations/accept.html", {"page": invitations.InvitationPage(state), "token": token}
        )
