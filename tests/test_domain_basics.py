"""Pure rules: passwords, e-mail normalisation, money and slugs."""

from __future__ import annotations

import pytest

from app.domain.accounts import password_problem, valid_time_zone
from app.domain.practice import format_money, money_input, parse_money, slugify
from app.domain.validation import Form, normalize_email


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short", False),
        ("password1234", False),
        ("aaaaaaaaaaaa", False),
        ("correct horse battery staple", True),
        ("x" * 257, False),
    ],
)
def test_password_policy(password, ok):
    assert (password_problem(password) is None) is ok


def test_password_may_not_contain_the_email_name():
    assert password_problem("maya.chen-secret-words", email="maya.chen@example.test") is not None


def test_email_is_normalised_and_validated():
    assert normalize_email("  Maya@Example.TEST ") == "maya@example.test"
    form = Form.of({"email": "not an email"})
    form.email()
    assert form.errors["email"].startswith("Enter an email address")


@pytest.mark.parametrize(
    ("minor", "text"), [(15000, "$150.00"), (5, "$0.05"), (-2550, "-$25.50"), (123456789, "$1,234,567.89")]
)
def test_money_formatting_is_exact(minor, text):
    assert format_money(minor, "USD") == text


@pytest.mark.parametrize(("minor", "text"), [(15000, "150.00"), (5, "0.05"), (123456, "1234.56"), (None, "")])
def test_money_in_a_form_field_reads_as_money_and_parses_back(minor, text):
    assert money_input(minor) == text
    assert parse_money(text) == minor


@pytest.mark.parametrize(
    ("text", "minor"), [("150", 15000), ("$1,150.5", 115050), ("0.07", 7), ("1.234", None), ("abc", None)]
)
def test_money_parsing(text, minor):
    assert parse_money(text) == minor


def test_slug_and_time_zone():
    assert slugify("Calm Harbor Thérapie & Co.") == "calm-harbor-therapie-co"
    assert valid_time_zone("America/New_York") and not valid_time_zone("Mars/Base")


def test_form_integer_bounds():
    form = Form.of({"n": "0", "m": "abc"})
    assert form.integer("n", label="Sessions", minimum=1) == 0
    form.integer("m", label="Length")
    assert form.errors == {"n": "Sessions must be at least 1.", "m": "Length must be a whole number."}
