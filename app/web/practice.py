"""The practice (R12): its members page for the owner (invite, where each invitation stands, resend,
remove), the practice and calendar switchers, the practice's page, and the join link an invited member
opens. What each role may do is decided in the services."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template

from app.domain.calendar import View
from app.domain.members import INVITABLE_ROLES, FutureSessions, MemberRole, RemovalPlan
from app.domain.validation import Form, record_id
from app.services import members, practices
from app.services.account_tokens import LinkState
from app.services.context import CurrentUser
from app.services.errors import PracticeNotFound
from app.web.auth import home_for, new_password, start_session
from app.web.calendar import calendar_url
from app.web.guards import member_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import AppRuntime, Context, CurrentSession, Now, RequestContext, User

FormBody = URLEncodedBody[dict[str, Any]]
ROLE_CHOICES = [(role.value, role.label) for role in INVITABLE_ROLES]
MEMBERS = "/practice/members"


def calendar_day_url(text: str | None, *, book: bool = False) -> str:
    """The calendar (or, to ``book``, the booking form) on the day the switch was made from (the
    practice's day view), else today's."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return "/appointments/new" if book else "/calendar"
    return f"/appointments/new?date={day.isoformat()}" if book else calendar_url(View.DAY, day)


def new_member_from(form: Form) -> members.NewMember:
    return members.NewMember(
        name=form.name("name", label="Name"),
        email=form.email(),
        role=form.choice("role", [value for value, _ in ROLE_CHOICES], label="Role"),
    )


def removal_plan_from(form: Form) -> RemovalPlan:
    choice = form.data.get("future_sessions", "")
    future = FutureSessions(choice) if choice in {f.value for f in FutureSessions} else None
    return RemovalPlan(future, record_id(form.data.get("reassign_to")))


def removed_message(plan: RemovalPlan, moved: int) -> str:
    what = {FutureSessions.REASSIGN: "reassigned", FutureSessions.CANCEL: "cancelled"}.get(
        plan.future_sessions
    )
    return f"Removed. {moved} future session(s) {what}." if moved else "Removed."


async def members_page(
    request: Request, user: CurrentUser, now, *, errors=None, values=None, status_code: int = 200
) -> Template:
    context = {
        "members": await members.list_members(user, now=now),
        "roles": ROLE_CHOICES,
        "errors": errors or {},
        "values": values or {"role": MemberRole.CLINICIAN.value},
    }
    return await render(request, "practice/members.html", context, status_code=status_code)


async def removal_page(
    request: Request, user: CurrentUser, membership_id: int, now, *, errors=None, status_code: int = 200
) -> Template:
    """Who is removed, how many future sessions they hold, and the colleagues who could take them."""
    listed = await members.list_members(user, now=now)
    member = next((m for m in listed if m.membership_id == membership_id and m.can_remove), None)
    if member is None:
        raise PracticeNotFound(membership_id)
    future = await members.future_sessions_of(member.clinician_id, now=now) if member.clinician_id else []
    colleagues = [
        c for c in await practices.clinicians_of(user.practice_id) if c.clinician_id != member.clinician_id
    ]
    context = {
        "member": member,
        "future_count": len(future),
        "colleagues": colleagues,
        "errors": errors or {},
    }
    return await render(request, "practice/remove.html", context, status_code=status_code)


async def invited(user: CurrentUser, form: Form, ctx: RequestContext) -> bool:
    """Send the invitation the form describes; False (the reasons marked on the form) when it can't go."""
    new = new_member_from(form)
    if not form.ok:
        return False
    try:
        await members.invite_member(user, new, **ctx.sending)
    except members.MemberError as problem:
        form.error(problem.field, problem.message)
        return False
    return True


class PracticeController(Controller):
    path = "/practice"
    guards = [member_only]

    @get("/", name="practice")
    async def home(self, request: Request, user: User) -> Template:
        """The practice's clinicians (and, for the owner, the way to its members)."""
        colleagues = await practices.clinicians_of(user.practice_id)
        return await render(request, "practice/home.html", {"colleagues": colleagues})

    @get("/members", name="practice_members")
    async def members(self, request: Request, user: User, now: Now) -> Template:
        return await members_page(request, user, now)

    @post("/members")
    async def invite(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        if await invited(user, form, ctx):
            await flash(request, f"Invitation sent to {form.data.get('email', '').strip()}.")
            return redirect(request, MEMBERS)
        return await members_page(
            request, user, ctx.now, errors=form.errors, values=form.data, status_code=400
        )

    @post("/members/{membership_id:int}/resend")
    async def resend(self, request: Request, membership_id: FromPath[int], user: User, ctx: Context) -> Any:
        try:
            await members.resend_invitation(user, membership_id, **ctx.sending)
        except members.MemberError as problem:
            await flash(request, problem.message)
        else:
            await flash(request, "A new invitation is on its way; the earlier link no longer works.")
        return redirect(request, MEMBERS)

    @get("/members/{membership_id:int}/remove", name="practice_member_remove")
    async def removal(self, request: Request, membership_id: FromPath[int], user: User, now: Now) -> Template:
        return await removal_page(request, user, membership_id, now)

    @post("/members/{membership_id:int}/remove")
    async def remove(
        self, request: Request, membership_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        plan = removal_plan_from(Form.of(data))
        try:
            moved = await members.remove_member(user, membership_id, plan, **ctx.sending)
        except members.MemberError as problem:
            errors = {problem.field: problem.message}
            return await removal_page(request, user, membership_id, ctx.now, errors=errors, status_code=400)
        await flash(request, removed_message(plan, moved))
        return redirect(request, MEMBERS)

    @post("/switch")
    async def switch(
        self, request: Request, data: FormBody, user: User, session: CurrentSession, ctx: Context
    ) -> Any:
        """Work in another practice the person belongs to."""
        practice_id = record_id(Form.of(data).data.get("practice_id")) or 0
        await practices.switch_practice(ctx.sessions, session, user, practice_id, **ctx.acting)
        await flash(request, f"You're working in {dict(user.practices)[practice_id]}.")
        return redirect(request, "/")

    @post("/calendar")
    async def calendar_of(
        self, request: Request, data: FormBody, user: User, session: CurrentSession, rt: AppRuntime
    ) -> Any:
        """The owner or the front desk works in a colleague's calendar: sessions, clients, booking."""
        form = Form.of(data)
        clinician_id = record_id(form.data.get("clinician_id")) or 0
        name = await practices.work_in_calendar_of(rt.sessions, session, user, clinician_id)
        await flash(request, f"You're working in {name}'s calendar.")
        return redirect(
            request, calendar_day_url(form.data.get("date"), book=form.data.get("then") == "book")
        )


async def join_page(request: Request, token: str, page: members.JoinPage, errors=None, status_code=200):
    context = {"page": page, "token": token, "errors": errors or {}}
    return await render(request, "practice/join.html", context, status_code=status_code)


def join_password(form: Form, page: members.JoinPage) -> str:
    """A new login's password typed twice (checked here), or an existing login's own password."""
    if page.needs_password:
        return new_password(form, email=page.email, name=page.name)
    return form.data.get("password", "")


class JoinController(Controller):
    """The member invitation link: a new login chooses a password and is signed in; someone who already
    has a login confirms with theirs and then signs in as usual."""

    path = "/join"

    @get("/{token:str}", name="join")
    async def show(self, request: Request, token: FromPath[str], now: Now) -> Template:
        return await join_page(request, token, await members.open_join_link(token, now=now))

    @post("/{token:str}")
    async def accept(
        self, request: Request, token: FromPath[str], data: FormBody, rt: AppRuntime, ctx: Context
    ) -> Any:
        page, form = await members.open_join_link(token, now=ctx.now), Form.of(data)
        if page.state is not LinkState.VALID:
            return await join_page(request, token, page)
        password, joined = join_password(form, page), None
        if form.ok:
            try:
                joined = await members.accept_invitation(token, password, settings=rt.settings, **ctx.acting)
            except members.MemberError as problem:
                form.error(problem.field, problem.message)
        if not form.ok:
            return await join_page(request, token, page, form.errors, 400)
        if joined is None:
            return await join_page(request, token, members.JoinPage(LinkState.USED))
        if joined.person is not None:
            return await start_session(request, rt, joined.person, home_for(joined.person))
        return redirect(request, "/login?notice=joined")
