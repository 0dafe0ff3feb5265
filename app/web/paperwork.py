"""Intake paperwork pages (R14): the practice's documents and intake questions (``/documents``), a
client's forms as their clinician sees them (``/clients/{id}/paperwork``), and the client's side in the
portal (``/portal/forms``): sign a document, answer the intake, download the signed copies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain import paperwork as rules
from app.domain.validation import Form, record_id
from app.services import paperwork
from app.services.context import CurrentUser
from app.services.errors import PaperworkProblem
from app.web.guards import client_only, clinician_only, owner_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import Context, Now, User

FormBody = URLEncodedBody[dict[str, Any]]
DOCUMENT_FIELDS = frozenset({"body"})
COPY_KINDS = ("signature", "intake")


def _pdf(copy: paperwork.Copy) -> Response:
    return Response(
        content=copy.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{copy.filename}"'},
    )


def _kind(kind: str) -> str:
    if kind not in COPY_KINDS:
        raise NotFoundException()
    return kind


REFUSED = object()


async def _attempt(form: Form, use_case: Callable[[], Awaitable[Any]]) -> Any:
    """The use case's result when the form is valid and the use case agrees, else ``REFUSED`` (its
    refusal is then a message next to the field it names)."""
    if not form.ok:
        return REFUSED
    try:
        return await use_case()
    except PaperworkProblem as problem:
        form.error(problem.field, problem.message)
        return REFUSED


class DocumentsController(Controller):
    """The practice's documents and its own intake questions (its owner's to change), and each client's
    forms as their clinician sees them."""

    path = "/"
    guards = [clinician_only]

    async def _index(self, request: Request, user: CurrentUser, form: Form | None = None) -> Template:
        return await render(
            request,
            "paperwork/documents.html",
            {
                "documents": await paperwork.documents_of(user.own_clinician_id),
                "templates": rules.TEMPLATES,
                "standard": rules.STANDARD_INTAKE,
                "extras": await paperwork.extra_questions(user.own_clinician_id),
                "kinds": rules.EXTRA_KINDS,
                "values": form.data if form else {},
                "errors": form.errors if form else {},
            },
            status_code=422 if form else 200,
        )

    @get("/documents", name="documents", guards=[owner_only])
    async def index(self, request: Request, user: User) -> Template:
        return await self._index(request, user)

    async def _new_page(self, request: Request, values: dict, errors: dict) -> Template:
        chosen = rules.template_by_key(values.get("template", ""))
        context = {"values": values, "errors": errors, "template": chosen}
        return await render(
            request, "paperwork/document_new.html", context, status_code=422 if errors else 200
        )

    @get("/documents/new", name="document_new", guards=[owner_only])
    async def new(self, request: Request, template: FromQuery[str] = "") -> Template:
        chosen = rules.template_by_key(template)
        values = {"title": chosen.title, "body": chosen.body, "template": chosen.key} if chosen else {}
        return await self._new_page(request, values, {})

    @post("/documents/new", guards=[owner_only])
    async def create(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data, multiline=DOCUMENT_FIELDS)
        title, body = form.data.get("title", ""), form.data.get("body", "")
        template = form.data.get("template", "")
        document_id = await _attempt(
            form,
            lambda: paperwork.publish(user.own_clinician_id, title, body, template=template, **ctx.acting),
        )
        if document_id is REFUSED:
            return await self._new_page(request, form.data, form.errors)
        await flash(request, "Published. New clients are asked to sign it.")
        return redirect(request, f"/documents/{document_id}")

    async def _show(self, request: Request, user: CurrentUser, document_id: int, form: Form | None = None):
        document = await paperwork.document_of(user.own_clinician_id, document_id)
        latest = document.latest
        values = {"title": latest.title, "body": latest.body, "needs_new_signature": "on"}
        return await render(
            request,
            "paperwork/document.html",
            {
                "document": document,
                "values": form.data if form else values,
                "errors": form.errors if form else {},
            },
            status_code=422 if form else 200,
        )

    @get("/documents/{document_id:int}", name="document", guards=[owner_only])
    async def show(self, request: Request, document_id: FromPath[int], user: User) -> Template:
        return await self._show(request, user, document_id)

    @post("/documents/{document_id:int}", guards=[owner_only])
    async def new_version(
        self, request: Request, document_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data, multiline=DOCUMENT_FIELDS)
        published = await _attempt(
            form,
            lambda: paperwork.publish(
                user.own_clinician_id,
                form.data.get("title", ""),
                form.data.get("body", ""),
                document_id=document_id,
                needs_new_signature=form.checkbox("needs_new_signature"),
                **ctx.acting,
            ),
        )
        if published is REFUSED:
            return await self._show(request, user, document_id, form)
        await flash(request, "New version published.")
        return redirect(request, f"/documents/{document_id}")

    @post("/documents/{document_id:int}/retire", guards=[owner_only])
    async def retire(self, request: Request, document_id: FromPath[int], user: User, ctx: Context) -> Any:
        await paperwork.retire(user.own_clinician_id, document_id, **ctx.acting)
        await flash(request, "Clients are no longer asked to sign it. Signed copies stay.")
        return redirect(request, "/documents")

    @post("/documents/questions", guards=[owner_only])
    async def add_question(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        label, kind = form.data.get("label", ""), form.data.get("kind", "")
        required = form.checkbox("required")
        added = await _attempt(
            form, lambda: paperwork.add_question(user.own_clinician_id, label, kind, required, **ctx.acting)
        )
        if added is REFUSED:
            return await self._index(request, user, form)
        await flash(request, "Question added to your intake.")
        return redirect(request, "/documents#intake")

    @post("/documents/questions/{question_id:int}/remove", guards=[owner_only])
    async def remove_question(
        self, request: Request, question_id: FromPath[int], user: User, ctx: Context
    ) -> Any:
        await paperwork.remove_question(user.own_clinician_id, question_id, **ctx.acting)
        await flash(request, "Question removed. Answers already given stay.")
        return redirect(request, "/documents#intake")

    # --- one client's forms ----------------------------------------------------------------------

    async def _client_page(
        self, request: Request, user: CurrentUser, client_id: int, now: datetime, error: str = ""
    ) -> Template:
        found = await paperwork.for_clinician(user.clinician_id, client_id, now=now)
        return await render(
            request,
            "paperwork/client.html",
            {"pw": found, "now": now, "errors": {"remind": error} if error else {}},
            status_code=422 if error else 200,
        )

    @get("/clients/{client_id:int}/paperwork", name="client_paperwork")
    async def client_forms(
        self, request: Request, client_id: FromPath[int], user: User, now: Now
    ) -> Template:
        return await self._client_page(request, user, client_id, now)

    @post("/clients/{client_id:int}/paperwork/remind")
    async def remind(self, request: Request, client_id: FromPath[int], user: User, ctx: Context) -> Any:
        try:
            await paperwork.remind(user.clinician_id, client_id, **ctx.sending)
        except PaperworkProblem as problem:
            return await self._client_page(request, user, client_id, ctx.now, problem.message)
        await flash(request, "Reminder sent: it lists what is left, with a link to the portal.")
        return redirect(request, f"/clients/{client_id}/paperwork")

    @get("/clients/{client_id:int}/paperwork/{kind:str}/{copy_id:int}", name="client_signed_copy")
    async def client_copy(
        self, client_id: FromPath[int], kind: FromPath[str], copy_id: FromPath[int], user: User, ctx: Context
    ) -> Response:
        copy = await paperwork.copy_for_clinician(
            user.clinician_id, client_id, _kind(kind), copy_id, **ctx.acting
        )
        return _pdf(copy)


class PortalFormsController(Controller):
    """The client's forms in the portal: what is left, signing, the intake and the signed copies."""

    path = "/portal/forms"
    guards = [client_only]

    @get("/", name="portal_forms")
    async def index(self, request: Request, user: User, now: Now) -> Template:
        found = await paperwork.for_client_user(user.id, now)
        return await render(request, "paperwork/portal_forms.html", {"all": found, "now": now})

    async def _sign_page(self, request, user, client_id, document_id, now, form: Form | None = None):
        doc = await paperwork.document_to_sign(user.id, client_id, document_id, now)
        return await render(
            request,
            "paperwork/sign.html",
            {
                "doc": doc,
                "client_id": client_id,
                "values": form.data if form else {},
                "errors": form.errors if form else {},
            },
            status_code=422 if form else 200,
        )

    @get("/{client_id:int}/documents/{document_id:int}", name="portal_sign")
    async def sign_page(
        self, request: Request, client_id: FromPath[int], document_id: FromPath[int], user: User, now: Now
    ) -> Template:
        return await self._sign_page(request, user, client_id, document_id, now)

    @post("/{client_id:int}/documents/{document_id:int}")
    async def sign(
        self,
        request: Request,
        client_id: FromPath[int],
        document_id: FromPath[int],
        data: FormBody,
        user: User,
        ctx: Context,
    ) -> Any:
        form = Form.of(data)
        name, _ = rules.signature_problems(form)
        version_id = record_id(form.data.get("version_id"))
        signed = await _attempt(
            form, lambda: paperwork.sign(user.id, client_id, document_id, version_id, name, **ctx.acting)
        )
        if signed is REFUSED:
            return await self._sign_page(request, user, client_id, document_id, ctx.now, form)
        await flash(request, "Signed. Your signed copy is below.")
        return redirect(request, "/portal/forms")

    async def _intake_page(self, request, user, client_id, now, form: Form | None = None):
        found, questions = await paperwork.intake_form(user.id, client_id, now)
        earlier = rules.form_values(found.intake.answers, questions) if found.intake else {}
        return await render(
            request,
            "paperwork/intake.html",
            {
                "pw": found,
                "questions": questions,
                "client_id": client_id,
                "values": form.data if form else earlier,
                "errors": form.errors if form else {},
            },
            status_code=422 if form else 200,
        )

    @get("/{client_id:int}/intake", name="portal_intake")
    async def intake_page(self, request: Request, client_id: FromPath[int], user: User, now: Now) -> Template:
        return await self._intake_page(request, user, client_id, now)

    @post("/{client_id:int}/intake")
    async def intake_save(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        _, questions = await paperwork.intake_form(user.id, client_id, ctx.now)
        form = Form.of(data, multiline=rules.multiline_fields(questions))
        answers = rules.clean_intake(form, questions)
        name, _ = rules.signature_problems(form)
        submitted = await _attempt(
            form, lambda: paperwork.submit_intake(user.id, client_id, answers, name, **ctx.acting)
        )
        if submitted is REFUSED:
            return await self._intake_page(request, user, client_id, ctx.now, form)
        await flash(request, "Thank you. Your answers are with your therapist.")
        return redirect(request, "/portal/forms")

    @get("/copies/{kind:str}/{copy_id:int}", name="portal_signed_copy")
    async def copy(self, kind: FromPath[str], copy_id: FromPath[int], user: User, ctx: Context) -> Response:
        return _pdf(await paperwork.copy_for_client_user(user.id, _kind(kind), copy_id, **ctx.acting))
