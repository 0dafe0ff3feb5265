"""Charges on screen: the appointment panel's charge (clinician: countdown, waive, retry, refund,
receipt) and the client's card on file and receipts. Every query is scoped to the signed-in person."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Response, Template

from app.domain.charges import refund_problem
from app.domain.members import Ability, may
from app.domain.practice import MAX_FEE_CEILING, format_money
from app.domain.validation import Form
from app.payments import gateway_for
from app.payments.base import NOT_CONFIRMED, CardRejected, GatewayUnavailable
from app.services import cards, charges, disputes
from app.services.context import CurrentUser
from app.web.guards import client_only, clinician_only, in_the_record_s_calendar
from app.web.htmx import flash, redirect, render, wants_fragment
from app.web.middleware import stripe_card_csp
from app.web.runtime import Context, Now, RequestContext, User

FormBody = URLEncodedBody[dict[str, Any]]
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
CONFIRMATION_PENDING = "Your bank hasn't confirmed the payment yet. We'll show it here as soon as it has."
SETUP_INTENT = re.compile(r"^seti_[A-Za-z0-9_]{1,100}$")


async def _panel(
    request: Request,
    user: CurrentUser,
    appointment_id: int,
    now: datetime,
    *,
    message: str = "",
    errors: dict | None = None,
    values: dict | None = None,
    confirm: dict | None = None,
    request_id: str = "",
) -> Template:
    appointment, view = await charges.panel_for_clinician(
        appointment_id, clinician_id=user.clinician_id, now=now
    )
    context = {
        "appointment": appointment,
        "view": view,
        "message": message,
        "errors": errors or {},
        "values": values or {},
        "confirm": confirm,
        "request_id": request_id or secrets.token_urlsafe(12),
        "zone": user.time_zone,
        "may_resume": user.is_member and may(user.member_role, Ability.CHANGE_PRACTICE_SETTINGS),
    }
    return await render(request, "charges/appointment.html", context, fragment="charges/_panel.html")


def _refund_form(form: Form) -> int | None:
    """The amount to refund, and a message when the form can't be used."""
    # The amount charged is the real limit (the service checks it); a ceiling lowered since then
    # must not stop a full refund, so only the most any practice may charge bounds the field.
    amount = form.money(
        "amount", label="amount", ceiling=MAX_FEE_CEILING, unreadable="Enter an amount like 150 or 75.50."
    )
    if not REQUEST_ID.match(form.data.get("request_id", "")):
        form.error("form", "Reload the page and try again.")
    return amount


class AppointmentChargeController(Controller):
    """The charge section of a clinician's appointment panel."""

    path = "/appointments/{appointment_id:int}/charge"
    guards = [clinician_only, in_the_record_s_calendar]

    @get("/", name="appointment_charge")
    async def show(self, request: Request, appointment_id: FromPath[int], user: User, now: Now) -> Template:
        return await _panel(request, user, appointment_id, now)

    async def _done(
        self, request: Request, user: CurrentUser, appointment_id: int, now: datetime, message: str
    ) -> Template | Response:
        if request.headers.get("hx-request") == "true":
            return await _panel(request, user, appointment_id, now, message=message)
        return redirect(request, f"/appointments/{appointment_id}/charge")

    async def _act(
        self,
        request: Request,
        user: CurrentUser,
        appointment_id: int,
        now: datetime,
        action: Awaitable,
        message: str,
    ) -> Template | Response:
        """Run a waive or retry: the panel with the refusal beside the form, or ``message`` when done."""
        try:
            await action
        except charges.ChargeActionRefused as refused:
            return await _panel(request, user, appointment_id, now, errors={"form": refused.message})
        return await self._done(request, user, appointment_id, now, message)

    @post("/waive")
    async def waive(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Template | Response:
        form = Form.of(data)
        reason = form.text("waive_reason", label="Reason", required=False, max_length=200)
        try:
            if not form.ok:
                raise charges.ChargeActionRefused(
                    form.errors.get("waive_reason") or next(iter(form.errors.values()))
                )
            await charges.waive_charge(
                appointment_id, clinician_id=user.clinician_id, reason=reason, queue=ctx.queue, **ctx.acting
            )
        except charges.ChargeActionRefused as refused:
            errors = {"waive_reason" if "waive_reason" in form.data else "form": refused.message}
            return await _panel(request, user, appointment_id, ctx.now, errors=errors, values=form.data)
        message = "Charge waived. The client will not be charged."
        return await self._done(request, user, appointment_id, ctx.now, message)

    @post("/retry")
    async def retry(
        self, request: Request, appointment_id: FromPath[int], user: User, ctx: Context
    ) -> Template | Response:
        retrying = charges.retry_charge(appointment_id, clinician_id=user.clinician_id, **ctx.sending)
        return await self._act(request, user, appointment_id, ctx.now, retrying, "Trying the card again now.")

    @post("/resume")
    async def resume(
        self, request: Request, appointment_id: FromPath[int], user: User, ctx: Context
    ) -> Template | Response:
        """The owner resumes automatic charging for a client whose payment was disputed."""
        resumed = await disputes.resume_charging(appointment_id, member=user, **ctx.acting)
        message = "Automatic charging resumed." if resumed else "Charging was not paused."
        return await self._done(request, user, appointment_id, ctx.now, message)

    @post("/refund")
    async def refund(
        self, request: Request, appointment_id: FromPath[int], data: FormBody, user: User, ctx: Context
    ) -> Template | Response:
        form = Form.of(data)
        amount = _refund_form(form)
        if not form.ok:
            return await _panel(request, user, appointment_id, ctx.now, errors=form.errors, values=form.data)
        if form.data.get("confirmed") != "yes":
            return await self._confirm(request, user, appointment_id, ctx.now, amount, form)
        try:
            refund = await charges.refund_charge(
                appointment_id,
                amount,
                form.data["request_id"],
                clinician_id=user.clinician_id,
                gateway=gateway_for(ctx.settings),
                **ctx.acting,
            )
        except charges.ChargeActionRefused as refused:
            errors = {"amount": refused.message}
            return await _panel(request, user, appointment_id, ctx.now, errors=errors, values=form.data)
        done = "Refunded" if refund.status == "succeeded" else "Refund started for"
        message = f"{done} {format_money(refund.amount_minor)}."
        return await self._done(request, user, appointment_id, ctx.now, message)

    async def _confirm(
        self, request: Request, user: CurrentUser, appointment_id: int, now: datetime, amount: int, form: Form
    ) -> Template:
        """The refund's second step: "Refund $150.00 to Visa ending 4242?" (nothing moves before "Refund")."""
        _, view = await charges.panel_for_clinician(appointment_id, clinician_id=user.clinician_id, now=now)
        problem = (
            refund_problem(view.charge.status, view.charge.amount_minor, view.charge.refunded_minor, amount)
            if view
            else "Only a paid charge can be refunded."
        )
        if problem:
            return await _panel(
                request, user, appointment_id, now, errors={"amount": problem}, values=form.data
            )
        confirm = {"amount_minor": amount}
        return await _panel(
            request, user, appointment_id, now, confirm=confirm, request_id=form.data["request_id"]
        )


@get("/charges/{charge_id:int}/receipt", guards=[clinician_only], name="clinician_receipt")
async def clinician_receipt(request: Request, charge_id: FromPath[int], user: User) -> Template:
    view = await charges.receipt_for_clinician(charge_id, clinician_id=user.clinician_id)
    return await render(request, "charges/receipt.html", {"view": view, "zone": user.time_zone})


def _card_form(form: Form, now: datetime) -> tuple[str, int | None, int | None]:
    """The sandbox card's number and expiry, with a message next to every field that can't be used."""
    number = form.text("number", label="Card number", max_length=30)
    month = form.integer("exp_month", label="Expiry month", minimum=1, maximum=12)
    year = form.integer("exp_year", label="Expiry year", minimum=2000, maximum=2100)
    if month and year and (year, month) < (now.year, now.month):
        form.error("exp_year", "This card has expired.")
    return number, month, year


async def _save_confirmed(form: Form, user_id: int, ctx: RequestContext) -> str:
    """Save the card of the posted SetupIntent; what went wrong, for the cardholder ("" when saved)."""
    setup_ref = form.text("setup_intent", label="Card confirmation", max_length=120)
    if not form.ok or not SETUP_INTENT.match(setup_ref):
        return NOT_CONFIRMED
    try:
        gateway = gateway_for(ctx.settings)
        await cards.save_confirmed_card(user_id, setup_ref, gateway=gateway, **ctx.sending)
    except CardRejected as rejected:
        return rejected.message
    except GatewayUnavailable:
        return "The card processor didn't answer. Try again in a minute."
    return ""


class PortalCardController(Controller):
    """The client's card on file and receipts."""

    path = "/portal"
    guards = [client_only]

    async def _page(
        self,
        request: Request,
        user: CurrentUser,
        ctx: RequestContext,
        *,
        errors: dict | None = None,
        values: dict | None = None,
        saved=False,
    ):
        context = {
            "card": await cards.card_on_file(user.id),
            "views": await charges.for_client_user(user.id, now=ctx.now),
            "gateway": ctx.settings.payment_gateway,
            "authorisation": await cards.authorisation_for(user.id),
            "errors": errors or {},
            "values": values or {},
            "saved": saved,
            "zone": user.time_zone,
        }
        headers = {}
        if ctx.settings.payment_gateway == "stripe":
            context["stripe"] = await self._stripe_form(user.id, ctx.settings)
            headers["Content-Security-Policy"] = stripe_card_csp(ctx.settings)
        return await render(
            request, "portal/card.html", context, fragment="portal/_card_form.html", headers=headers
        )

    @staticmethod
    async def _stripe_form(user_id: int, settings) -> dict[str, str]:
        """What Stripe.js needs: our publishable key, a SetupIntent's client secret, its own address."""
        try:
            secret = await cards.start_card_setup(user_id, gateway_for(settings))
        except GatewayUnavailable:
            secret = ""
        return {"key": settings.stripe_publishable_key, "secret": secret, "js_url": settings.stripe_js_url}

    @get("/card", name="portal_card")
    async def card(self, request: Request, user: User, ctx: Context) -> Template:
        return await self._page(request, user, ctx)

    @get("/charges", name="portal_charges")
    async def charges_list(self, request: Request, user: User, now: Now) -> Template | Response:
        """The card page's charges again, while one of them is pending (the page itself otherwise)."""
        if not wants_fragment(request):
            return redirect(request, "/portal/card")
        views = await charges.for_client_user(user.id, now=now)
        return await render(request, "portal/_charges.html", {"views": views, "zone": user.time_zone})

    @post("/card")
    async def save(self, request: Request, data: FormBody, user: User, ctx: Context) -> Template | Response:
        if ctx.settings.payment_gateway != "sandbox":
            raise NotFoundException()
        form = Form.of(data)
        number, month, year = _card_form(form, ctx.now)
        if form.ok:
            try:
                gateway = gateway_for(ctx.settings)
                await cards.save_sandbox_card(user.id, number, month, year, gateway=gateway, **ctx.sending)
            except CardRejected as rejected:
                form.error("number", rejected.message)
            except GatewayUnavailable:
                form.error("form", "The card processor didn't answer. Try again in a minute.")
        if not form.ok:
            values = {k: v for k, v in form.data.items() if k in {"exp_month", "exp_year"}}
            return await self._page(request, user, ctx, errors=form.errors, values=values)
        if request.headers.get("hx-request") == "true":
            return await self._page(request, user, ctx, saved=True)
        return redirect(request, "/portal/card")

    @post("/card/confirmed")
    async def save_confirmed(
        self, request: Request, data: FormBody, user: User, ctx: Context
    ) -> Template | Response:
        """Stripe.js confirmed a SetupIntent in the browser: save its card if it is this person's."""
        if ctx.settings.payment_gateway != "stripe":
            raise NotFoundException()
        problem = await _save_confirmed(Form.of(data), user.id, ctx)
        if problem:
            return await self._page(request, user, ctx, errors={"form": problem})
        await flash(request, "Card saved.")
        return redirect(request, "/portal/card")

    @get("/charges/{charge_id:int}/confirm", name="portal_confirm_payment")
    async def confirm_page(
        self, request: Request, charge_id: FromPath[int], user: User, ctx: Context
    ) -> Template:
        """The payment the client's bank asks them to confirm (3-D Secure), with the bank's check."""
        gateway = gateway_for(ctx.settings)
        view, secret = await charges.confirmation_page(
            charge_id, user_id=user.id, now=ctx.now, gateway=gateway
        )
        if secret is None:
            return await render(
                request, "portal/payment_not_needed.html", {"view": view, "zone": user.time_zone}
            )
        context = {"view": view, "zone": user.time_zone, "gateway": gateway.name}
        headers = {}
        if gateway.name == "stripe":
            context["stripe"] = {
                "key": ctx.settings.stripe_publishable_key,
                "secret": secret,
                "js_url": ctx.settings.stripe_js_url,
                "method": view.card.method_ref if view.card else "",
            }
            headers["Content-Security-Policy"] = stripe_card_csp(ctx.settings)
        return await render(request, "portal/confirm_payment.html", context, headers=headers)

    @post("/charges/{charge_id:int}/confirm")
    async def confirmed(
        self, request: Request, charge_id: FromPath[int], user: User, ctx: Context
    ) -> Response:
        """Back from the bank's check: paid, or still waiting for the bank."""
        try:
            outcome = await charges.confirmed_by_cardholder(
                charge_id,
                user_id=user.id,
                now=ctx.now,
                settings=ctx.settings,
                gateway=gateway_for(ctx.settings),
                queue=ctx.queue,
            )
        except GatewayUnavailable:
            outcome = "pending"
        paid = outcome in {"succeeded", "already_recorded"}
        await flash(request, "Payment confirmed. Thank you." if paid else CONFIRMATION_PENDING)
        return redirect(request, "/portal/card")

    @get("/charges/{charge_id:int}/receipt", name="client_receipt")
    async def receipt(self, request: Request, charge_id: FromPath[int], user: User) -> Template:
        view = await charges.receipt_for_client(charge_id, user_id=user.id)
        return await render(request, "charges/receipt.html", {"view": view, "zone": user.time_zone})
