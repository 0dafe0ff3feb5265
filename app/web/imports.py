"""Switching in (R13): the owner uploads a client list or a calendar, maps columns, reads the
preview, confirms, follows the progress (htmx polling), invites the new clients or undoes the import."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, URLEncodedBody
from litestar.response import Response, Template

from app.domain.imports import FIELD_LABELS, MAX_BYTES, ClientField, ImportRefused
from app.services import imports
from app.services.errors import NotAllowed
from app.services.imports import ImportProblem
from app.web.guards import clinician_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import AppRuntime, Now, User

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
FormBody = URLEncodedBody[dict[str, Any]]
# Room above the 10 MB limit for the form around the file, so a larger file gets our own message.
MAX_REQUEST = MAX_BYTES + 2 * 1024 * 1024


async def _file(data: dict[str, Any]) -> tuple[str, bytes]:
    """The uploaded file's name and bytes (nothing chosen reads as an empty file, refused as such)."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        return "", b""
    return upload.filename or "upload", await upload.read(MAX_BYTES + 1)


class ImportsController(Controller):
    path = "/imports"
    guards = [clinician_only]

    async def _index(self, request: Request, user: User, errors: dict[str, str] | None = None) -> Template:
        try:
            recent = await imports.recent_imports(user)
        except NotAllowed:
            recent = None
        context = {"recent": recent, "errors": errors or {}}
        return await render(request, "imports/index.html", context, status_code=422 if errors else 200)

    @get("/", name="imports")
    async def index(self, request: Request, user: User) -> Template:
        return await self._index(request, user)

    async def _upload(
        self, request: Request, data: dict[str, Any], user: User, now: Now, kind: str, start: Any
    ) -> Response | Template:
        """Hand the file to ``start`` (the clients or calendar import): the batch's page, or the refusal."""
        try:
            name, content = await _file(data)
            batch_id = await start(user, name, content, now=now)
        except ImportRefused as refused:
            return await self._index(request, user, {kind: refused.message})
        return redirect(request, f"/imports/{batch_id}")

    @post("/clients", request_max_body_size=MAX_REQUEST)
    async def upload_clients(
        self, request: Request, data: Upload, user: User, now: Now
    ) -> Response | Template:
        return await self._upload(request, data, user, now, "clients", imports.upload_clients)

    @post("/calendar", request_max_body_size=MAX_REQUEST)
    async def upload_calendar(
        self, request: Request, data: Upload, user: User, now: Now
    ) -> Response | Template:
        return await self._upload(request, data, user, now, "calendar", imports.upload_calendar)

    @get("/{batch_id:int}", name="import")
    async def show(self, request: Request, batch_id: FromPath[int], user: User, now: Now) -> Template:
        state = await imports.progress(user, batch_id)
        context: dict[str, Any] = {"state": state, "labels": FIELD_LABELS, "fields": list(ClientField)}
        if state.status == "draft" and state.kind == "clients":
            context["preview"] = await imports.client_preview(user, batch_id)
        elif state.status == "draft":
            context["calendar"] = await imports.calendar_preview(user, batch_id, now=now)
        return await render(request, "imports/show.html", context)

    @get("/{batch_id:int}/progress")
    async def poll(self, request: Request, batch_id: FromPath[int], user: User) -> Template:
        state = await imports.progress(user, batch_id)
        return await render(request, "imports/_progress.html", {"state": state})

    @post("/{batch_id:int}/mapping")
    async def mapping(
        self, request: Request, batch_id: FromPath[int], data: FormBody, user: User
    ) -> Response:
        chosen = {key: str(data.get(key.value, "")) for key in ClientField}
        await imports.change_mapping(user, batch_id, chosen, str(data.get("on_existing", "skip")))
        return redirect(request, f"/imports/{batch_id}#preview")

    @post("/{batch_id:int}/confirm")
    async def confirm(
        self, request: Request, batch_id: FromPath[int], user: User, now: Now, rt: AppRuntime
    ) -> Response:
        await self._step(request, imports.confirm_clients(user, batch_id, now=now, queue=rt.queue))
        return redirect(request, f"/imports/{batch_id}")

    @post("/{batch_id:int}/decide")
    async def decide(
        self, request: Request, batch_id: FromPath[int], data: FormBody, user: User, now: Now
    ) -> Response:
        titles = [str(t) for t in _list(data.get("title"))]
        choices = [str(c) for c in _list(data.get("client"))]
        decisions = {
            t: int(c) if c.isdigit() and len(c) < 10 else 0 for t, c in zip(titles, choices, strict=False)
        }
        await self._step(request, imports.decide_unmatched(user, batch_id, decisions, now=now))
        return redirect(request, f"/imports/{batch_id}")

    @post("/{batch_id:int}/book")
    async def book(self, request: Request, batch_id: FromPath[int], user: User, now: Now) -> Response:
        await self._step(request, imports.confirm_sessions(user, batch_id, now=now))
        return redirect(request, f"/imports/{batch_id}")

    @post("/{batch_id:int}/undo")
    async def undo(self, request: Request, batch_id: FromPath[int], user: User, now: Now) -> Response:
        if await self._step(request, imports.undo_import(user, batch_id, now=now)):
            await flash(request, "The import was undone.")
        return redirect(request, f"/imports/{batch_id}")

    @post("/{batch_id:int}/invite")
    async def invite(
        self, request: Request, batch_id: FromPath[int], user: User, now: Now, rt: AppRuntime
    ) -> Response:
        if await self._step(request, imports.invite_imported(user, batch_id, now=now, queue=rt.queue)):
            await flash(request, f"Invitations are going out, {imports.INVITES_PER_MINUTE} a minute.")
        return redirect(request, f"/imports/{batch_id}")

    async def _step(self, request: Request, step) -> bool:
        """Run one import step; a refusal becomes a message on the next page."""
        try:
            await step
        except ImportProblem as problem:
            await flash(request, problem.message)
            return False
        return True


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
