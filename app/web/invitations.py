"""The invitation link: choose a password, get signed in, land in the portal (R2).

A dead link offers "email me a new link", which answers the same way for every address.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from app.domain.accounts import password_problem
from app.domain.validation import Form
from app.services import invitations
from app.services.account_tokens import LinkState, Purpose, check
from app.web.auth import start_session
from app.web.htmx import render
from app.web.runtime import actor_of, runtime

FormBody = URLEncodedBody[dict[str, Any]]


class InvitationsController(Controller):
    path = "/invite"

    @get("/new", name="invitation_new_link")
    async def new_link_page(self, request: Request) -> Template:
        return await render(request, "invitations/new_link.html", {"values": {}})

    @post("/new")
    async def new_link(self, request: Request, data: FormBody) -> Template:
        form = Form.of(data)
        address = form.email()
        if not form.ok:
            return await render(
                request, "invitations/new_link.html", {"errors": form.errors, "values": form.data}
            )
        rt = runtime(request)
        # After the page is sent: how long the answer takes must not tell whether the address has an
        # account (a known one costs a token, an email and a job; an unknown one almost nothing).
        work = BackgroundTask(
            invitations.request_new_link,
            address,
            redis=rt.redis,
            settings=rt.settings,
            now=rt.clock.now(),
            actor=actor_of(request),
            queue=rt.queue,
        )
        return await render(
            request, "auth/check_email.html", {"email": address, "what": "link"}, background=work
        )

    @get("/{token:str}", name="invitation")
    async def show(self, request: Request, token: FromPath[str]) -> Template:
        page = await invitations.open_invitation(token, now=runtime(request).clock.now())
        return await render(request, "invitations/accept.html", {"page": page, "token": token})

    @post("/{token:str}")
    async def accept(self, request: Request, token: FromPath[str], data: FormBody) -> Any:
        rt = runtime(request)
        now = rt.clock.now()
        form = Form.of(data)
        password = form.data.get("password", "")
        link = await check(token, Purpose.INVITATION, now)
        if link.state == LinkState.VALID:
            page = await invitations.open_invitation(token, now=now)
            problem = password_problem(password, email=page.email, name=page.name)
            if problem:
                form.error("password", problem)
            elif password != form.data.get("password_confirm", ""):
                form.error("password_confirm", "The two passwords don't match.")
            if not form.ok:
                return await render(
                    request,
                    "invitations/accept.html",
                    {"page": page, "token": token, "errors": form.errors},
                )
            user = await invitations.accept_invitation(
                token, password, now=now, actor=actor_of(request), settings=rt.settings
            )
            if user is not None:
                return await start_session(request, user, "/portal?welcome=1")
            link = await check(token, Purpose.INVITATION, now)
        state = LinkState.USED if link.state == LinkState.VALID else link.state
        return await render(
            request, "invitations/accept.html", {"page": invitations.InvitationPage(state), "token": token}
        )
