"""Intake paperwork (R14): practice documents, the intake questionnaire, signatures and what is left.

A document is published as numbered versions that never change; a client signs one version by typing
their full name and ticking "I agree", and the signature keeps the SHA-256 of the exact text signed.
A new version either asks everyone to sign again or leaves earlier signatures standing.

The intake is a fixed standard questionnaire (contact, emergency contact, reason for seeking care, prior
therapy, medications, ...) that the practice can extend with its own questions; its answers are
confirmed the same way and kept as submitted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt

from app.domain.validation import Form, year_problem

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_SHORT_ANSWER = 200
MAX_LONG_ANSWER = 4000
MAX_QUESTIONS = 20
PLACEHOLDER_RE = re.compile(r"\[\[[^\]\n]{1,120}\]\]")


def signed_text(title: str, body: str) -> str:
    """The exact text a client signs: the title, a blank line and the Markdown body."""
    return f"{title}\n\n{body}"


def text_hash(text: str) -> str:
    """SHA-256 (hex) of ``text`` as UTF-8: printed on the signed copy, so anyone can check the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.disable("image")


def to_html(body: str) -> str:
    """Markdown as HTML for a page. Raw HTML in the text is escaped (``html`` off), images are left out
    (no request to another site from a client's browser), and markdown-it drops javascript:, vbscript:,
    file: and data: links."""
    return _markdown.render(body)


def placeholders(body: str) -> list[str]:
    """The ``[[…]]`` spots of a starter template still waiting for the practice's own words."""
    return PLACEHOLDER_RE.findall(body)


def document_problems(title: str, body: str) -> dict[str, str]:
    """Why a document can't be published, by field."""
    problems = {}
    if not title.strip():
        problems["title"] = "Give the document a title."
    elif len(title.strip()) > MAX_TITLE:
        problems["title"] = f"Keep the title under {MAX_TITLE} characters."
    if not body.strip():
        problems["body"] = "Write the text clients will sign."
    elif len(body) > MAX_BODY:
        problems["body"] = f"Keep the text under {MAX_BODY:,} characters."
    elif found := placeholders(body):
        problems["body"] = (
            f"Replace every [[…]] with your practice's own words first (still there: {found[0]})."
        )
    return problems


# --- Starter templates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    body: str


TEMPLATES = (
    Template(
        "consent",
        "Consent to treatment",
        """**Starter template: adapt it to your practice and your jurisdiction before publishing.**

## What therapy involves
Therapy is a collaboration between you and [[your name and licence, e.g. Maya Chen, LMFT]]. Sessions
last [[length, e.g. 50 minutes]] and usually happen [[how often, e.g. weekly]].

## Benefits and risks
Therapy often helps, and it can also bring up uncomfortable feelings for a while. You may stop at any
time.

## Confidentiality and its limits
What you share stays between us, except where the law requires otherwise: a risk of serious harm to
you or someone else, suspected abuse of a child or vulnerable adult, or a court order.

## Contact between sessions
[[How and when clients can reach you, and what to do in an emergency, e.g. call 988 or 911]]

By signing, I confirm that I have read this and agree to begin therapy.
""",
    ),
    Template(
        "privacy",
        "Notice of privacy practices",
        """**Starter template: adapt it to your practice and your jurisdiction before publishing.**

This notice describes how [[practice name]] uses and protects your health information.

- We use your information to provide treatment, to bill for services and to run the practice.
- You may see and get a copy of your records, ask for corrections and ask who we shared them with.
- We do not share your information for marketing.
- Questions or complaints: [[contact person and address]].

By signing, I confirm that I received this notice.
""",
    ),
    Template(
        "cancellation",
        "Cancellation and missed session policy",
        """**Starter template: adapt it to your practice before publishing.**

Please cancel or move a session at least [[hours, e.g. 48 hours]] before it starts. A session cancelled
later, or missed, is charged [[the fee, e.g. the full session fee]] to the card on file.

Exceptions: [[e.g. illness or emergencies, at the therapist's discretion]].

By signing, I agree to this policy.
""",
    ),
    Template(
        "telehealth",
        "Telehealth consent",
        """**Starter template: adapt it to your practice and your jurisdiction before publishing.**

Some sessions may happen by video through [[the video service you use]]. Please join from a private
place, in [[the state or country where you are licensed]]. If the connection fails, [[what happens,
e.g. I will call you on your phone]]. In an emergency during a video session, [[what to do]].

By signing, I agree to receive therapy by video when we choose to.
""",
    ),
)


def template_by_key(key: str) -> Template | None:
    return next((t for t in TEMPLATES if t.key == key), None)


# --- What a client has left to sign -------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    id: int
    number: int
    needs_new_signature: bool


def required_number(versions: list[Version]) -> int:
    """The oldest version whose signature still counts: the newest one that asked for new signatures
    (version 1 always does)."""
    asking = [v.number for v in versions if v.needs_new_signature or v.number == 1]
    return max(asking, default=1)


def is_signed(versions: list[Version], signed_numbers: set[int]) -> bool:
    """A client's signatures still cover this document."""
    needed = required_number(versions)
    return any(number >= needed for number in signed_numbers)


# --- The intake questionnaire -------------------------------------------------------------------


class Kind:
    SHORT = "short"
    LONG = "long"
    DATE = "date"
    YES_NO = "yes_no"
    CHOICE = "choice"


EXTRA_KINDS = {Kind.SHORT: "Short answer", Kind.LONG: "Long answer", Kind.YES_NO: "Yes or no"}
YES_NO = {"yes": "Yes", "no": "No"}


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    kind: str = Kind.SHORT
    required: bool = False
    section: str = ""
    choices: dict[str, str] | None = None
    hint: str = ""


STANDARD_INTAKE = (
    Question("date_of_birth", "Date of birth", Kind.DATE, True, "About you"),
    Question("address", "Home address", Kind.LONG, False, "About you"),
    Question("pronouns", "Pronouns", Kind.SHORT, False, "About you", hint="Optional, e.g. she/her."),
    Question("emergency_name", "Emergency contact: name", Kind.SHORT, True, "Emergency contact"),
    Question("emergency_relationship", "Relationship to you", Kind.SHORT, False, "Emergency contact"),
    Question("emergency_phone", "Emergency contact: phone", Kind.SHORT, True, "Emergency contact"),
    Question(
        "reason",
        "What brings you to therapy now?",
        Kind.LONG,
        True,
        "Why you're here",
        hint="A few sentences are enough; you can say more in the first session.",
    ),
    Question("goals", "What would you like to be different?", Kind.LONG, False, "Why you're here"),
    Question("prior_therapy", "Have you been in therapy before?", Kind.YES_NO, True, "Your history", YES_NO),
    Question(
        "prior_therapy_detail", "If so: when, and what helped or didn't?", Kind.LONG, False, "Your history"
    ),
    Question(
        "medications",
        "Medications you take (name and dose), or “none”",
        Kind.LONG,
        True,
        "Your health",
    ),
    Question("physician", "Primary care doctor (name, phone)", Kind.SHORT, False, "Your health"),
    Question(
        "safety",
        "In the past month, have you had thoughts of harming yourself or someone else?",
        Kind.CHOICE,
        True,
        "Your health",
        {"no": "No", "yes": "Yes", "prefer_to_talk": "I'd rather talk about it in person"},
        hint="If you are in danger now, call 988 (US) or your local emergency number.",
    ),
)
MULTILINE_KINDS = frozenset({Kind.LONG})


def extra_question(question_id: int, label: str, kind: str, required: bool) -> Question:
    """A question the practice added, shown after the standard ones."""
    return Question(
        f"extra_{question_id}",
        label,
        kind if kind in EXTRA_KINDS else Kind.SHORT,
        required,
        "From your therapist",
        YES_NO if kind == Kind.YES_NO else None,
    )


def multiline_fields(questions: list[Question] | tuple[Question, ...]) -> frozenset[str]:
    """The form fields that are textareas (line breaks allowed)."""
    return frozenset(q.key for q in questions if q.kind in MULTILINE_KINDS)


def clean_intake(form: Form, questions: list[Question] | tuple[Question, ...]) -> list[dict[str, str]]:
    """The answers as (key, question, answer) records in question order; problems go onto ``form``."""
    answers = []
    for q in questions:
        value = form.data.get(q.key, "").strip()
        limit = MAX_LONG_ANSWER if q.kind == Kind.LONG else MAX_SHORT_ANSWER
        if not value:
            if q.required:
                form.error(q.key, "Please answer this question.")
            continue
        if len(value) > limit:
            form.error(q.key, f"Keep this under {limit:,} characters.")
            continue
        if q.choices is not None:
            if value not in q.choices:
                form.error(q.key, "Choose one of the answers.")
                continue
            shown = q.choices[value]
        elif q.kind == Kind.DATE:
            problem, shown = _date_answer(value)
            if problem:
                form.error(q.key, problem)
                continue
        else:
            shown = value
        answers.append({"key": q.key, "question": q.label, "answer": shown})
    return answers


def _date_answer(value: str) -> tuple[str | None, str]:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return "Enter the date as year-month-day, e.g. 1990-04-21.", ""
    return year_problem(day.year, "The date"), day.isoformat()


def answers_text(answers: list[dict[str, str]]) -> str:
    """The confirmed intake as one canonical text (what its hash is taken of)."""
    return json.dumps(answers, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load_answers(text: str) -> list[dict[str, str]]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []


def form_values(answers: list[dict[str, str]], questions) -> dict[str, str]:
    """Earlier answers as the form's values (choice labels back to their keys)."""
    by_key = {a.get("key"): a.get("answer", "") for a in answers}
    values = {}
    for q in questions:
        if q.key not in by_key:
            continue
        answer = by_key[q.key]
        if q.choices:
            answer = next((k for k, label in q.choices.items() if label == answer), "")
        values[q.key] = answer
    return values


# --- Signing ------------------------------------------------------------------------------------


def signature_problems(form: Form) -> tuple[str, dict[str, str]]:
    """The typed full name, or why the signature can't be taken."""
    name = form.name("signed_name", label="Your full name")
    if not form.checkbox("agree"):
        form.error("agree", "Tick “I agree” to sign.")
    return name, form.errors


INTAKE_TITLE = "Intake questionnaire"


# --- Wording -----------------------------------------------------------------------------------


def forms_left_line(count: int, first_session: datetime | None, now: datetime, zone: str) -> str:
    """ "2 forms to complete before Monday": the count, and the first session's day when known."""
    if count <= 0:
        return ""
    noun = "form" if count == 1 else "forms"
    if first_session is None or first_session <= now:
        return f"{count} {noun} to complete before your first session"
    local = first_session.astimezone(ZoneInfo(zone or "UTC"))
    days = (local.date() - now.astimezone(ZoneInfo(zone or "UTC")).date()).days
    if days <= 0:
        when = "today's session"
    elif days == 1:
        when = "tomorrow"
    elif days < 7:
        when = local.strftime("%A")
    else:
        when = local.strftime("%A %-d %B")
    return f"{count} {noun} to complete before {when}"


def forms_before_session_line(titles: list[str]) -> str:
    """ "2 forms to complete before your session: Consent to treatment, Intake questionnaire"."""
    if not titles:
        return ""
    noun = "form" if len(titles) == 1 else "forms"
    return f"{len(titles)} {noun} to complete before your session: {', '.join(titles)}"
