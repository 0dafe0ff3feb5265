"""Intake paperwork pages (R14): the practice's documents and intake questions (``/documents``), a
client's forms as their clinician sees them (``/clients/{id}/paperwork``), and the client's side in the
portal (``/portal/forms``): sign a document, answer the intake, download the signed copies."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain import paperwork as rules
from app.domain.validation import Form, record_id
from app.services import paperwork
from app.services.errors import PaperworkProblem
from app.web.guards import client_only, clinician_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import actor_of, current_user, runtime

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


class DocumentsController(Controller):
    """The practice's documents and its own intake questions."""

    path = "/"
    guards = [clinician_only]

    async def _index(self, request: Request, *, values=None, errors=None, status_code=200) -> Template:
        clinician_id = current_user(request).clinician_id
        return await render(
            request,
            "paperwork/documents.html",
            {
                "documents": await paperwork.documents_of(clinician_id),
                "templates": rules.TEMPLATES,
                "standard": rules.STANDARD_INTAKE,
                "extras": await paperwork.extra_questions(clinician_id),
                "kinds": rules.EXTRA_KINDS,
                "values": values or {},
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/documents", name="documents")
    async def index(self, request: Request) -> Template:
        return await self._index(request)

    @get("/documents/new", name="document_new")
    async def new(self, request: Request, template: FromQuery[str] = "") -> Template:
        chosen = rules.template_by_key(template)
        values = {"title": chosen.title, "body": chosen.body, "template": chosen.key} if chosen else {}
        return await render(
            request, "paperwork/document_new.html", {"values": values, "errors": {}, "template": chosen}
        )

    @post("/documents/new")
    async def create(self, request: Request, data: FormBody) -> Any:
        form = Form.of(data, multiline=DOCUMENT_FIELDS)
        if form.ok:
            try:
                document_id = await paperwork.publish(
                    current_user(request).clinician_id,
                    form.data.get("title", ""),
                    form.data.get("body", ""),
                    template=form.data.get("template", ""),
                    now=runtime(request).clock.now(),
                    actor=actor_of(request),
                )
            except PaperworkProblem as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, "Published. New clients are asked to sign it.")
                return redirect(request, f"/documents/{document_id}")
        chosen = rules.template_by_key(form.data.get("template", ""))
        return await render(
            request,
            "paperwork/document_new.html",
            {"values": form.data, "errors": form.errors, "template": chosen},
            status_code=422,
        )

    async def _show(self, request: Request, document_id: int, *, values=None, errors=None, status_code=200):
        document = await paperwork.document_of(current_user(request).clinician_id, document_id)
        latest = document.latest
        return await render(
            request,
            "paperwork/document.html",
            {
                "document": document,
                "values": values or {"title": latest.title, "body": latest.body, "needs_new_signature": "on"},
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/documents/{document_id:int}", name="document")
    async def show(self, request: Request, document_id: FromPath[int]) -> Template:
        return await self._show(request, document_id)

    @post("/documents/{document_id:int}")
    async def new_version(self, request: Request, document_id: FromPath[int], data: FormBody) -> Any:
        form = Form.of(data, multiline=DOCUMENT_FIELDS)
        if form.ok:
            try:
                await paperwork.publish(
                    current_user(request).clinician_id,
                    form.data.get("title", ""),
                    form.data.get("body", ""),
                    document_id=document_id,
                    needs_new_signature=form.checkbox("needs_new_signature"),
                    now=runtime(request).clock.now(),
                    actor=actor_of(request),
                )
            except PaperworkProblem as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, "New version published.")
                return redirect(request, f"/documents/{document_id}")
        return await self._show(request, document_id, values=form.data, errors=form.errors, status_code=422)

    @post("/documents/{document_id:int}/retire")
    async def retire(self, request: Request, document_id: FromPath[int]) -> Any:
        await paperwork.retire(
            current_user(request).clinician_id,
            document_id,
            now=runtime(request).clock.now(),
            actor=actor_of(request),
        )
        await flash(request, "Clients are no longer asked to sign it. Signed copies stay.")
        return redirect(request, "/documents")

    @post("/documents/questions")
    async def add_question(self, request: Request, data: FormBody) -> Any:
        form = Form.of(data)
        if form.ok:
            try:
                await paperwork.add_question(
                    current_user(request).clinician_id,
                    form.data.get("label", ""),
                    form.data.get("kind", ""),
                    form.checkbox("required"),
                    now=runtime(request).clock.now(),
                    actor=actor_of(request),
                )
            except PaperworkProblem as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, "Question added to your intake.")
                return redirect(request, "/documents#intake")
        return await self._index(request, values=form.data, errors=form.errors, status_code=422)

    @post("/documents/questions/{question_id:int}/remove")
    async def remove_question(self, request: Request, question_id: FromPath[int]) -> Any:
        await paperwork.remove_question(
            current_user(request).clinician_id,
            question_id,
            now=runtime(request).clock.now(),
            actor=actor_of(request),
        )
        await flash(request, "Question removed. Answers already given stay.")
        return redirect(request, "/documents#intake")

    # --- one client's forms ----------------------------------------------------------------------

    async def _client_page(self, request: Request, client_id: int, errors=None, status_code=200) -> Template:
        rt = runtime(request)
        found = await paperwork.for_clinician(
            current_user(request).clinician_id, client_id, now=rt.clock.now()
        )
        return await render(
            request,
            "paperwork/client.html",
            {"pw": found, "now": rt.clock.now(), "errors": errors or {}},
            status_code=status_code,
        )

    @get("/clients/{client_id:int}/paperwork", name="client_paperwork")
    async def client_forms(self, request: Request, client_id: FromPath[int]) -> Template:
        return await self._client_page(request, client_id)

    @post("/clients/{client_id:int}/paperwork/remind")
    async def remind(self, request: Request, client_id: FromPath[int]) -> Any:
        rt = runtime(request)
        try:
            await paperwork.remind(
                current_user(request).clinician_id,
                client_id,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
                queue=rt.queue,
            )
        except PaperworkProblem as problem:
            return await self._client_page(request, client_id, {"remind": problem.message}, 422)
        await flash(request, "Reminder sent: it lists what is left, with a link to the portal.")
        return redirect(request, f"/clients/{client_id}/paperwork")

    @get("/clients/{client_id:int}/paperwork/{kind:str}/{copy_id:int}", name="client_signed_copy")
    async def client_copy(
        self, request: Request, client_id: FromPath[int], kind: FromPath[str], copy_id: FromPath[int]
    ) -> Response:
        copy = await paperwork.copy_for_clinician(
            current_user(request).clinician_id,
            client_id,
            _kind(kind),
            copy_id,
            now=runtime(request).clock.now(),
            actor=actor_of(request),
        )
        return _pdf(copy)


class PortalFormsController(Controller):
    """The client's forms in the portal: what is left, signing, the intake and the signed copies."""

    path = "/portal/forms"
    guards = [client_only]

    @get("/", name="portal_forms")
    async def index(self, request: Request) -> Template:
        rt = runtime(request)
        found = await paperwork.for_client_user(current_user(request).id, rt.clock.now())
        return await render(request, "paperwork/portal_forms.html", {"all": found, "now": rt.clock.now()})

    async def _sign_page(self, request, client_id, document_id, *, values=None, errors=None, status_code=200):
        rt = runtime(request)
        doc = await paperwork.document_to_sign(
            current_user(request).id, client_id, document_id, rt.clock.now()
        )
        return await render(
            request,
            "paperwork/sign.html",
            {"doc": doc, "client_id": client_id, "values": values or {}, "errors": errors or {}},
            status_code=status_code,
        )

    @get("/{client_id:int}/documents/{document_id:int}", name="portal_sign")
    async def sign_page(
        self, request: Request, client_id: FromPath[int], document_id: FromPath[int]
    ) -> Template:
        return await self._sign_page(request, client_id, document_id)

    @post("/{client_id:int}/documents/{document_id:int}")
    async def sign(
        self, request: Request, client_id: FromPath[int], document_id: FromPath[int], data: FormBody
    ) -> Any:
        form = Form.of(data)
        name, _ = rules.signature_problems(form)
        if form.ok:
            try:
                await paperwork.sign(
                    current_user(request).id,
                    client_id,
                    document_id,
                    record_id(form.data.get("version_id")),
                    name,
                    now=runtime(request).clock.now(),
                    actor=actor_of(request),
                )
            except PaperworkProblem as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, "Signed. Your signed copy is below.")
                return redirect(request, "/portal/forms")
        return await self._sign_page(
            request, client_id, document_id, values=form.data, errors=form.errors, status_code=422
        )

    async def _intake_page(self, request, client_id, *, values=None, errors=None, status_code=200):
        rt = runtime(request)
        found, questions = await paperwork.intake_form(current_user(request).id, client_id, rt.clock.now())
        if values is None:
            values = rules.form_values(found.intake.answers, questions) if found.intake else {}
        return await render(
            request,
            "paperwork/intake.html",
            {
                "pw": found,
                "questions": questions,
                "client_id": client_id,
                "values": values,
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/{client_id:int}/intake", name="portal_intake")
    async def intake_page(self, request: Request, client_id: FromPath[int]) -> Template:
        return await self._intake_page(request, client_id)

    @post("/{client_id:int}/intake")
    async def intake_save(self, request: Request, client_id: FromPath[int], data: FormBody) -> Any:
        rt = runtime(request)
        _, questions = await paperwork.intake_form(current_user(request).id, client_id, rt.clock.now())
        form = Form.of(data, multiline=rules.multiline_fields(questions))
        answers = rules.clean_intake(form, questions)
        name, _ = rules.signature_problems(form)
        if form.ok:
            try:
                await paperwork.submit_intake(
                    current_user(request).id,
                    client_id,
                    answers,
                    name,
                    now=rt.clock.now(),
                    actor=actor_of(request),
                )
            except PaperworkProblem as problem:
                form.error(problem.field, problem.message)
            else:
                await flash(request, "Thank you. Your answers are with your therapist.")
                return redirect(request, "/portal/forms")
        return await self._intake_page(
            request, client_id, values=form.data, errors=form.errors, status_code=422
        )

    @get("/copies/{kind:str}/{copy_id:int}", name="portal_signed_copy")
    async def copy(self, request: Request, kind: FromPath[str], copy_id: FromPath[int]) -> Response:
        found = await paperwork.copy_for_client_user(
            current_user(request).id,
            _kind(kind),
            copy_id,
            now=runtime(request).clock.now(),
            actor=actor_of(request),
        )
        return _pdf(found)
