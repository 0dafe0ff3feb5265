"""Calendar arithmetic (pure): visible ranges, placement in the clinician's zone across DST, lanes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.appointments import clash_message, initials
from app.domain.calendar import (
    MIN_SHOWN_MINUTES,
    View,
    booking_window_problem,
    box,
    grid_hours,
    parse_day,
    parse_local_start,
    parse_view,
    place,
    visible_range,
)

NEW_YORK = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 30)


def test_day_week_and_month_ranges_are_local_midnights():
    day = visible_range(View.DAY, date(2026, 11, 30), NEW_YORK)
    assert day.days == (date(2026, 11, 30),)
    assert day.starts_at == datetime(2026, 11, 30, 5, tzinfo=UTC)
    assert day.ends_at == datetime(2026, 12, 1, 5, tzinfo=UTC)

    week = visible_range(View.WEEK, date(2026, 12, 3), NEW_YORK)  # a Thursday
    assert week.days[0] == date(2026, 11, 30) and week.days[-1] == date(2026, 12, 6)
    assert week.title == "30 Nov – 6 Dec 2026"

    month = visible_range(View.MONTH, date(2026, 11, 17), NEW_YORK)
    assert month.days[0] == date(2026, 10, 26) and month.days[-1] == date(2026, 12, 6)
    assert len(month.days) % 7 == 0 and month.title == "November 2026"


def test_a_day_with_a_daylight_saving_change_is_23_or_25_hours_long():
    spring = visible_range(View.DAY, date(2026, 3, 8), NEW_YORK)
    autumn = visible_range(View.DAY, date(2026, 11, 1), NEW_YORK)
    assert spring.ends_at - spring.starts_at == timedelta(hours=23)
    assert autumn.ends_at - autumn.starts_at == timedelta(hours=25)
    week = visible_range(View.WEEK, date(2026, 3, 8), NEW_YORK)
    assert week.ends_at - week.starts_at == timedelta(days=7, hours=-1)


def test_previous_and_next_pages():
    assert visible_range(View.DAY, TODAY, NEW_YORK).previous == date(2026, 11, 29)
    assert visible_range(View.WEEK, TODAY, NEW_YORK).next == date(2026, 12, 7)
    assert visible_range(View.MONTH, date(2026, 12, 31), NEW_YORK).next == date(2027, 1, 1)
    assert visible_range(View.MONTH, date(2026, 1, 31), NEW_YORK).previous == date(2025, 12, 1)


def test_appointments_keep_their_wall_clock_time_across_the_clock_change():
    # 09:00 New York is 14:00 UTC in winter and 13:00 UTC in summer: both sit at 09:00 on the grid.
    winter = {
        "starts_at": datetime(2026, 3, 6, 14, tzinfo=UTC),
        "ends_at": datetime(2026, 3, 6, 14, 50, tzinfo=UTC),
    }
    summer = {
        "starts_at": datetime(2026, 3, 9, 13, tzinfo=UTC),
        "ends_at": datetime(2026, 3, 9, 13, 50, tzinfo=UTC),
    }
    shown = visible_range(View.MONTH, date(2026, 3, 1), NEW_YORK)
    columns = {c.day: c for c in place([winter, summer], shown.days, NEW_YORK)}
    assert [(p.start_minute, p.end_minute) for p in columns[date(2026, 3, 6)].placements] == [(540, 590)]
    assert [(p.start_minute, p.end_minute) for p in columns[date(2026, 3, 9)].placements] == [(540, 590)]


def test_an_evening_session_in_utc_belongs_to_the_local_day():
    late = {
        "starts_at": datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 1, 2, 20, tzinfo=UTC),
    }
    columns = place([late], visible_range(View.WEEK, TODAY, NEW_YORK).days, NEW_YORK)
    assert [len(c.placements) for c in columns] == [1, 0, 0, 0, 0, 0, 0]
    assert columns[0].placements[0].start_minute == 20 * 60 + 30
    assert grid_hours(columns) == (8, 22)  # 20:30–21:20 stretches the grid to 22:00


def test_overlapping_sessions_get_side_by_side_lanes_and_touching_ones_do_not():
    def item(hour, minute, length):
        start = datetime(2026, 11, 30, hour + 5, minute, tzinfo=UTC)
        return {"starts_at": start, "ends_at": start + timedelta(minutes=length)}

    items = [item(9, 0, 50), item(9, 30, 50), item(9, 50, 10), item(11, 0, 50), item(11, 50, 50)]
    (column,) = place(items, (TODAY,), NEW_YORK)
    assert [(p.lane, p.lanes) for p in column.placements] == [(0, 2), (1, 2), (0, 2), (0, 1), (0, 1)]


def test_a_short_session_is_drawn_finger_sized_and_the_next_one_moves_beside_it():
    def item(hour, minute, length):
        start = datetime(2026, 11, 30, hour + 5, minute, tzinfo=UTC)
        return {"starts_at": start, "ends_at": start + timedelta(minutes=length)}

    # A 15-minute intro call, then a session straight after it, and a late intro call at 18:45.
    (column,) = place([item(9, 0, 15), item(9, 15, 50), item(18, 45, 15)], (TODAY,), NEW_YORK)
    intro, session, late = column.placements
    assert (intro.end_minute, intro.shown_end_minute) == (555, 540 + MIN_SHOWN_MINUTES)
    assert [(p.lane, p.lanes) for p in (intro, session, late)] == [(0, 2), (1, 2), (0, 1)]
    assert grid_hours([column]) == (8, 20)  # the late call's block reaches 19:30
    hours = (20 - 8) * 60
    assert box(intro, 8, 20)["height"] == round(MIN_SHOWN_MINUTES / hours * 100, 3)
    assert box(session, 8, 20)["height"] == round(50 / hours * 100, 3)


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        (None, TODAY, None),
        ("2026-12-25", date(2026, 12, 25), None),
        ("25/12/2026", TODAY, "couldn't read"),
        ("2026-02-30", TODAY, "couldn't read"),
        ("9999-01-01", TODAY, "within 5 years"),
        ("0001-01-01", TODAY, "within 5 years"),
    ],
)
def test_parse_day(text, expected, message):
    day, problem = parse_day(text, today=TODAY)
    assert day == expected
    assert (problem is None) if message is None else (message in problem)


def test_parse_view_falls_back_to_the_default():
    assert parse_view("WEEK", View.DAY) == View.WEEK
    assert parse_view("year", View.DAY) == View.DAY


def test_parse_local_start_in_the_clinicians_zone():
    assert parse_local_start("2026-07-01", "09:30", NEW_YORK) == (
        datetime(2026, 7, 1, 13, 30, tzinfo=UTC),
        None,
    )
    assert parse_local_start("2026-12-01", "09:30", NEW_YORK) == (
        datetime(2026, 12, 1, 14, 30, tzinfo=UTC),
        None,
    )
    assert "date like" in parse_local_start("tomorrow", "09:30", NEW_YORK)[1]
    assert "time like" in parse_local_start("2026-12-01", "25:00", NEW_YORK)[1]
    assert "doesn't exist" in parse_local_start("2026-03-08", "02:30", NEW_YORK)[1]
    # The repeated hour on the autumn night means its first occurrence (still daylight time).
    assert parse_local_start("2026-11-01", "01:30", NEW_YORK)[0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_booking_window():
    now = datetime(2026, 11, 30, 14, tzinfo=UTC)
    assert booking_window_problem(now - timedelta(days=30), now) is None
    assert "more than a year ago" in booking_window_problem(now - timedelta(days=400), now)
    assert "two years ahead" in booking_window_problem(now + timedelta(days=800), now)


def test_initials_and_clash_message():
    assert initials("Alex Rivera") == "A.R."
    assert initials("  ") == "Client"
    start = datetime(2026, 11, 30, 14, tzinfo=UTC)
    message = clash_message([("Alex Rivera", start, start + timedelta(minutes=50))], NEW_YORK)
    assert message.startswith("This overlaps Alex Rivera, Mon 30 Nov 09:00–09:50.")
    assert "Allow overlap" in message
