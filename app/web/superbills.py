"""Superbills and Good Faith Estimates on the web (R15, R16).

The client, in the portal (under Insurance): how often they want superbills, and downloads of their
superbills and estimates. The clinician: their billing details (Account), and on a client's billing
page the readiness check, birth date, address and diagnosis with consent, each superbill to
download, resend or make again, the estimates and the $400 warning.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Response, Template

from app.domain import superbills as rules
from app.domain.billing_codes import (
    PLACES_OF_SERVICE,
    SERVICE_CODES,
    clean_tax_id,
    parse_diagnosis_codes,
    search_diagnoses,
    valid_npi,
)
from app.domain.members import Ability, may
from app.domain.practice import money_input
from app.domain.validation import Form, year_problem
from app.services import estimates, superbills
from app.services.context import CurrentUser
from app.web.guards import client_only, clinician_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import Context, RequestContext, User

FormBody = URLEncodedBody[dict[str, Any]]
TAX_ID_KINDS = {"ein": "EIN (employer identification number)", "ssn": "SSN (social security number)"}


def _pdf(name: str, content: bytes) -> Response:
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


class PortalSuperbillsController(Controller):
    path = "/portal/insurance"
    guards = [client_only]

    @get("/superbills", name="portal_superbills")
    async def page(self, request: Request, user: User) -> Template:
        return await render(
            request,
            "superbills/portal.html",
            {
                "records": await superbills.portal_records(user.id),
                "estimates": await estimates.for_portal(user.id),
                "askable": await estimates.askable(user.id),
                "frequencies": rules.FREQUENCIES,
                "zone": user.time_zone,
            },
        )

    @post("/superbills/{client_id:int}/frequency")
    async def choose(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Response:
        form = Form.of(data)
        frequency = form.data.get("frequency", "") if form.ok else ""  # refused after the ownership check
        try:
            made = await superbills.choose_frequency(
                user.id, client_id, frequency, **ctx.acting, settings=ctx.settings
            )
        except superbills.FrequencyRefused:
            await flash(request, "Choose one of the options.")
        else:
            note = f" {made} monthly superbill{'s' if made != 1 else ''} ready below." if made else ""
            await flash(request, f"Saved: {rules.FREQUENCIES[frequency].lower()}.{note}")
        return redirect(request, "/portal/insurance/superbills")

    @get("/superbills/{superbill_id:int}/pdf", name="portal_superbill_pdf")
    async def superbill_pdf(self, superbill_id: FromPath[int], user: User) -> Response:
        return _pdf(*await superbills.pdf_for_client(user.id, superbill_id))

    @post("/estimates/{client_id:int}/request")
    async def request_estimate(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context
    ) -> Response:
        try:
            issued = await estimates.request_estimate(user.id, client_id, **ctx.sending)
        except estimates.EstimateRefused:
            await flash(
                request, "Good Faith Estimates are for clients paying for themselves, not through insurance."
            )
        else:
            await flash(
                request,
                "Your Good Faith Estimate is ready below and on its way by email."
                if issued
                else "Asked: your practice will send your Good Faith Estimate within 3 business days.",
            )
        return redirect(request, "/portal/insurance/superbills")

    @get("/estimates/{estimate_id:int}/pdf", name="portal_estimate_pdf")
    async def estimate_pdf(self, estimate_id: FromPath[int], user: User) -> Response:
        return _pdf(*await estimates.pdf_for_client(user.id, estimate_id))


def _billing_setup_from(
    form: Form, may_edit_practice: bool, setup: superbills.BillingSetup
) -> dict[str, Any]:
    npi = form.text("npi", label="NPI", required=False, max_length=10).replace(" ", "")
    if npi and not valid_npi(npi):
        form.error("npi", "Enter your 10-digit NPI as it is in the NPI registry.")
    values: dict[str, Any] = {
        "licence_number": form.text("licence_number", label="Licence number", required=False, max_length=60),
        "npi": npi,
    }
    if not may_edit_practice:
        return values
    kind = form.choice("tax_id_kind", TAX_ID_KINDS, label="Tax ID type", default="ein")
    typed = form.text("tax_id", label="Tax ID", required=False, max_length=20)
    tax_id = clean_tax_id(kind, typed) if typed else None
    if typed and tax_id is None:
        form.error("tax_id", "A tax ID has 9 digits, like 12-3456789 (EIN) or 123-45-6789 (SSN).")
    group_npi = form.text("group_npi", label="Group NPI", required=False, max_length=10).replace(" ", "")
    if group_npi and not valid_npi(group_npi):
        form.error("group_npi", "Enter the practice's 10-digit group NPI, or leave it empty.")
    return values | {
        "legal_name": form.name("legal_name", label="Legal name", required=False),
        "tax_id_kind": kind,
        "tax_id": tax_id,
        "group_npi": group_npi,
        "address": form.text("address", label="Address", required=False, max_length=300),
        "phone": form.text("phone", label="Phone", required=False, max_length=40),
        "place_of_service": form.choice("place_of_service", PLACES_OF_SERVICE, label="Place of service"),
        "fees": {
            code: form.money(
                f"fee_{code}",
                label=f"fee for {code}",
                ceiling=setup.fee_ceiling,
                currency=setup.currency,
                required=False,
            )
            for code in SERVICE_CODES
        },
    }


def _setup_values(setup: superbills.BillingSetup) -> dict[str, Any]:
    return setup.__dict__ | {f"fee_{code}": money_input(fee) for code, fee in setup.fees.items()}


class BillingSetupController(Controller):
    path = "/account/billing"
    guards = [clinician_only]

    def _context(self, user: CurrentUser, setup, values, errors) -> dict[str, Any]:
        return {
            "setup": setup,
            "values": values,
            "errors": errors,
            "may_edit_practice": may(user.member_role, Ability.CHANGE_PRACTICE_SETTINGS),
            "tax_id_kinds": TAX_ID_KINDS,
            "places": PLACES_OF_SERVICE,
            "codes": SERVICE_CODES,
        }

    @get("/", name="billing_setup")
    async def page(self, request: Request, user: User, ctx: Context) -> Template:
        setup = await superbills.billing_setup(user, ctx.settings)
        return await render(
            request, "superbills/setup.html", self._context(user, setup, _setup_values(setup), {})
        )

    @post("/")
    async def save(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        form = Form.of(data)
        setup = await superbills.billing_setup(user, ctx.settings)
        values = _billing_setup_from(form, may(user.member_role, Ability.CHANGE_PRACTICE_SETTINGS), setup)
        if form.ok:
            await superbills.save_billing_setup(user, **values, **ctx.acting, settings=ctx.settings)
            await flash(request, "Billing details saved.")
            return redirect(request, "/account/billing")
        return await render(
            request,
            "superbills/setup.html",
            self._context(user, setup, form.data, form.errors),
            status_code=422,
        )


def _client_details_from(form: Form) -> dict[str, Any]:
    raw = form.data.get("date_of_birth", "").strip()
    born = None
    if raw:
        try:
            born = date.fromisoformat(raw)
        except ValueError:
            form.error("date_of_birth", "Enter the date of birth like 1990-04-12.")
        else:
            problem = year_problem(born.year, "The date of birth")
            if problem:
                form.error("date_of_birth", problem)
                born = None
    codes, unknown = parse_diagnosis_codes(
        form.text("diagnosis_codes", label="Diagnosis codes", required=False)
    )
    if unknown:
        form.error(
            "diagnosis_codes", f"Not in the ICD-10 list: {', '.join(unknown[:5])}. Search for the code below."
        )
    if len(codes) > 12:
        form.error("diagnosis_codes", "A superbill holds at most 12 diagnosis codes.")
    return {
        "date_of_birth": born,
        "address": form.text("address", label="Address", required=False, max_length=300),
        "diagnosis_codes": codes,
        "consented": form.checkbox("consented"),
    }


class ClientBillingController(Controller):
    path = "/clients/{client_id:int}"
    guards = [clinician_only]

    async def _page(
        self,
        request: Request,
        user: CurrentUser,
        ctx: RequestContext,
        client_id: int,
        *,
        form=None,
        q: str = "",
    ) -> Template:
        billing = await superbills.client_billing(user, client_id, ctx.settings)
        history, standing = await estimates.for_member(user, client_id, now=ctx.now)
        details = billing.details
        saved = {
            "date_of_birth": details.date_of_birth.isoformat() if details.date_of_birth else "",
            "address": details.address,
            "diagnosis_codes": ", ".join(details.diagnosis_codes),
            "consented": "on" if details.consented else "",
        }
        context = {
            "billing": billing,
            "estimates": history,
            "standing": standing,
            "estimate_missing": await estimates.readiness(client_id, ctx.settings),
            "estimate_request": await estimates.pending_request(client_id),
            "values": form.data if form else saved,
            "errors": form.errors if form else {},
            "q": q,
            "matches": search_diagnoses(q[:100]) if q else [],
            "frequencies": rules.FREQUENCIES,
            "zone": user.time_zone,
            "sessions": await superbills.sessions_to_code(user, client_id, now=ctx.now),
            "codes": SERVICE_CODES,
            "places": PLACES_OF_SERVICE,
        }
        return await render(request, "superbills/client.html", context, status_code=422 if form else 200)

    @get("/billing", name="client_billing")
    async def page(
        self, request: Request, client_id: FromPath[int], user: User, ctx: Context, q: FromQuery[str] = ""
    ) -> Template:
        return await self._page(request, user, ctx, client_id, q=q)

    @post("/billing")
    async def save(
        self, request: Request, client_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Any:
        form = Form.of(data)
        values = _client_details_from(form)
        if not form.ok:
            return await self._page(request, user, ctx, client_id, form=form)
        await superbills.save_client_details(user, client_id, **values, **ctx.acting)
        await flash(request, "Billing details saved.")
        return redirect(request, f"/clients/{client_id}/billing")

    @post("/sessions/{appointment_id:int}/codes")
    async def codes(
        self,
        request: Request,
        client_id: FromPath[int],
        appointment_id: FromPath[int],
        data: FormBody,
        user: User,
        ctx: Context,
    ) -> Any:
        form = Form.of(data)
        chosen = {
            name: form.data.get(name, "") if form.ok else "?" for name in ("service_code", "place_of_service")
        }
        try:
            fee_changed = await superbills.set_session_codes(
                user, client_id, appointment_id, **chosen, **ctx.acting
            )
        except superbills.CodeRefused:
            await flash(request, "Choose a service code and place of service from the lists.")
        else:
            note = " The session's fee is now the default for that service." if fee_changed else ""
            await flash(request, "Codes saved." + note)
        return redirect(request, f"/clients/{client_id}/billing")

    @get("/superbills/{superbill_id:int}/pdf", name="client_superbill_pdf")
    async def pdf(self, client_id: FromPath[int], superbill_id: FromPath[int], user: User) -> Response:
        return _pdf(*await superbills.pdf_for_member(user, client_id, superbill_id))

    @post("/superbills/{superbill_id:int}/regenerate")
    async def regenerate(
        self,
        request: Request,
        client_id: FromPath[int],
        superbill_id: FromPath[int],
        user: User,
        ctx: Context,
    ) -> Any:
        issued = await superbills.regenerate(
            user, client_id, superbill_id, **ctx.acting, settings=ctx.settings
        )
        if issued.superbill_id is None:
            missing = "; ".join(issued.missing or ["no paid sessions in it now"])
            await flash(request, f"Not made again: {missing}.")
        else:
            await flash(request, "Superbill made again from today's details.")
        return redirect(request, f"/clients/{client_id}/billing")

    @post("/superbills/{superbill_id:int}/resend")
    async def resend(
        self,
        request: Request,
        client_id: FromPath[int],
        superbill_id: FromPath[int],
        user: User,
        ctx: Context,
    ) -> Any:
        jobs = await superbills.resend(user, client_id, superbill_id, **ctx.acting, settings=ctx.settings)
        await ctx.queue.enqueue_all(jobs)
        await flash(request, "Sent to the client again.")
        return redirect(request, f"/clients/{client_id}/billing")
