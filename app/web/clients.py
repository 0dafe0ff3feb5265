"""The clinician's clients: list and search, add, the client page, details, insurance, invitation
resend and archive. Every lookup is scoped to the signed-in clinician (another's id answers 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain.charges import countdown, soonest_refresh
from app.domain.statuses import (
    APPOINTMENT_STATUS_LABELS,
    CHARGE_STATUS_LABELS,
    AppointmentStatus,
    ChargeStatus,
)
from app.domain.validation import Form, record_id
from app.models.tables import Client
from app.services import archiving, clients, insurance, practices
from app.services.appointments import practice_of
from app.services.clients import ClientChanges, ClientContact, ClientError, NewClient
from app.services.context import CurrentUser
from app.services.errors import PracticeNotFound
from app.web.guards import clinician_only, in_the_record_s_calendar
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.middleware import query_problems
from app.web.runtime import Context, Now, RequestContext, User

FormBody = URLEncodedBody[dict[str, Any]]
MAX_NOTE = 5000


def status_labels() -> dict[str, dict[str, str]]:
    return {
        "appointment": {s.value: label for s, label in APPOINTMENT_STATUS_LABELS.items()},
        "charge": {s.value: label for s, label in CHARGE_STATUS_LABELS.items()},
    }


def new_client_from(form: Form) -> NewClient:
    return NewClient(
        name=form.name("name", label="Name"),
        email=form.email(),
        phone=form.text("phone", label="Phone", required=False, max_length=40),
        billing_type=form.choice("billing_type", insurance.BILLING_CHOICES, label="Billing type"),
    )


def _sessions_context(detail: clients.ClientDetail, now: datetime) -> dict[str, Any]:
    """The appointments list with each pending charge's countdown and how soon to look again."""
    pending = [c for c in detail.charges.values() if c.status == ChargeStatus.SCHEDULED]
    return {
        "detail": detail,
        "c": detail.client,
        "now": now,
        "labels": status_labels(),
        "charge_scheduled": ChargeStatus.SCHEDULED.value,
        "charge_processing": ChargeStatus.PROCESSING.value,
        "countdowns": {c.appointment: countdown(c.due_at, now).text for c in pending},
        "refresh": soonest_refresh(((c.status, c.due_at) for c in detail.charges.values()), now),
    }


def _client_changes(form: Form) -> ClientChanges:
    return ClientChanges(
        name=form.name("name", label="Name"),
        phone=form.text("phone", label="Phone", required=False, max_length=40),
        billing_type=form.choice("billing_type", insurance.BILLING_CHOICES, label="Billing type"),
        internal_note=form.text("internal_note", label="Private note", required=False, max_length=MAX_NOTE),
        reminders_off=not form.checkbox("reminders"),
        texts_on=form.checkbox("texts"),
        fee_exemption=form.text("fee_exemption", label="Fee exemption", required=False, max_length=200),
    )


def _contact_from(form: Form) -> ClientContact:
    return ClientContact(
        name=form.name("name", label="Name"),
        email=form.email(),
        phone=form.text("phone", label="Phone", required=False, max_length=40),
    )


async def _contact_page(request: Request, client: Client, values: dict, errors=None) -> Template:
    context = {"c": client, "values": values, "errors": errors or {}}
    return await render(request, "clients/contact.html", context, status_code=400 if errors else 200)


async def _team_change(request: Request, change, user: CurrentUser, client_id: int, data, ctx, done: str):
    """Reassign, share or stop sharing (``change``) with the clinician the form names; back to the page."""
    clinician_id = record_id(Form.of(data).data.get("clinician_id")) or 0
    try:
        changed = await change(user, client_id, clinician_id, now=ctx.now, actor=ctx.actor)
    except PracticeNotFound:
        await flash(request, "Choose a clinician of this practice.")
    else:
        await flash(request, done if changed else "Nothing changed.")
    return redirect(request, f"/clients/{client_id}/clinicians")


def _added_notice(new: NewClient, invited: bool) -> str:
    return f"{new.name} was added." + (f" An invitation went to {new.email}." if invited else "")


async def _viewed(user: CurrentUser, client_id: int, ctx: RequestContext, what: str) -> Client:
    """The client's record for this clinician (404 for anyone else's); each read is audited."""
    detail = await clients.client_detail(
        user.clinician_id, client_id, now=ctx.now, viewer=ctx.actor, what=what
    )
    return detail.client


def _insurance_context(client, details, errors, values=None) -> dict[str, Any]:
    return {
        "c": client,
        "details": details,
        "values": values,
        "errors": errors,
        "coverage": insurance.COVERAGE_CHOICES,
        "billing": insurance.BILLING_CHOICES,
        "relationships": insurance.RELATIONSHIPS,
    }


class ClientsController(Controller):
    path = "/clients"
    guards = [clinician_only, in_the_record_s_calendar]

    @get("/", name="clients")
    async def index(
        self, request: Request, user: User, now: Now, q: FromQuery[str] = "", show: FromQuery[str] = "active"
    ) -> Template:
        archived = show == "archived"
        rows = await clients.list_clients(user.clinician_id, now=now, search=q, archived=archived)
        return await render(
            request,
            "clients/index.html",
            {
                "clients": rows,
                "q": q[:100],
                "q_error": query_problems(request).get("q"),
                "show": "archived" if archived else "active",
            },
            fragment="clients/_list.html",
        )

    @get("/new", name="client_new")
    async def new_page(self, request: Request) -> Template:
        return await render(request, "clients/new.html", {"values": {}, "billing": insurance.BILLING_CHOICES})

    @post("/new")
    async def create(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        new = new_client_from(form)
        invite = not form.checkbox("dont_invite")
        if form.ok:
            try:
                client_id = await clients.add_client(user.clinician_id, new, invite=invite, **ctx.sending)
            except ClientError as error:
                form.error(error.field, error.message)
            else:
                await flash(request, _added_notice(new, invite))
                return redirect(request, f"/clients/{client_id}")
        return await render(
            request,
            "clients/new.html",
            {"values": form.data, "errors": form.errors, "billing": insurance.BILLING_CHOICES},
        )

    @get("/{client_id:int}", name="client_page")
    async def show(self, request: Request, client_id: FromPath[int], user: User, ctx: Context) -> Template:
        detail = await clients.client_detail(user.clinician_id, client_id, now=ctx.now, viewer=ctx.actor)
        return await render(
            request,
            "clients/show.html",
            {
                **_sessions_context(detail, ctx.now),
                "coverage": insurance.COVERAGE_CHOICES,
                "billing": insurance.BILLING_CHOICES,
                "relationships": insurance.RELATIONSHIPS,
                "scheduled": AppointmentStatus.SCHEDULED.value,
            },
        )

    @get("/{client_id:int}/sessions", name="client_sessions")
    async def sessions(
        self, request: Request, client_id: FromPath[int], user: User, now: Now
    ) -> Template | Response:
        """The page's appointments and charges again, while a charge is pending. The page view was
        audited when it opened; these refreshes of the same view are not. Opened as a page (a link
        shared, a reload), it is the client's page."""
        detail = await clients.client_detail(user.clinician_id, client_id, now=now)
        if not wants_fragment(request):
            return redirect(request, f"/clients/{client_id}")
        context = _sessions_context(detail, now)
        return await render(request, "clients/show.html", context, fragment="clients/_sessions.html")

    @get("/{client_id:int}/edit", name="client_edit")
    async def edit_page(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context
    ) -> Template:
        client = await _viewed(user, client_id, ctx, "edit_page")
        values = {
            "name": client.name,
            "phone": client.phone,
            "billing_type": client.billing_type,
            "internal_note": client.internal_note,
            "reminders": "" if client.reminders_off else "on",
            "texts": "on" if client.texts_opt_in_at else "",
            "fee_exemption": client.fee_exemption or "",
        }
        return await render(
            request,
            "clients/edit.html",
            {"c": client, "values": values, "billing": insurance.BILLING_CHOICES},
        )

    @post("/{client_id:int}/edit")
    async def edit(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        client = await _viewed(user, client_id, ctx, "edit")
        form = Form.of(data)
        changes = _client_changes(form)
        if form.ok:
            await clients.update_client(user.clinician_id, client_id, changes, **ctx.acting)
            await flash(request, "Details saved.")
            return redirect(request, f"/clients/{client_id}")
        return await render(
            request,
            "clients/edit.html",
            {"c": client, "values": form.data, "errors": form.errors, "billing": insurance.BILLING_CHOICES},
        )

    @get("/{client_id:int}/contact", name="client_contact")
    async def contact_page(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context
    ) -> Template:
        client = await _viewed(user, client_id, ctx, "contact_page")
        return await _contact_page(
            request, client, {"name": client.name, "email": client.email, "phone": client.phone}
        )

    @post("/{client_id:int}/contact")
    async def change_contact(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        """Name, email and phone: the front desk's edit of a client (R12), audited with their role."""
        client = await _viewed(user, client_id, ctx, "change_contact")
        form = Form.of(data)
        contact = _contact_from(form)
        try:
            if form.ok:
                changed = await clients.update_contact(user.clinician_id, client_id, contact, **ctx.acting)
                await flash(request, "Contact details saved." if changed else "Nothing changed.")
                return redirect(request, f"/clients/{client_id}")
        except ClientError as error:
            form.error(error.field, error.message)
        return await _contact_page(request, client, form.data, form.errors)

    @get("/{client_id:int}/clinicians", name="client_team")
    async def team_page(self, request: Request, client_id: FromPath[int], user: User) -> Template:
        """The client's clinician, who it is shared with and the history: reassign (owner) and share."""
        team = await practices.client_team(user, client_id)
        return await render(request, "clients/team.html", {"c": team.client, "team": team})

    @post("/{client_id:int}/reassign")
    async def reassign(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Response:
        done = "Reassigned. Their past sessions stay with the clinician who held them."
        return await _team_change(request, practices.reassign_client, user, client_id, data, ctx, done)

    @post("/{client_id:int}/share")
    async def share(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Response:
        return await _team_change(request, practices.share_client, user, client_id, data, ctx, "Shared.")

    @post("/{client_id:int}/unshare")
    async def unshare(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Response:
        done = "No longer shared."
        return await _team_change(request, practices.unshare_client, user, client_id, data, ctx, done)

    @get("/{client_id:int}/insurance", name="client_insurance")
    async def insurance_page(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context
    ) -> Template:
        client = await _viewed(user, client_id, ctx, "insurance_page")
        details = await insurance.details_of(client_id)
        return await render(
            request,
            "clients/insurance.html",
            {
                **_insurance_context(client, details, {}),
                "history": await insurance.history_lines(client_id),
            },
        )

    @post("/{client_id:int}/insurance")
    async def update_insurance(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        client = await _viewed(user, client_id, ctx, "update_insurance")
        form = Form.of(data)
        billing = form.choice("billing_type", insurance.BILLING_CHOICES, label="Billing type")
        ceiling = (await practice_of(user.clinician_id)).max_fee_minor
        details = insurance.details_from_form(form, billing_type=billing, ceiling=ceiling)
        coverage = form.choice("coverage_status", insurance.COVERAGE_CHOICES, label="Coverage status")
        note = insurance.coverage_note_from_form(form)
        if form.ok:
            changed = await insurance.update_insurance(
                client,
                details,
                coverage_status=coverage,
                billing_type=billing,
                coverage_note=note,
                **ctx.acting,
            )
            await flash(request, "Insurance saved." if changed else "Nothing changed.")
            return redirect(request, f"/clients/{client_id}")
        context = _insurance_context(client, details, form.errors, form.data)
        return await render(request, "clients/insurance.html", context)

    @post("/{client_id:int}/invite", name="client_resend")
    async def resend(self, request: Request, client_id: FromPath[int], user: User, ctx: Context) -> Response:
        try:
            await clients.resend_invitation(user.clinician_id, client_id, **ctx.sending)
        except ClientError as error:
            await flash(request, error.message)
        else:
            await flash(request, "A new invitation is on its way. The earlier link no longer works.")
        return redirect(request, f"/clients/{client_id}")

    @post("/{client_id:int}/email-retry", name="client_email_retry")
    async def retry_email(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context
    ) -> Response:
        lifted = await clients.retry_email_address(user.clinician_id, client_id, **ctx.acting)
        await flash(
            request,
            "Emails to this address will be sent again. If it bounces again, it shows here."
            if lifted
            else "Emails to this address are already being sent.",
        )
        return redirect(request, f"/clients/{client_id}")

    @get("/{client_id:int}/archive", name="client_archive")
    async def archive_page(
        self, request: Request, client_id: FromPath[int], user: User, now: Now
    ) -> Template:
        plan = await archiving.archive_plan(user.clinician_id, client_id, now=now)
        return await render(request, "clients/archive.html", {"plan": plan, "c": plan.client})

    @post("/{client_id:int}/archive")
    async def archive(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        if not form.ok:
            raise ValidationException("Reload the page and try again.")
        plan = form.data.get("plan", "")
        changed = await archiving.archive_client(
            user.clinician_id, client_id, confirmed_plan=plan, **ctx.sending
        )
        if changed is not None:
            notice = "Something changed since you opened this page. Check the list again."
            context = {"plan": changed, "c": changed.client, "changed": notice}
            return await render(request, "clients/archive.html", context)
        await flash(request, "Client archived.")
        return redirect(request, f"/clients/{client_id}")

    @post("/{client_id:int}/restore", name="client_restore")
    async def restore(self, request: Request, client_id: FromPath[int], user: User, ctx: Context) -> Response:
        await archiving.restore_client(user.clinician_id, client_id, **ctx.acting)
        await flash(request, "Client restored to your active list.")
        return redirect(request, f"/clients/{client_id}")
