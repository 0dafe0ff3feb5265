"""The practice's late-cancel and no-show fee policy (R4): the owner's settings screen. The
rules are in app/domain/fees.py; who may change it and the audit line are in app/services/fees.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template

from app.domain import fees as rules
from app.domain.validation import MULTILINE_FIELDS, Form
from app.models.tables import Practice
from app.services import fees
from app.web.guards import member_only
from app.web.htmx import flash, redirect, render
from app.web.runtime import Context, User

FormBody = URLEncodedBody[dict[str, Any]]
POLICY_URL = "/practice/fees"
NOTE_LENGTH = 1000


CHANGED_WHILE_OPEN = "The fee policy changed while this page was open. Please read it again."


def agreed_fee_version(form: Form, words: tuple[str, str] | None, box: str = "agree_fees") -> str | None:
    """The fee policy version the client ticked "I agree" (``box``) under; a message beside the box when
    they did not, or when the words changed since the page was shown. None when there is nothing to agree
    to."""
    if words is None:
        return None
    if not form.checkbox(box):
        form.error(box, "Please agree to the fee policy to continue.")
    elif form.data.get("fee_version") != words[1]:
        form.error(box, CHANGED_WHILE_OPEN)
        form.data.pop(box, None)
    return words[1]


def policy_values(practice: Practice) -> dict[str, str]:
    """The form's values for the policy as it is."""
    return {
        "late_cancel_fee": rules.fee_field(
            rules.FeeRule(practice.late_cancel_fee_minor, practice.late_cancel_fee_percent)
        ),
        "no_show_fee": rules.fee_field(
            rules.FeeRule(practice.no_show_fee_minor, practice.no_show_fee_percent)
        ),
        "free_late_cancels": str(practice.free_late_cancels),
        "fee_policy_note": practice.fee_policy_note or "",
        "fee_free_reschedule": "on" if practice.fee_free_reschedule else "",
    }


def policy_choice(form: Form, practice: Practice) -> fees.PolicyChoice:
    """The policy the form describes, with a message beside every field that can't be read."""

    def fee(name: str) -> rules.FeeRule:
        rule, problem = rules.parse_fee(form.data.get(name, ""), practice.max_fee_minor, practice.currency)
        if problem:
            form.error(name, problem)
        return rule

    return fees.PolicyChoice(
        late_cancel=fee("late_cancel_fee"),
        no_show=fee("no_show_fee"),
        free_late_cancels=form.integer(
            "free_late_cancels", label="Free late cancels", minimum=0, maximum=rules.MAX_FREE_LATE_CANCELS
        )
        or 0,
        note=form.text("fee_policy_note", label="Your words", required=False, max_length=NOTE_LENGTH),
        free_reschedule=form.checkbox("fee_free_reschedule"),
    )


async def policy_page(
    request: Request, practice: Practice, values: dict[str, str], errors=None, status_code: int = 200
) -> Template:
    current = fees.current_text(practice)
    context = {
        "practice": practice,
        "values": values,
        "errors": errors or {},
        "policy_text": current[0] if current else None,
        "version": current[1] if current else None,
        "agreed": await fees.agreed_count(practice.id, current[1]) if current else 0,
        "note_length": NOTE_LENGTH,
    }
    return await render(request, "practice/fees.html", context, status_code=status_code)


class FeePolicyController(Controller):
    path = POLICY_URL
    guards = [member_only]

    @get("/", name="fee_policy")
    async def show(self, request: Request, user: User) -> Template:
        practice = await fees.practice_for(user)
        return await policy_page(request, practice, policy_values(practice))

    @post("/")
    async def save(self, request: Request, data: FormBody, user: User, ctx: Context) -> Any:
        practice = await fees.practice_for(user)
        form = Form.of(data, multiline=MULTILINE_FIELDS | {"fee_policy_note"})
        choice = policy_choice(form, practice)
        if not form.ok:
            return await policy_page(request, practice, form.data, form.errors, status_code=400)
        version = await fees.save_policy(user, choice, **ctx.acting)
        await flash(
            request, f"Fee policy saved (version {version})." if version else "Fee policy saved: no fees."
        )
        return redirect(request, POLICY_URL)
