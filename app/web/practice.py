"""The practice (R11): its members page for the owner (invite, where each invitation stands, resend,
remove), the practice switcher for someone in several practices, the front desk's home, and the join
link an invited member opens. What each role may do is decided in the services."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from app.domain.members import INVITABLE_ROLES, FutureSessions, MemberRole, RemovalPlan
from app.domain.validation import Form, record_id
from app.services import members, practices
from app.services.account_tokens import LinkState
from app.services.errors import PracticeNotFound
from app.web.auth import home_for, start_session
from app.web.guards import member_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import actor_of, current_session, current_user, runtime

FormBody = URLEncodedBody[dict[str, Any]]
ROLE_CHOICES = [(role.value, role.label) for role in INVITABLE_ROLES]


class PracticeController(Controller):
    path = "/practice"
    guards = [member_only]

    async def _members_page(
        self, request: Request, *, errors=None, values=None, status_code: int = 200
    ) -> Template:
        user = current_user(request)
        return await render(
            request,
            "practice/members.html",
            {
                "members": await members.list_members(user, now=runtime(request).clock.now()),
                "roles": ROLE_CHOICES,
                "errors": errors or {},
                "values": values or {"role": MemberRole.CLINICIAN.value},
            },
            status_code=status_code,
        )

    @get("/", name="practice")
    async def home(self, request: Request) -> Template:
        """Where a member without a clinician seat (the front desk) lands: the practice's clinicians."""
        user = current_user(request)
        colleagues = await practices.clinicians_of(user.practice_id)
        return await render(request, "practice/home.html", {"colleagues": colleagues})

    @get("/members", name="practice_members")
    async def members_page(self, request: Request) -> Template:
        return await self._members_page(request)

    @post("/members")
    async def invite(self, request: Request, data: FormBody) -> Any:
        rt, form = runtime(request), Form.of(data)
        new = members.NewMember(
            name=form.name("name", label="Name"),
            email=form.email(),
            role=form.choice("role", [value for value, _ in ROLE_CHOICES], label="Role"),
        )
        if form.ok:
            try:
                await members.invite_member(
                    current_user(request),
                    new,
                    now=rt.clock.now(),
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except members.MemberError as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, f"Invitation sent to {new.email}.")
                return redirect(request, "/practice/members")
        return await self._members_page(request, errors=form.errors, values=form.data, status_code=400)

    @post("/members/{membership_id:int}/resend")
    async def resend(self, request: Request, membership_id: FromPath[int]) -> Any:
        rt = runtime(request)
        try:
            await members.resend_invitation(
                current_user(request),
                membership_id,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except members.MemberError as problem:
            await flash(request, problem.message)
        else:
            await flash(request, "A new invitation is on its way; the earlier link no longer works.")
        return redirect(request, "/practice/members")

    async def _removal_page(
        self, request: Request, membership_id: int, *, errors=None, status_code=200
    ) -> Template:
        user = current_user(request)
        member = next(
            (
                m
                for m in await members.list_members(user, now=runtime(request).clock.now())
                if m.membership_id == membership_id and m.can_remove
            ),
            None,
        )
        if member is None:
            raise PracticeNotFound(membership_id)
        future = (
            await members.future_sessions_of(member.clinician_id, now=runtime(request).clock.now())
            if member.clinician_id
            else []
        )
        colleagues = [
            c
            for c in await practices.clinicians_of(user.practice_id)
            if c.clinician_id != member.clinician_id
        ]
        return await render(
            request,
            "practice/remove.html",
            {"member": member, "future_count": len(future), "colleagues": colleagues, "errors": errors or {}},
            status_code=status_code,
        )

    @get("/members/{membership_id:int}/remove", name="practice_member_remove")
    async def removal_page(self, request: Request, membership_id: FromPath[int]) -> Template:
        return await self._removal_page(request, membership_id)

    @post("/members/{membership_id:int}/remove")
    async def remove(self, request: Request, membership_id: FromPath[int], data: FormBody) -> Any:
        rt, form = runtime(request), Form.of(data)
        choice = form.data.get("future_sessions", "")
        plan = RemovalPlan(
            FutureSessions(choice) if choice in {f.value for f in FutureSessions} else None,
            record_id(form.data.get("reassign_to")),
        )
        try:
            moved = await members.remove_member(
                current_user(request),
                membership_id,
                plan,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except members.MemberError as problem:
            return await self._removal_page(
                request, membership_id, errors={problem.field: problem.message}, status_code=400
            )
        what = {FutureSessions.REASSIGN: "reassigned", FutureSessions.CANCEL: "cancelled"}.get(
            plan.future_sessions
        )
        await flash(request, f"Removed. {moved} future session(s) {what}." if moved else "Removed.")
        return redirect(request, "/practice/members")

    @post("/switch")
    async def switch(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        practice_id = record_id(Form.of(data).data.get("practice_id"))
        user = current_user(request)
        await practices.switch_practice(
            rt.sessions,
            current_session(request),
            user,
            practice_id or 0,
            now=rt.clock.now(),
            actor=actor_of(request),
        )
        name = dict(user.practices)[practice_id]
        await flash(request, f"You're working in {name}.")
        return redirect(request, "/")

    @post("/calendar")
    async def work_in_calendar_of(self, request: Request, data: FormBody) -> Any:
        """The owner or the front desk works in a colleague's calendar: sessions, clients, booking."""
        clinician_id = record_id(Form.of(data).data.get("clinician_id"))
        name = await practices.work_in_calendar_of(
            runtime(request).sessions, current_session(request), current_user(request), clinician_id or 0
        )
        await flash(request, f"You're working in {name}'s calendar.")
        return redirect(request, "/calendar")


class JoinController(Controller):
    """The member invitation link: a new login chooses a password and is signed in; someone who already
    has a login confirms with theirs and then signs in as usual."""

    path = "/join"

    async def _page(self, request: Request, token: str, page: members.JoinPage, errors=None, status_code=200):
        return await render(
            request,
            "practice/join.html",
            {"page": page, "token": token, "errors": errors or {}},
            status_code=status_code,
        )

    @get("/{token:str}", name="join")
    async def show(self, request: Request, token: FromPath[str]) -> Template:
        page = await members.open_join_link(token, now=runtime(request).clock.now())
        return await self._page(request, token, page)

    @post("/{token:str}")
    async def accept(self, request: Request, token: FromPath[str], data: FormBody) -> Any:
        rt, form = runtime(request), Form.of(data)
        now = rt.clock.now()
        page = await members.open_join_link(token, now=now)
        if page.state is not LinkState.VALID:
            return await self._page(request, token, page)
        password = form.data.get("password", "")
        if page.needs_password and password != form.data.get("password_confirm", ""):
            return await self._page(
                request, token, page, {"password_confirm": "The two passwords don't match."}, 400
            )
        try:
            joined = await members.accept_invitation(
                token, password, now=now, actor=actor_of(request), settings=rt.settings
            )
        except members.MemberError as problem:
            return await self._page(request, token, page, {problem.field: problem.message}, 400)
        if joined is None:
            return await self._page(request, token, members.JoinPage(LinkState.USED))
        if joined.person is not None:
            return await start_session(request, joined.person, home_for(joined.person))
        return redirect(request, "/login?notice=joined")
