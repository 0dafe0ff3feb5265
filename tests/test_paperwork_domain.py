"""The paperwork rules without a database: which signature still counts, what is left, the intake's
answers, safe Markdown and the hash of the signed text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain import paperwork as rules
from app.domain.paperwork import Version
from app.domain.validation import Form

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York


def versions(*needs_new: bool) -> list[Version]:
    return [Version(n, n, flag) for n, flag in enumerate(needs_new, start=1)]


@pytest.mark.parametrize(
    ("history", "signed", "expected"),
    [
        ((True,), set(), False),
        ((True,), {1}, True),
        ((True, False), {1}, True),  # a typo fix keeps the signature
        ((True, False, True), {1}, False),  # version 3 asks everyone again
        ((True, False, True), {3}, True),
        ((True, True, False), {2}, True),
    ],
)
def test_a_signature_counts_from_the_last_version_that_asked_for_new_ones(history, signed, expected):
    assert rules.is_signed(versions(*history), signed) is expected


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (None, "2 forms to complete before your first session"),
        (NOW + timedelta(hours=3), "2 forms to complete before today's session"),
        (NOW + timedelta(days=1), "2 forms to complete before tomorrow"),
        (NOW + timedelta(days=4), "2 forms to complete before Friday"),
        (NOW + timedelta(days=7), "2 forms to complete before Monday 7 December"),
    ],
)
def test_what_is_left_is_said_in_the_practice_zone(first, expected):
    assert rules.forms_left_line(2, first, NOW, "America/New_York") == expected
    assert rules.forms_left_line(0, first, NOW, "America/New_York") == ""
    assert rules.forms_left_line(1, None, NOW, "UTC") == "1 form to complete before your first session"


def test_intake_answers_are_checked_and_kept_with_their_questions():
    form = Form(
        {
            "date_of_birth": "1990-02-30",
            "emergency_name": "Sam",
            "emergency_phone": "",
            "reason": "x" * 5000,
            "prior_therapy": "maybe",
            "medications": "none",
            "safety": "prefer_to_talk",
        }
    )
    answers = rules.clean_intake(form, rules.STANDARD_INTAKE)
    assert set(form.errors) == {"date_of_birth", "emergency_phone", "reason", "prior_therapy"}
    assert {
        "key": "safety",
        "question": rules.STANDARD_INTAKE[-1].label,
        "answer": "I'd rather talk about it in person",
    } in answers
    assert rules.form_values(answers, rules.STANDARD_INTAKE)["safety"] == "prefer_to_talk"


def test_extra_questions_and_their_text_fields():
    question = rules.extra_question(7, "Who referred you?", "long", True)
    assert question.key == "extra_7" and question.section == "From your therapist"
    assert rules.multiline_fields([question, *rules.STANDARD_INTAKE]) >= {"extra_7", "reason", "address"}
    form = Form({})
    rules.clean_intake(form, [question])
    assert form.errors == {"extra_7": "Please answer this question."}


def test_markdown_never_passes_html_scripts_or_remote_images():
    html = rules.to_html(
        "<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![i](https://e.example/p.png) **ok**"
    )
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "<img" not in html
    assert "<strong>ok</strong>" in html


def test_templates_must_be_adapted_before_publishing():
    for template in rules.TEMPLATES:
        assert rules.placeholders(template.body), template.key
        assert "body" in rules.document_problems(template.title, template.body)
    assert rules.document_problems("Consent", "My own words.") == {}
    assert set(rules.document_problems("", "")) == {"title", "body"}


def test_the_hash_is_of_the_title_a_blank_line_and_the_text():
    assert rules.signed_text("T", "Body\n") == "T\n\nBody\n"
    assert (
        rules.text_hash("T\n\nBody\n") == "cc04ce44089b0f9f84c0581ed5635a97ce0179fb1314954b06fc889783e66069"
    )
    assert rules.text_hash("a") != rules.text_hash("a ")
