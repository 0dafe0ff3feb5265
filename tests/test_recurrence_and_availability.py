"""Weekly series across daylight-saving changes, and free-slot computation (pure rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.domain.availability import (
    Busy,
    SlotRules,
    WorkingRange,
    free_slots,
    is_free,
    merged_ranges,
    within_working_hours,
)
from app.domain.recurrence import DateCheck, SeriesRule, expand, next_week, preview_summary, to_utc

NY = ZoneInfo("America/New_York")


def local(instant: datetime) -> datetime:
    return instant.astimezone(NY)


def test_weekly_series_keeps_local_time_across_the_autumn_change():
    # DST ends in New York on Sunday 1 Nov 2026: 10:00 EDT (14:00 UTC) becomes 10:00 EST (15:00 UTC).
    starts = expand(SeriesRule(date(2026, 10, 19), time(10, 0), "America/New_York", 1, 4))
    assert [local(s).strftime("%a %d %H:%M") for s in starts] == [
        "Mon 19 10:00",
        "Mon 26 10:00",
        "Mon 02 10:00",
        "Mon 09 10:00",
    ]
    assert [s.hour for s in starts] == [14, 14, 15, 15]


def test_fortnightly_series_across_the_spring_change():
    # DST starts in New York on Sunday 14 Mar 2027.
    starts = expand(SeriesRule(date(2027, 3, 1), time(18, 30), "America/New_York", 2, 3))
    assert [local(s).date() for s in starts] == [date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 29)]
    assert {local(s).time() for s in starts} == {time(18, 30)}
    assert starts[1] - starts[0] == timedelta(weeks=2, hours=-1)


def test_skipped_and_repeated_local_times():
    assert local(to_utc(date(2027, 3, 14), time(2, 30), NY)).time() == time(3, 30)
    repeated = to_utc(date(2026, 11, 1), time(1, 30), NY)
    assert repeated == datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "first 01:30 (EDT)"


def test_series_rule_limits():
    assert SeriesRule(date(2026, 12, 1), time(9), "UTC", 1, 0).problems() == {
        "occurrences": "Book between 1 and 52 sessions."
    }
    assert "occurrences" in SeriesRule(date(2026, 12, 1), time(9), "UTC", 1, 1000).problems()
    assert SeriesRule(date(2026, 12, 1), time(9), "UTC", 3, 6).problems() == {
        "interval_weeks": "Repeat every 1 or 2 weeks."
    }
    assert SeriesRule(date(2026, 12, 1), time(9), "UTC", 2, 52).problems() == {}


def test_book_next_is_same_weekday_and_local_time_one_week_later():
    session = datetime(2026, 10, 26, 14, 0, tzinfo=UTC)  # Mon 10:00 EDT
    assert local(next_week(session, "America/New_York")) == datetime(2026, 11, 2, 10, 0, tzinfo=NY)


MONDAY_9_TO_12 = [WorkingRange(0, 9 * 60, 12 * 60)]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # Sunday 07:00 in New York


def slot_times(slots):
    return [local(s).strftime("%a %H:%M") for s in slots]


def test_slots_fill_working_hours_in_steps():
    slots = free_slots(
        MONDAY_9_TO_12, [], SlotRules(60, step_minutes=60, horizon_days=2), "America/New_York", NOW
    )
    assert slot_times(slots) == ["Mon 09:00", "Mon 10:00", "Mon 11:00"]


def test_slots_skip_appointments_and_their_buffers_but_edges_may_touch():
    busy = [Busy(to_utc(date(2026, 11, 30), time(10, 0), NY), to_utc(date(2026, 11, 30), time(10, 50), NY))]
    rules = SlotRules(50, buffer_minutes=10, step_minutes=10, horizon_days=2)
    slots = slot_times(free_slots(MONDAY_9_TO_12, busy, rules, "America/New_York", NOW))
    assert "Mon 09:00" in slots and "Mon 09:10" not in slots  # 09:10-10:00 leaves no buffer before 10:00
    assert "Mon 11:00" in slots and "Mon 10:50" not in slots
    no_buffer = slot_times(
        free_slots(
            MONDAY_9_TO_12, busy, SlotRules(50, step_minutes=10, horizon_days=2), "America/New_York", NOW
        )
    )
    assert "Mon 09:10" in no_buffer and "Mon 10:50" in no_buffer


def test_notice_and_horizon():
    rules = SlotRules(60, min_notice_hours=27, step_minutes=60, horizon_days=2)
    assert slot_times(free_slots(MONDAY_9_TO_12, [], rules, "America/New_York", NOW)) == [
        "Mon 10:00",
        "Mon 11:00",
    ]
    assert free_slots(MONDAY_9_TO_12, [], SlotRules(60, horizon_days=0), "America/New_York", NOW) == []


def test_overlapping_working_ranges_are_merged():
    ranges = [
        WorkingRange(0, 9 * 60, 11 * 60),
        WorkingRange(0, 10 * 60, 12 * 60),
        WorkingRange(0, 13 * 60, 14 * 60),
    ]
    assert merged_ranges(ranges, 0) == [(540, 720), (780, 840)]
    slots = slot_times(
        free_slots(ranges, [], SlotRules(120, step_minutes=60, horizon_days=2), "America/New_York", NOW)
    )
    assert slots == ["Mon 09:00", "Mon 10:00"]


def test_a_submitted_slot_is_checked_again():
    rules = SlotRules(60, step_minutes=60, horizon_days=2)
    good = to_utc(date(2026, 11, 30), time(9, 0), NY)
    assert is_free(good, MONDAY_9_TO_12, [], rules, "America/New_York", NOW)
    assert not is_free(good + timedelta(minutes=7), MONDAY_9_TO_12, [], rules, "America/New_York", NOW)
    assert not is_free(
        good, MONDAY_9_TO_12, [Busy(good, good + timedelta(hours=1))], rules, "America/New_York", NOW
    )
    assert not is_free(NOW - timedelta(days=1), MONDAY_9_TO_12, [], rules, "America/New_York", NOW)


def test_within_working_hours():
    start = to_utc(date(2026, 11, 30), time(11, 30), NY)
    assert not within_working_hours(start, start + timedelta(hours=1), MONDAY_9_TO_12, "America/New_York")
    assert within_working_hours(start - timedelta(hours=1), start, MONDAY_9_TO_12, "America/New_York")


def test_a_clash_needs_a_choice_but_outside_hours_is_only_a_note():
    quiet = DateCheck(outside_hours=True)
    clash = DateCheck(clashes=1)
    past = DateCheck(problem="This date has already passed; skip it or move it.")
    assert (quiet.needs_choice, quiet.note) == (False, "Outside your working hours")
    assert (clash.needs_choice, clash.note) == (True, "")
    assert past.needs_choice
    assert not DateCheck(skipped=True, clashes=2, outside_hours=True).needs_choice
    assert DateCheck(skipped=True, outside_hours=True).note == ""

    only_notes = preview_summary([quiet] * 6)
    assert (only_notes.to_book, only_notes.need_choice, only_notes.notes) == (6, 0, 6)
    assert only_notes.choice_text == "No clashes."
    assert only_notes.note_text == "6 outside your working hours."

    mixed = preview_summary([clash, DateCheck(clashes=1, outside_hours=True), quiet, DateCheck(skipped=True)])
    assert (mixed.to_book, mixed.skipped, mixed.need_choice, mixed.notes) == (3, 1, 2, 2)
    assert mixed.choice_text == "2 dates need a choice."
    assert preview_summary([clash]).choice_text == "1 date needs a choice."
    assert preview_summary([DateCheck()]).note_text == ""
