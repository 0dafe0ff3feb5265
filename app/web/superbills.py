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
from app.web.guards import client_only, clinician_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import actor_of, current_user, runtime

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
    async def page(self, request: Request) -> Template:
        user = current_user(request)
        return await render(
            request,
            "superbills/portal.html",
            {
                "records": await superbills.portal_records(user.id),
                "estimates": await estimates.for_portal(user.id),
                "frequencies": rules.FREQUENCIES,
                "zone": user.time_zone,
            },
        )

    @post("/superbills/{client_id:int}/frequency")
    async def choose(self, request: Request, client_id: FromPath[int], data: FormBody) -> Response:
        rt = runtime(request)
        form = Form.of(data)
        frequency = form.data.get("frequency", "") if form.ok else ""  # refused after the ownership check
        try:
            made = await superbills.choose_frequency(
                current_user(request).id,
                client_id,
                frequency,
                now=rt.clock.now(),
                actor=actor_of(request),
                settings=rt.settings,
            )
        except superbills.FrequencyRefused:
            await flash(request, "Choose one of the options.")
        else:
            note = f" {made} monthly superbill{'s' if made != 1 else ''} ready below." if made else ""
            await flash(request, f"Saved: {rules.FREQUENCIES[frequency].lower()}.{note}")
        return redirect(request, "/portal/insurance/superbills")

    @get("/superbills/{superbill_id:int}/pdf", name="portal_superbill_pdf")
    async def superbill_pdf(self, request: Request, superbill_id: FromPath[int]) -> Response:
        return _pdf(*await superbills.pdf_for_client(current_user(request).id, superbill_id))

    @get("/estimates/{estimate_id:int}/pdf", name="portal_estimate_pdf")
    async def estimate_pdf(self, request: Request, estimate_id: FromPath[int]) -> Response:
        return _pdf(*await estimates.pdf_for_client(current_user(request).id, estimate_id))


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

    def _context(self, request: Request, setup, values, errors) -> dict[str, Any]:
        return {
            "setup": setup,
            "values": values,
            "errors": errors,
            "may_edit_practice": may(current_user(request).member_role, Ability.CHANGE_PRACTICE_SETTINGS),
            "tax_id_kinds": TAX_ID_KINDS,
            "places": PLACES_OF_SERVICE,
            "codes": SERVICE_CODES,
        }

    @get("/", name="billing_setup")
    async def page(self, request: Request) -> Template:
        setup = await superbills.billing_setup(current_user(request), runtime(request).settings)
        return await render(
            request, "superbills/setup.html", self._context(request, setup, _setup_values(setup), {})
        )

    @post("/")
    async def save(self, request: Request, data: FormBody) -> Any:
        rt = runtime(request)
        member = current_user(request)
        form = Form.of(data)
        allowed = may(member.member_role, Ability.CHANGE_PRACTICE_SETTINGS)
        setup = await superbills.billing_setup(member, rt.settings)
        values = _billing_setup_from(form, allowed, setup)
        if form.ok:
            await superbills.save_billing_setup(
                member, **values, now=rt.clock.now(), actor=actor_of(request), settings=rt.settings
            )
            await flash(request, "Billing details saved.")
            return redirect(request, "/account/billing")
        return await render(
            request,
            "superbills/setup.html",
            self._context(request, setup, form.data, form.errors),
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
        self, request: Request, client_id: int, values=None, errors=None, q: str = "", status_code=200
    ):
        rt = runtime(request)
        member = current_user(request)
        billing = await superbills.client_billing(member, client_id, rt.settings)
        history, standing = await estimates.for_member(member, client_id, now=rt.clock.now())
        sessions = await superbills.sessions_to_code(member, client_id, now=rt.clock.now())
        details = billing.details
        return await render(
            request,
            "superbills/client.html",
            {
                "billing": billing,
                "estimates": history,
                "standing": standing,
                "values": values
                or {
                    "date_of_birth": details.date_of_birth.isoformat() if details.date_of_birth else "",
                    "address": details.address,
                    "diagnosis_codes": ", ".join(details.diagnosis_codes),
                    "consented": "on" if details.consented else "",
                },
                "errors": errors or {},
                "q": q,
                "matches": search_diagnoses(q[:100]) if q else [],
                "frequencies": rules.FREQUENCIES,
                "zone": member.time_zone,
                "sessions": sessions,
                "codes": SERVICE_CODES,
                "places": PLACES_OF_SERVICE,
            },
            status_code=status_code,
        )

    @get("/billing", name="client_billing")
    async def page(self, request: Request, client_id: FromPath[int], q: FromQuery[str] = "") -> Template:
        return await self._page(request, client_id, q=q)

    @post("/billing")
    async def save(self, request: Request, client_id: FromPath[int], data: FormBody) -> Any:
        form = Form.of(data)
        values = _client_details_from(form)
        if not form.ok:
            return await self._page(request, client_id, form.data, form.errors, status_code=422)
        rt = runtime(request)
        await superbills.save_client_details(
            current_user(request), client_id, **values, now=rt.clock.now(), actor=actor_of(request)
        )
        await flash(request, "Billing details saved.")
        return redirect(request, f"/clients/{client_id}/billing")

    @post("/sessions/{appointment_id:int}/codes")
    async def codes(
        self, request: Request, client_id: FromPath[int], appointment_id: FromPath[int], data: FormBody
    ) -> Any:
        rt = runtime(request)
        form = Form.of(data)
        try:
            fee_changed = await superbills.set_session_codes(
                current_user(request),
                client_id,
                appointment_id,
                service_code=form.data.get("service_code", "") if form.ok else "?",
                place_of_service=form.data.get("place_of_service", "") if form.ok else "?",
                now=rt.clock.now(),
                actor=actor_of(request),
            )
        except superbills.CodeRefused:
            await flash(request, "Choose a service code and place of service from the lists.")
        else:
            await flash(
                request,
                "Codes saved."
                + (" The session's fee is now the default for that service." if fee_changed else ""),
            )
        return redirect(request, f"/clients/{client_id}/billing")

    @get("/superbills/{superbill_id:int}/pdf", name="client_superbill_pdf")
    async def pdf(self, request: Request, client_id: FromPath[int], superbill_id: FromPath[int]) -> Response:
        return _pdf(*await superbills.pdf_for_member(current_user(request), client_id, superbill_id))

    @post("/superbills/{superbill_id:int}/regenerate")
    async def regenerate(
        self, request: Request, client_id: FromPath[int], superbill_id: FromPath[int]
    ) -> Any:
        rt = runtime(request)
        issued = await superbills.regenerate(
            current_user(request),
            client_id,
            superbill_id,
            now=rt.clock.now(),
            actor=actor_of(request),
            settings=rt.settings,
        )
        if issued.superbill_id is None:
            await flash(
                request,
                "Not made again: " + "; ".join(issued.missing or ["no paid sessions in it now"]) + ".",
            )
        else:
            await flash(request, "Superbill made again from today's details.")
        return redirect(request, f"/clients/{client_id}/billing")

    @post("/superbills/{superbill_id:int}/resend")
    async def resend(self, request: Request, client_id: FromPath[int], superbill_id: FromPath[int]) -> Any:
        rt = runtime(request)
        jobs = await superbills.resend(
            current_user(request),
            client_id,
            superbill_id,
            now=rt.clock.now(),
            actor=actor_of(request),
            settings=rt.settings,
        )
        await rt.queue.enqueue_all(jobs)
        await flash(request, "Sent to the client again.")
        return redirect(request, f"/clients/{client_id}/billing")
