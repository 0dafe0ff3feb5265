"""The report's pure rules: date ranges in the clinician's zone, filter messages, rates, CSV cells, chart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import pytest

from app.domain.report import (
    ReportFilters,
    chart_geometry,
    decimal_amount,
    describe_delay,
    parse_filters,
    preset_range,
    rate,
    utc_bounds,
    week_starts,
)
from app.domain.spreadsheets import safe_cell

MONDAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("preset", "today", "expected"),
    [
        ("this_week", MONDAY, (date(2026, 11, 30), date(2026, 12, 6))),
        ("this_week", date(2026, 12, 6), (date(2026, 11, 30), date(2026, 12, 6))),
        ("last_week", MONDAY, (date(2026, 11, 23), date(2026, 11, 29))),
        ("this_month", MONDAY, (date(2026, 11, 1), date(2026, 11, 30))),
        ("last_month", MONDAY, (date(2026, 10, 1), date(2026, 10, 31))),
        ("last_month", date(2027, 1, 15), (date(2026, 12, 1), date(2026, 12, 31))),
        ("this_month", date(2028, 2, 10), (date(2028, 2, 1), date(2028, 2, 29))),
    ],
)
def test_presets_are_calendar_weeks_and_months(preset, today, expected):
    assert preset_range(preset, today) == expected


def test_a_range_follows_the_clinicians_wall_clock_across_daylight_saving():
    start, end = utc_bounds(date(2026, 10, 1), date(2026, 11, 30), "America/New_York")
    assert start == datetime(2026, 10, 1, 4, 0, tzinfo=UTC)  # EDT
    assert end == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # EST, exclusive


def q(**values: object) -> dict[str, list[str]]:
    return {key: value if isinstance(value, list) else [str(value)] for key, value in values.items()}


def test_default_filters_are_this_month_everything():
    parsed = parse_filters({}, MONDAY)
    assert parsed.ok
    assert parsed.filters == ReportFilters("this_month", date(2026, 11, 1), date(2026, 11, 30))
    assert parsed.filters.query() == "preset=this_month"


def test_custom_range_statuses_client_billing_and_page_round_trip_through_the_query():
    parsed = parse_filters(
        q(
            preset="custom",
            start="2026-01-01",
            end="2026-03-31",
            status=["no_show", "occurred", "occurred"],
            client="7",
            billing="insurance",
            sort="-client",
            page="3",
        ),
        MONDAY,
    )
    assert parsed.ok, parsed.errors
    filters = parsed.filters
    assert (filters.start, filters.end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert filters.statuses == ("occurred", "no_show")
    assert (filters.client_id, filters.billing_type, filters.sort, filters.page) == (
        7,
        "insurance",
        "-client",
        3,
    )
    assert parse_filters(parse_qs(filters.query()), MONDAY).filters == filters


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            q(preset="custom", start="2026-11-30", end="2026-11-01"),
            "end",
            "The last day is before the first day.",
        ),
        (q(preset="custom", start="30/11/2026", end="2026-12-01"), "start", "like 2026-11-01"),
        (q(preset="custom", start="2026-11-01"), "end", "Enter the last day."),
        (q(preset="custom", start="2020-01-01", end="2026-01-01"), "end", "at most two years"),
        (q(preset="yesterday"), "preset", "Choose a date range"),
        (q(status=["occurred", "charged"]), "status", "Choose statuses from the list."),
        (q(client="abc"), "client", "Choose a client"),
        (q(billing="cash"), "billing", "Choose self-pay or insurance."),
    ],
)
def test_bad_filter_values_get_a_message_on_their_field(raw, field, message):
    parsed = parse_filters(raw, MONDAY)
    assert not parsed.ok
    assert message in parsed.errors[field]


def test_unknown_sort_and_page_fall_back_quietly():
    filters = parse_filters(q(sort="password", page="-4"), MONDAY).filters
    assert (filters.sort, filters.page) == ("date", 1)


def test_rates_use_integers_and_round_half_up():
    assert rate(1, 10) == "10%"
    assert rate(1, 3) == "33.3%"
    assert rate(2, 3) == "66.7%"
    assert rate(1, 8) == "12.5%"
    assert rate(0, 0) == "–"


def test_time_to_status_reads_like_a_person_would_say_it():
    assert describe_delay(2 * 3600 + 5 * 60) == "2 h 5 min after"
    assert describe_delay(26 * 3600) == "1 d 2 h after"
    assert describe_delay(3 * 86400) == "3 d after"
    assert describe_delay(-(3 * 86400 + 50 * 60)) == "3 d before"
    assert describe_delay(59) == "0 min after"
    assert describe_delay(None) == ""


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1 555 0100", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


def test_ordinary_csv_cells_are_unchanged():
    assert safe_cell("Alex Rivera") == "Alex Rivera"
    assert safe_cell("150.00") == "150.00"
    assert safe_cell(None) == ""
    assert decimal_amount(15000) == "150.00"
    assert decimal_amount(5) == "0.05"
    assert decimal_amount(None) == ""


def test_chart_rows_are_weeks_and_segments_follow_the_status_order():
    weeks = week_starts(date(2026, 11, 1), date(2026, 11, 30))
    assert weeks[0] == date(2026, 10, 26) and weeks[-1] == date(2026, 11, 30) and len(weeks) == 6
    counts = {(weeks[1], "occurred"): 6, (weeks[1], "no_show"): 2, (weeks[2], "scheduled"): 4}
    chart = chart_geometry(weeks, counts, width=360, label_width=60, total_width=40)
    assert chart.height == 6 * chart.row_height
    busiest = chart.rows[1]
    assert busiest.total == 8
    assert [s.status for s in busiest.segments] == ["occurred", "no_show"]
    first, second = busiest.segments
    assert first.x == 60 and first.width == pytest.approx(260 * 6 / 8)
    assert second.x == pytest.approx(60 + 260 * 6 / 8) and second.x + second.width == pytest.approx(320)
    assert chart.rows[2].segments[0].width == pytest.approx(130)
    assert chart.rows[0].segments == () and not chart.empty


def test_chart_carries_every_number_and_text_the_template_prints():
    weeks = week_starts(date(2026, 11, 1), date(2026, 11, 30))
    counts = {(weeks[1], "occurred"): 6, (weeks[1], "no_show"): 2, (weeks[2], "scheduled"): 1}
    chart = chart_geometry(weeks, counts, width=360, label_width=60, total_width=40)
    busiest = chart.rows[1]
    assert (busiest.label, busiest.long_label, busiest.y) == ("02 Nov", "02 Nov 2026", chart.row_height)
    occurred, no_show = busiest.segments
    assert occurred.middle == pytest.approx(60 + 260 * 6 / 8 / 2)
    assert no_show.middle == pytest.approx(no_show.x + no_show.width / 2, abs=0.01)
    assert occurred.title == "Week of 02 Nov: 6 Occurred" and occurred.show_count
    assert chart.statuses == ("occurred", "scheduled", "late_cancelled", "no_show", "cancelled")
    assert busiest.counts == (6, 0, 0, 2, 0)  # the table's cells, zeros included
    assert chart.rows[0].counts == (0, 0, 0, 0, 0) and chart.rows[2].counts == (0, 1, 0, 0, 0)
    assert chart.bar_y + chart.bar_height <= chart.row_height
    assert chart.bar_y < chart.text_y < chart.row_height


def test_chart_only_draws_the_statuses_asked_for():
    weeks = [date(2026, 11, 23)]
    chart = chart_geometry(weeks, {(weeks[0], "occurred"): 3, (weeks[0], "cancelled"): 1}, ["cancelled"])
    assert chart.statuses == ("cancelled",)
    assert [s.status for s in chart.rows[0].segments] == ["cancelled"]
    assert chart_geometry(weeks, {}).empty
