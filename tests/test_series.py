"""Book next and weekly series: the preview flags clashes and working hours, skips and moves, DST keeps
local time, one transaction and one email, "this and following" edits, cancellation via the status service."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.models.tables import Appointment, AppointmentSeries, EmailMessage, StatusChange, WorkingHours
from app.services import email
from tests.helpers import last_email_to, make_client, make_clinician, post_form, sign_in
from tests.test_calendar import add_appointment

NY = ZoneInfo("America/New_York")
HX = {"HX-Request": "true"}


async def setup(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    # Monday 30 Nov 2026, 09:00 New York: today's intro session
    source = await add_appointment(clinician, client_id, clock.now())
    return clinician, client_id, source


def local(value: datetime) -> str:
    return value.astimezone(NY).strftime("%a %d %b %H:%M")


async def test_book_next_form_is_prefilled_one_week_later_with_a_clean_preview(client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    page = await client.get(f"/appointments/{source}/book-next")
    assert page.status_code == 200
    assert 'value="2026-12-07"' in page.text and 'value="09:00"' in page.text
    assert 'name="minutes" type="number" value="50"' in page.text and 'value="150.00"' in page.text
    dates = re.findall(r'<span class="series-when">([^<]+)', page.text)
    assert len(dates) == 6 and dates[0].startswith("Mon 7 Dec 2026, 09:00") and "11 Jan 2027" in dates[-1]
    assert "No clashes." in page.text and "Book 6 sessions" in page.text
    two_weekly = await client.get(f"/appointments/{source}/book-next?count=3&every=2")
    dates = re.findall(r'<span class="series-when">([^<]+)', two_weekly.text)
    assert [d[:14] for d in dates] == ["Mon 7 Dec 2026", "Mon 21 Dec 202", "Mon 4 Jan 2027"]


async def test_bad_counts_are_answered_next_to_the_field(client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    for count, message in (("0", "at least 1"), ("1000", "at most 52"), ("six", "whole number")):
        page = await client.get(f"/appointments/{source}/book-next?count={count}")
        assert page.status_code == 200
        assert re.search(r'id="f-count-error">[^<]*' + message, page.text), count
        assert "series-when" not in page.text
    page = await client.get(f"/appointments/{source}/book-next?every=3")
    assert 'id="f-every-error"' in page.text
    assert await Appointment.count() == 1


async def test_preview_flags_clashes_and_hours_then_skip_and_move_book_in_one_go(client, settings, clock):
    clinician, client_id, source = await setup(client, settings, clock)
    _, other_id = await make_client(
        settings, clock.now(), clinician, email="sam@example.test", name="Sam Lee"
    )
    clash_at = datetime(2026, 12, 14, 14, 30, tzinfo=UTC)  # Mon 14 Dec 09:30 New York
    await add_appointment(clinician, other_id, clash_at)
    await WorkingHours.insert(
        *[
            WorkingHours(
                clinician=clinician.user.clinician_id, weekday=0, start_minute=8 * 60, end_minute=17 * 60
            )
        ]
    )
    form = {"date": "2026-12-07", "time": "09:00", "minutes": "50", "fee": "150", "every": "1", "count": "4"}
    preview = await post_form(client, f"/appointments/{source}/book-next", {**form, "action": "preview"})
    assert "Clashes with Sam Lee, 09:30–10:20" in preview.text
    assert "1 date needs a choice." in preview.text

    refused = await post_form(client, f"/appointments/{source}/book-next", {**form, "action": "book"})
    assert "1 date can&#39;t be booked as planned" in refused.text
    assert await Appointment.count() == 2  # nothing saved

    moved = {**form, "move_1": "2026-12-15T19:00", "skip_3": "on", "action": "preview"}
    preview = await post_form(client, f"/appointments/{source}/book-next", moved)
    assert "Outside your working hours" in preview.text and "moved" in preview.text
    assert "No clashes." in preview.text and "1 outside your working hours." in preview.text
    assert "Book 3 sessions" in preview.text

    booked = await post_form(
        client, f"/appointments/{source}/book-next", {**moved, "action": "book"}, htmx=True
    )
    assert booked.status_code == 200 and "Booked 3 sessions" in booked.text
    rows = await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)
    assert [(local(a.starts_at), a.series_index, a.changed_from_series) for a in rows] == [
        ("Mon 07 Dec 09:00", 0, False),
        ("Tue 15 Dec 19:00", 1, True),
        ("Mon 21 Dec 09:00", 2, False),
    ]
    series = await AppointmentSeries.objects().first()
    assert (series.occurrences, series.interval_weeks, series.local_start_time) == (4, 1, "09:00")
    messages = await EmailMessage.objects().where(EmailMessage.kind == "sessions_booked")
    assert len(messages) == 1
    assert "Monday 7 December 2026, 09:00" in messages[0].text_body
    assert "Tuesday 15 December 2026, 19:00" in messages[0].text_body
    (ics,) = email.attachments_of(messages[0])
    assert ics.filename.endswith(".ics") and ics.content.count(b"BEGIN:VEVENT") == 3


async def test_series_keeps_local_time_across_the_dst_change(client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    # Spring forward in New York: Sunday 14 March 2027. Book Mondays 1 Mar .. 22 Mar at 09:00.
    form = {"date": "2027-03-01", "time": "09:00", "minutes": "50", "fee": "150", "every": "1", "count": "4"}
    await post_form(client, f"/appointments/{source}/book-next", {**form, "action": "book"})
    rows = await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)
    assert [a.starts_at.astimezone(NY).strftime("%d %H:%M") for a in rows] == [
        "01 09:00",
        "08 09:00",
        "15 09:00",
        "22 09:00",
    ]
    assert [a.starts_at.hour for a in rows] == [14, 14, 13, 13]  # UTC moves, the wall clock does not


async def book_weekly(client, source, count="6"):
    form = {
        "date": "2026-12-07",
        "time": "09:00",
        "minutes": "50",
        "fee": "150",
        "every": "1",
        "count": count,
    }
    await post_form(client, f"/appointments/{source}/book-next", {**form, "action": "book"})
    return await Appointment.objects().where(Appointment.series.is_not_null()).order_by(Appointment.starts_at)


async def test_this_and_following_keeps_individual_changes_and_never_moves_the_past(client, settings, clock):
    clinician, _, source = await setup(client, settings, clock)
    rows = await book_weekly(client, source)
    # The 4th session was moved on its own to 11:00 (reschedule marks it changed).
    moved = await post_form(
        client,
        f"/appointments/{rows[3].id}/reschedule",
        {"date": "2026-12-28", "time": "11:00", "minutes": "50"},
    )
    assert moved.status_code in (200, 303)
    clock.advance(days=8)  # the first occurrence is now in the past
    await sign_in(client, clinician)  # (the session idled out meanwhile)
    response = await post_form(
        client,
        f"/appointments/{rows[1].id}/series",
        {"scope": "following", "time": "10:00", "minutes": "50", "fee": "160"},
    )
    assert response.status_code in (200, 303), response.text
    after = {a.id: a for a in await Appointment.objects().where(Appointment.series.is_not_null())}
    summary = [
        (local(after[a.id].starts_at), after[a.id].fee_minor, after[a.id].changed_from_series) for a in rows
    ]
    assert summary == [
        ("Mon 07 Dec 09:00", 15000, False),  # past: untouched
        ("Mon 14 Dec 10:00", 16000, False),
        ("Mon 21 Dec 10:00", 16000, False),
        ("Mon 28 Dec 11:00", 15000, True),  # changed on its own: keeps its change
        ("Mon 04 Jan 10:00", 16000, False),
        ("Mon 11 Jan 10:00", 16000, False),
    ]
    series = await AppointmentSeries.objects().first()
    assert (series.local_start_time, series.fee_minor) == ("10:00", 16000)

    only_this = await post_form(
        client,
        f"/appointments/{rows[2].id}/series",
        {"scope": "this", "time": "10:00", "minutes": "30", "fee": "160"},
    )
    assert only_this.status_code in (200, 303)
    changed = await Appointment.objects().where(Appointment.id == rows[2].id).first()
    assert changed.duration_minutes == 30 and changed.changed_from_series

    past = await post_form(
        client,
        f"/appointments/{rows[0].id}/series",
        {"scope": "following", "time": "12:00", "minutes": "50", "fee": "1"},
    )
    assert "past sessions are never moved" in past.text


async def test_edit_that_would_clash_is_refused_with_the_clash_named(client, settings, clock):
    clinician, _, source = await setup(client, settings, clock)
    rows = await book_weekly(client, source, count="3")
    _, other_id = await make_client(
        settings, clock.now(), clinician, email="sam@example.test", name="Sam Lee"
    )
    await add_appointment(clinician, other_id, datetime(2026, 12, 21, 16, 0, tzinfo=UTC))  # 11:00 NY
    response = await post_form(
        client,
        f"/appointments/{rows[0].id}/series",
        {"scope": "following", "time": "11:00", "minutes": "50", "fee": "150"},
    )
    assert "This overlaps Sam Lee, Mon 21 Dec 11:00" in response.text
    unchanged = await Appointment.objects().where(Appointment.id == rows[0].id).first()
    assert local(unchanged.starts_at) == "Mon 07 Dec 09:00"


async def test_cancel_this_and_following_goes_through_the_status_service(client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    rows = await book_weekly(client, source, count="4")
    response = await post_form(
        client, f"/appointments/{rows[2].id}/series/cancel", {"cancel_scope": "following"}
    )
    assert response.status_code in (200, 303)
    statuses = [
        a.status
        for a in await Appointment.objects()
        .where(Appointment.series.is_not_null())
        .order_by(Appointment.starts_at)
    ]
    assert statuses == ["scheduled", "scheduled", "cancelled", "cancelled"]
    history = await StatusChange.objects().where(StatusChange.to_status == "cancelled")
    assert sorted(h.appointment for h in history) == sorted([rows[2].id, rows[3].id])
    one = await post_form(client, f"/appointments/{rows[0].id}/series/cancel", {"cancel_scope": "this"})
    assert one.status_code in (200, 303)
    assert (await Appointment.objects().where(Appointment.id == rows[1].id).first()).status == "scheduled"


async def test_another_practices_appointment_is_not_found(client, other_client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    stranger = await make_clinician(settings, clock.now(), email="other@example.test", practice="Elsewhere")
    await sign_in(other_client, stranger)
    assert (await other_client.get(f"/appointments/{source}/book-next")).status_code == 404
    form = {"date": "2026-12-07", "time": "09:00", "minutes": "50", "fee": "150", "every": "1", "count": "2"}
    response = await post_form(other_client, f"/appointments/{source}/book-next", {**form, "action": "book"})
    assert response.status_code == 404
    assert await Appointment.count() == 1


async def test_a_series_email_reaches_the_client(client, settings, clock):
    _, _, source = await setup(client, settings, clock)
    await book_weekly(client, source, count="2")
    message = await last_email_to("alex@example.test")
    assert message.subject == "2 sessions booked with Calm Harbor"
    assert timedelta(0) <= clock.now() - message.created_at
