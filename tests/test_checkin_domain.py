"""Check-in rules without a database: when the client may check in, when No-show is suggested, and
which video links a practice may save."""

from __future__ import annotations

from datetime import timedelta

from app.domain.checkin import check_in_open, no_show_suggested, parse_video_link, under_way
from tests.conftest import START

ENDS = START + timedelta(minutes=50)


def test_check_in_opens_thirty_minutes_before_and_closes_at_the_end():
    assert not check_in_open(START, ENDS, START - timedelta(minutes=31))
    assert check_in_open(START, ENDS, START - timedelta(minutes=30))
    assert check_in_open(START, ENDS, START + timedelta(minutes=49))
    assert not check_in_open(START, ENDS, ENDS)


def test_no_show_is_suggested_fifteen_minutes_after_the_start_without_a_check_in():
    assert not no_show_suggested(START, None, START + timedelta(minutes=14))
    assert no_show_suggested(START, None, START + timedelta(minutes=15))
    assert not no_show_suggested(START, START - timedelta(minutes=2), START + timedelta(hours=2))


def test_a_video_link_is_blank_or_a_full_https_address():
    assert parse_video_link("  ") == ("", None)
    assert parse_video_link(" https://meet.example.test/maya ") == ("https://meet.example.test/maya", None)
    for bad in (
        "http://meet.example.test/maya",
        "javascript:alert(1)",
        "meet.example.test",
        "https://a b",
        "https://x\x00",
    ):
        link, problem = parse_video_link(bad)
        assert link == "" and problem
    assert parse_video_link("https://x.test/" + "a" * 600)[1] == "Use at most 500 characters."


def test_a_session_is_under_way_from_its_start_until_its_end():
    assert not under_way(START, ENDS, START - timedelta(minutes=1))
    assert under_way(START, ENDS, START)
    assert under_way(START, ENDS, START + timedelta(minutes=49))
    assert not under_way(START, ENDS, ENDS)
    late = START + timedelta(minutes=25)  # a client running late may still check in
    assert under_way(START, ENDS, late) and check_in_open(START, ENDS, late)
