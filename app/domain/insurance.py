"""Insurance rules (R6): copay limits and the client's coverage self-check.

The self-check is the list of questions the source article wants a client to ask their insurer.
Answers are optional (a client may know only some); amounts are integer minor units (R10).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.domain.practice import format_money, parse_money
from app.domain.validation import Form, is_digits

MAX_COPAY_MINOR = 1_000_00  # a session copay above $1,000 is a typing mistake, not a plan
MAX_DEDUCTIBLE_MINOR = 100_000_00
MAX_PLAN_NOTES = 2000
MAX_COVERAGE_NOTE = 1000
MAX_SELF_CHECK_NOTES = 1000

YES_NO = {"yes": "Yes", "no": "No", "unsure": "Not sure yet"}


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    choices: dict[str, str]


def questions(licence_type: str, practice_name: str) -> list[Question]:
    """The self-check questions, worded for this practice."""
    licence = licence_type.strip() or "a licensed therapist (ask your clinician for their licence type)"
    return [
        Question("licence_covered", f"Does your plan cover sessions with {licence}?", YES_NO),
        Question(
            "network",
            f"Is {practice_name} in or out of your plan's network?",
            {"in": "In network", "out": "Out of network", "unsure": "Not sure yet"},
        ),
        Question("telehealth", "Are telehealth (video) sessions covered?", YES_NO),
        Question("deductible", "Do you have a deductible to meet before coverage starts?", YES_NO),
        Question(
            "cost_share",
            "What do you pay per session?",
            {
                "copay": "A fixed copay",
                "coinsurance": "A percentage (coinsurance)",
                "nothing": "Nothing",
                "unsure": "Not sure yet",
            },
        ),
        Question(
            "oon_reimbursement",
            "If out of network: does your plan pay you back part of the fee (reimbursement)?",
            {**YES_NO, "not_needed": "Not needed: in network"},
        ),
        Question("preauth", "Do you need pre-authorisation before the first session?", YES_NO),
    ]


AMOUNTS = {
    "deductible_total": "Deductible for the year",
    "deductible_left": "Deductible left to meet",
    "copay_amount": "Copay per session",
}


def copay_problem(amount: int | None, ceiling: int | None = None) -> str | None:
    """Why a copay can't be saved: negative, over the practice's highest fee, or implausibly high."""
    if amount is None:
        return None
    if amount < 0:
        return "The copay can't be negative."
    if amount > MAX_COPAY_MINOR:
        return f"A copay over {format_money(MAX_COPAY_MINOR)} a session looks like a typo. Check the amount."
    if ceiling is not None and amount > ceiling:
        return f"The copay can't be more than {format_money(ceiling)} (the practice's limit per session)."
    return None


def _amount(form: Form, name: str, label: str, maximum: int) -> int | None:
    text = form.data.get(name, "").strip()
    if not text:
        return None
    amount = parse_money(text)
    if amount is None:
        form.error(name, f"Enter the {label.lower()} as an amount, like 250 or 250.50.")
    elif amount < 0:
        form.error(name, f"The {label.lower()} can't be negative.")
    elif amount > maximum:
        form.error(name, f"That {label.lower()} looks too high. Check the amount.")
    else:
        return amount
    return None


def clean_self_check(form: Form, asked: list[Question]) -> dict:
    """The answers of a submitted self-check; problems are recorded on ``form``."""
    answers: dict = {}
    for question in asked:
        value = form.data.get(question.key, "").strip()
        if value and value not in question.choices:
            form.error(question.key, "Choose one of the answers.")
        elif value:
            answers[question.key] = value
    total = _amount(form, "deductible_total", AMOUNTS["deductible_total"], MAX_DEDUCTIBLE_MINOR)
    left = _amount(form, "deductible_left", AMOUNTS["deductible_left"], MAX_DEDUCTIBLE_MINOR)
    if total is not None and left is not None and left > total:
        form.error("deductible_left", "What's left can't be more than the whole deductible.")
    copay = _amount(form, "copay_amount", AMOUNTS["copay_amount"], MAX_COPAY_MINOR)
    percent_text = form.data.get("coinsurance_percent", "").strip().rstrip("%").strip()
    percent = None
    if percent_text:
        if not is_digits(percent_text) or not 0 <= int(percent_text) <= 100:
            form.error("coinsurance_percent", "Enter the percentage as a whole number from 0 to 100.")
        else:
            percent = int(percent_text)
    notes = form.text("notes", label="Notes", required=False, max_length=MAX_SELF_CHECK_NOTES)
    for key, value in (
        ("deductible_total_minor", total),
        ("deductible_left_minor", left),
        ("copay_minor", copay),
        ("coinsurance_percent", percent),
    ):
        if value is not None:
            answers[key] = value
    if notes:
        answers["notes"] = notes
    return answers


def load_answers(text: str) -> dict:
    """Stored answers (JSON text); anything unreadable counts as no answers."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_answers(answers: dict) -> str:
    return json.dumps(answers, sort_keys=True)


def form_values(answers: dict) -> dict[str, str]:
    """Stored answers as the form's text values (amounts back to 25.00)."""
    values = {k: str(v) for k, v in answers.items() if not k.endswith("_minor")}
    for key in ("deductible_total", "deductible_left"):
        if answers.get(f"{key}_minor") is not None:
            values[key] = _plain(answers[f"{key}_minor"])
    if answers.get("copay_minor") is not None:
        values["copay_amount"] = _plain(answers["copay_minor"])
    return values


def _plain(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def summary(answers: dict, asked: list[Question], currency: str = "USD") -> list[tuple[str, str]]:
    """(question, answer) lines for the clinician, in question order; unanswered ones are skipped."""
    lines: list[tuple[str, str]] = []
    for question in asked:
        answer = question.choices.get(answers.get(question.key, ""))
        if question.key == "deductible" and answers.get("deductible_total_minor") is not None:
            total = format_money(answers["deductible_total_minor"], currency)
            left = answers.get("deductible_left_minor")
            amount = f"{total}" + (f", {format_money(left, currency)} left" if left is not None else "")
            answer = f"{answer}: {amount}" if answer else amount
        if question.key == "cost_share":
            if answers.get("copay_minor") is not None:
                answer = f"{answer or 'Copay'}: {format_money(answers['copay_minor'], currency)}"
            elif answers.get("coinsurance_percent") is not None:
                answer = f"{answer or 'Coinsurance'}: {answers['coinsurance_percent']}%"
        if answer:
            lines.append((question.text, answer))
    if answers.get("notes"):
        lines.append(("Notes", answers["notes"]))
    return lines
