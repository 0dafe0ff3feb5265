"""Pure rules: passwords, e-mail normalisation, money, slugs and what counts as digits."""

from __future__ import annotations

import pytest

from app.domain.accounts import password_problem, valid_time_zone
from app.domain.availability import parse_day_ranges
from app.domain.insurance import clean_self_check
from app.domain.practice import format_money, money_input, parse_money, slugify
from app.domain.reminders import parse_hours
from app.domain.report import parse_filters
from app.domain.sign_in_throttle import account_pace, address_wait, wait_text
from app.domain.two_factor import trusted
from app.domain.validation import Form, is_digits, normalize_email, record_id
from tests.conftest import START


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


def test_wrong_passwords_from_one_address_wait_longer_and_longer():
    waits = [address_wait(n, free=5) for n in range(1, 12)]
    assert waits[:4] == [0, 0, 0, 0], "a few typos cost nothing"
    assert waits[4:9] == [60, 120, 240, 480, 960]
    assert address_wait(40, free=5) == 24 * 3600, "capped at the address memory"


def test_an_account_under_attack_from_many_addresses_is_slowed_never_locked():
    assert account_pace(19) == 0
    assert [account_pace(n) for n in (20, 29, 30, 40, 50)] == [5, 5, 10, 20, 40]
    assert account_pace(10_000) == 60, "at worst one try a minute: slowed, not locked"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (960, "16 minutes"),
        (86400, "24 hours"),
    ],
)
def test_waits_are_said_in_words(seconds, text):
    assert wait_text(seconds) == text


@pytest.mark.parametrize("text", ["¹", "²3", "٣", "１２", "", "-1", "1.5"])
def test_only_ascii_digits_count_as_a_number(text):
    assert not is_digits(text)
    assert is_digits("0123456789")


def test_superscript_and_other_script_digits_get_a_clear_answer_not_a_crash():
    assert record_id("¹") is None
    assert parse_day_ranges("⁹-17", 0)[1] is not None
    assert parse_hours("⁴⁸")[1] is not None
    assert parse_filters({"client": ["¹"], "page": ["²"]}, START.date()).errors == {
        "client": "Choose a client from the list."
    }
    form = Form.of({"coinsurance_percent": "²⁰"})
    clean_self_check(form, [])
    assert "coinsurance_percent" in form.errors
    assert not trusted("¹.².x", "key", 1, START, password_changed_at=None, enabled_at=None)
