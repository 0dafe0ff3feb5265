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
from app.domain.validation import Form
from app.services import archiving, clients, insurance
from app.services.appointments import practice_of
from app.services.clients import ClientChanges, ClientError, NewClient
from app.web.guards import clinician_only
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.middleware import query_problems
from app.web.runtime import actor_of, current_user, runtime

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


class ClientsController(Controller):
    path = "/clients"
    guards = [clinician_only]

    @get("/", name="clients")
    async def index(
        self, request: Request, q: FromQuery[str] = "", show: FromQuery[str] = "active"
    ) -> Template:
        rt = runtime(request)
        user = current_user(request)
        archived = show == "archived"
        rows = await clients.list_clients(user.clinician_id, now=rt.clock.now(), search=q, archived=archived)
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
    async def create(self, request: Request, data: FormBody) -> Any:
        form = Form.of(data)
        new = new_client_from(form)
        if form.ok:
            rt = runtime(request)
            try:
                client_id = await clients.add_client(
                    current_user(request).clinician_id,
                    new,
                    invite=not form.checkbox("dont_invite"),
                    now=rt.clock.now(),
                    actor=actor_of(request),
                    settings=rt.settings,
                    queue=rt.queue,
                )
            except ClientError as error:
                form.error(error.field, error.message)
            else:
                await flash(
                    request,
                    f"{new.name} was added."
                    + ("" if form.checkbox("dont_invite") else f" An invitation went to {new.email}."),
                )
                return redirect(request, f"/clients/{client_id}")
        return await render(
            request,
            "clients/new.html",
            {"values": form.data, "errors": form.errors, "billing": insurance.BILLING_CHOICES},
        )

    @get("/{client_id:int}", name="client_page")
    async def show(self, request: Request, client_id: FromPath[int]) -> Template:
        rt = runtime(request)
        detail = await self._detail(request, client_id)
        return await render(
            request,
            "clients/show.html",
            {
                **_sessions_context(detail, rt.clock.now()),
                "coverage": insurance.COVERAGE_CHOICES,
                "billing": insurance.BILLING_CHOICES,
                "relationships": insurance.RELATIONSHIPS,
                "scheduled": AppointmentStatus.SCHEDULED.value,
            },
        )

    @get("/{client_id:int}/sessions", name="client_sessions")
    async def sessions(self, request: Request, client_id: FromPath[int]) -> Template | Response:
        """The page's appointments and charges again, while a charge is pending. The page view was
        audited when it opened; these refreshes of the same view are not. Opened as a page (a link
        shared, a reload), it is the client's page."""
        now = runtime(request).clock.now()
        detail = await clients.client_detail(current_user(request).clinician_id, client_id, now=now)
        if not wants_fragment(request):
            return redirect(request, f"/clients/{client_id}")
        context = _sessions_context(detail, now)
        return await render(request, "clients/show.html", context, fragment="clients/_sessions.html")

    async def _detail(self, request: Request, client_id: int, what: str = "client") -> clients.ClientDetail:
        """The client's record for this clinician (404 for anyone else's); each read is audited."""
        return await clients.client_detail(
            current_user(request).clinician_id,
            client_id,
            now=runtime(request).clock.now(),
            viewer=actor_of(request),
            what=what,
        )

    @get("/{client_id:int}/edit", name="client_edit")
    async def edit_page(self, request: Request, client_id: FromPath[int]) -> Template:
        client = (await self._detail(request, client_id, "edit_page")).client
        values = {
            "name": client.name,
            "phone": client.phone,
            "billing_type": client.billing_type,
            "internal_note": client.internal_note,
            "reminders": "" if client.reminders_off else "on",
        }
        return await render(
            request,
            "clients/edit.html",
            {"c": client, "values": values, "billing": insurance.BILLING_CHOICES},
        )

    @post("/{client_id:int}/edit")
    async def edit(self, request: Request, client_id: FromPath[int], data: FormBody) -> Any:
        client = (await self._detail(request, client_id, "edit")).client
        form = Form.of(data)
        changes = ClientChanges(
            name=form.name("name", label="Name"),
            phone=form.text("phone", label="Phone", required=False, max_length=40),
            billing_type=form.choice("billing_type", insurance.BILLING_CHOICES, label="Billing type"),
            internal_note=form.text(
                "internal_note", label="Private note", required=False, max_length=MAX_NOTE
            ),
            reminders_off=not form.checkbox("reminders"),
        )
        if form.ok:
            rt = runtime(request)
            await clients.update_client(
                current_user(request).clinician_id,
                client_id,
                changes,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
            await flash(request, "Details saved.")
            return redirect(request, f"/clients/{client_id}")
        return await render(
            request,
            "clients/edit.html",
            {"c": client, "values": form.data, "errors": form.errors, "billing": insurance.BILLING_CHOICES},
        )

    @get("/{client_id:int}/insurance", name="client_insurance")
    async def insurance_page(self, request: Request, client_id: FromPath[int]) -> Template:
        client = (await self._detail(request, client_id, "insurance_page")).client
        details = await insurance.details_of(client_id)
        return await render(
            request,
            "clients/insurance.html",
            {
                **self._insurance_context(client, details, {}),
                "history": await insurance.history_lines(client_id),
            },
        )

    def _insurance_context(self, client, details, errors, values=None) -> dict[str, Any]:
        return {
            "c": client,
            "details": details,
            "values": values,
            "errors": errors,
            "coverage": insurance.COVERAGE_CHOICES,
            "billing": insurance.BILLING_CHOICES,
            "relationships": insurance.RELATIONSHIPS,
        }

    @post("/{client_id:int}/insurance")
    async def update_insurance(self, request: Request, client_id: FromPath[int], data: FormBody) -> Any:
        client = (await self._detail(request, client_id, "update_insurance")).client
        form = Form.of(data)
        billing = form.choice("billing_type", insurance.BILLING_CHOICES, label="Billing type")
        ceiling = (await practice_of(current_user(request).clinician_id)).max_fee_minor
        details = insurance.details_from_form(form, billing_type=billing, ceiling=ceiling)
        coverage = form.choice("coverage_status", insurance.COVERAGE_CHOICES, label="Coverage status")
        note = insurance.coverage_note_from_form(form)
        if form.ok:
            rt = runtime(request)
            changed = await insurance.update_insurance(
                client,
                details,
                coverage_status=coverage,
                billing_type=billing,
                coverage_note=note,
                now=rt.clock.now(),
                actor=actor_of(request),
            )
            await flash(request, "Insurance saved." if changed else "Nothing changed.")
            return redirect(request, f"/clients/{client_id}")
        return await render(
            request,
            "clients/insurance.html",
            self._insurance_context(client, details, form.errors, form.data),
        )

    @post("/{client_id:int}/invite", name="client_resend")
    async def resend(self, request: Request, client_id: FromPath[int]) -> Response:
        rt = runtime(request)
        try:
            await clients.resend_invitation(
                current_user(request).clinician_id,
                client_id,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except ClientError as error:
            await flash(request, error.message)
        else:
            await flash(request, "A new invitation is on its way. The earlier link no longer works.")
        return redirect(request, f"/clients/{client_id}")

    @post("/{client_id:int}/email-retry", name="client_email_retry")
    async def retry_email(self, request: Request, client_id: FromPath[int]) -> Response:
        lifted = await clients.retry_email_address(
            current_user(request).clinician_id,
            client_id,
            now=runtime(request).clock.now(),
            actor=actor_of(request),
        )
        await flash(
            request,
            "Emails to this address will be sent again. If it bounces again, it shows here."
            if lifted
            else "Emails to this address are already being sent.",
        )
        return redirect(request, f"/clients/{client_id}")

    @get("/{client_id:int}/archive", name="client_archive")
    async def archive_page(self, request: Request, client_id: FromPath[int]) -> Template:
        rt = runtime(request)
        plan = await archiving.archive_plan(current_user(request).clinician_id, client_id, now=rt.clock.now())
        return await render(request, "clients/archive.html", {"plan": plan, "c": plan.client})

    @post("/{client_id:int}/archive")
    async def archive(self, request: Request, client_id: FromPath[int], data: FormBody) -> Any:
        rt = runtime(request)
        form = Form.of(data)
        if not form.ok:
            raise ValidationException("Reload the page and try again.")
        changed = await archiving.archive_client(
            current_user(request).clinician_id,
            client_id,
            confirmed_plan=form.data.get("plan", ""),
            now=rt.clock.now(),
            actor=actor_of(request),
            settings=rt.settings,
            queue=rt.queue,
        )
        if changed is not None:
            return await render(
                request,
                "clients/archive.html",
                {
                    "plan": changed,
                    "c": changed.client,
                    "changed": "Something changed since you opened this page. Check the list again.",
                },
            )
        await flash(request, "Client archived.")
        return redirect(request, f"/clients/{client_id}")

    @post("/{client_id:int}/restore", name="client_restore")
    async def restore(self, request: Request, client_id: FromPath[int]) -> Response:
        rt = runtime(request)
        await archiving.restore_client(
            current_user(request).clinician_id, client_id, now=rt.clock.now(), actor=actor_of(request)
        )
        await flash(request, "Client restored to your active list.")
        return redirect(request, f"/clients/{client_id}")
