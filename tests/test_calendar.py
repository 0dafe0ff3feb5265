"""The calendar screen: views, htmx fragments vs full pages, the panel, status changes, booking,
rescheduling, "needs a status", authorization and bad input — through HTTP like a browser."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from app.models.tables import Appointment, AuditEvent, Client, EmailMessage, StatusChange
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.querycount import count_queries

HX = {"HX-Request": "true"}


async def add_appointment(
    clinician, client_id, starts_at: datetime, *, minutes=50, status="scheduled", kind="regular"
):
    rows = await Appointment.insert(
        Appointment(
            clinician=clinician.user.clinician_id,
            client=client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            duration_minutes=minutes,
            fee_minor=15000,
            status=status,
            kind=kind,
            created_at=starts_at - timedelta(days=7),
        )
    ).returning(Appointment.id)
    return rows[0]["id"]


async def signed_in_clinician(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    return clinician, client_id


async def test_week_view_shows_appointments_in_local_time_with_status_labels(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    await add_appointment(clinician, client_id, clock.now())  # 09:00 New York
    await add_appointment(clinician, client_id, clock.now() + timedelta(days=1, hours=2), status="cancelled")
    await add_appointment(clinician, client_id, clock.now() + timedelta(days=8))  # next week: not shown

    response = await client.get("/calendar?view=week&date=2026-12-02")
    assert response.status_code == 200
    page = response.text
    assert "<html" in page and "30 Nov – 6 Dec 2026" in page
    cells = re.findall(r'<a id="appt-\d+".*?</a>', page, re.S)
    assert len(cells) == 2
    assert "09:00" in cells[0] and "Alex Rivera" in cells[0] and "Scheduled" in cells[0]
    assert "11:00" in cells[1] and "Cancelled" in cells[1]
    assert 'href="/calendar?view=week&amp;date=2026-11-25"' in page  # previous week, plain link


async def test_phone_opens_day_view_and_wide_screens_the_week(client, settings, clock):
    await signed_in_clinician(client, settings, clock)
    day = await client.get("/calendar")
    assert "Monday 30 November 2026" in day.text
    client.cookies.set("sw_wide", "1")
    week = await client.get("/calendar")
    assert "30 Nov – 6 Dec 2026" in week.text
    month = await client.get("/calendar?view=month&date=2026-11-10")
    assert "November 2026" in month.text


async def test_htmx_gets_only_the_calendar_region_and_pushes_the_url(client, settings, clock):
    await signed_in_clinician(client, settings, clock)
    response = await client.get("/calendar?view=week&date=2026-11-25", headers=HX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="calendar"') and "<html" not in response.text
    assert response.headers["HX-Push-Url"] == "/calendar?view=week&date=2026-11-25"
    assert "HX-Request" in response.headers["Vary"]
    # The region refreshing itself after a booking doesn't add a history entry.
    refresh = await client.get(
        "/calendar?view=week&date=2026-11-25", headers={**HX, "HX-Trigger": "calendar"}
    )
    assert "HX-Push-Url" not in refresh.headers
    # A history restore gets the full page.
    restore = await client.get("/calendar?view=week", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


async def test_unreadable_or_far_away_dates_show_today_with_a_message(client, settings, clock):
    await signed_in_clinician(client, settings, clock)
    for bad in ("not-a-date", "2026-13-45", "99999-01-01", "1850-01-01"):
        response = await client.get(f"/calendar?view=week&date={bad}")
        assert response.status_code == 200, bad
        assert "showing today instead" in response.text and "30 Nov – 6 Dec 2026" in response.text
    response = await client.get("/calendar?view=fortnight")
    assert response.status_code == 200 and "Monday 30 November 2026" in response.text


async def test_rendering_a_view_costs_the_same_queries_for_1_or_40_appointments(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    await add_appointment(clinician, client_id, clock.now())
    with count_queries() as few:
        assert (await client.get("/calendar?view=month&date=2026-11-30")).status_code == 200
    for index in range(40):
        await add_appointment(clinician, client_id, clock.now() + timedelta(days=index % 6, minutes=index))
    with count_queries() as many:
        response = await client.get("/calendar?view=month&date=2026-11-30")
    assert response.text.count('id="appt-') == 41
    assert many.count == few.count <= 6, many.statements


async def test_privacy_mode_shows_initials_on_the_grid(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    await add_appointment(clinician, client_id, clock.now())
    response = await post_form(client, "/calendar/privacy", {"privacy": "on", "back": "/calendar?view=day"})
    assert response.status_code == 303 and response.headers["location"] == "/calendar?view=day"
    page = (await client.get("/calendar?view=day")).text
    assert "A.R." in page and "Alex Rivera" not in page
    await post_form(client, "/calendar/privacy", {"privacy": "off", "back": "https://evil.example/"})
    assert "Alex Rivera" in (await client.get("/calendar")).text


async def test_panel_shows_client_time_fee_status_and_actions(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    appointment_id = await add_appointment(clinician, client_id, clock.now() - timedelta(hours=2))
    full = await client.get(f"/appointments/{appointment_id}")
    assert full.status_code == 200 and "<html" in full.text
    fragment = await client.get(f"/appointments/{appointment_id}", headers=HX)
    panel = fragment.text
    assert "<html" not in panel and 'id="appointment-panel"' in panel
    assert "Alex Rivera" in panel and "Monday 30 November, 07:00–07:50" in panel and "$150.00" in panel
    assert f'<div id="appointment-charge" hx-get="/appointments/{appointment_id}/charge"' in panel
    for label in ("Scheduled", "Occurred", "Cancelled", "Late cancelled", "No-show", "Reschedule"):
        assert label in panel


async def test_status_change_updates_panel_grid_cell_and_count_out_of_band(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    appointment_id = await add_appointment(clinician, client_id, clock.now() - timedelta(hours=2))
    page = (await client.get("/calendar")).text
    assert re.search(r'id="needs-status-count" class="count">1<', page)
    assert "1 past session still says Scheduled" in page

    response = await post_form(
        client, f"/appointments/{appointment_id}/status", {"status": "occurred"}, htmx=True
    )
    assert response.status_code == 200
    body = response.text
    assert body.lstrip().startswith('<section id="appointment-panel"')
    cell = re.search(rf'<a id="appt-{appointment_id}"[^>]*hx-swap-oob="true"[^>]*>(.*?)</a>', body, re.S)
    assert cell and "Occurred" in cell.group(1)
    assert re.search(r'id="needs-status-count" class="count hidden" hx-swap-oob="true">0<', body)
    assert '<p id="cal-needs" class="cal-needs" hidden hx-swap-oob="true"></p>' in body, "banner gone too"
    assert "Scheduled → <strong>Occurred</strong>" in body and "by Maya Chen" in body
    assert (await Appointment.objects().get(Appointment.id == appointment_id)).status == "occurred"


async def test_refused_status_change_is_shown_in_the_panel(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    appointment_id = await add_appointment(clinician, client_id, clock.now() + timedelta(days=1))
    response = await post_form(
        client, f"/appointments/{appointment_id}/status", {"status": "no_show"}, htmx=True
    )
    assert response.status_code == 200 and "once the session has started" in response.text
    plain = await post_form(client, f"/appointments/{appointment_id}/status", {"status": "nonsense"})
    assert plain.status_code == 303
    assert "isn&#39;t a status" in (await client.get(plain.headers["location"])).text
    assert await StatusChange.count() == 0


async def test_another_clinicians_appointment_is_not_found(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    other = await make_clinician(settings, clock.now(), email="jordan@example.test", practice="Northside")
    _, their_client = await make_client(
        settings, clock.now(), other, email="sam@example.test", name="Sam Okafor"
    )
    theirs = await add_appointment(other, their_client, clock.now() - timedelta(hours=2))
    assert (await client.get(f"/appointments/{theirs}")).status_code == 404
    assert (await client.get(f"/appointments/{theirs}", headers=HX)).status_code == 404
    assert (
        await post_form(client, f"/appointments/{theirs}/status", {"status": "occurred"})
    ).status_code == 404
    assert (await client.get(f"/appointments/{theirs}/reschedule")).status_code == 404
    moved = await post_form(
        client, f"/appointments/{theirs}/reschedule", {"date": "2026-12-02", "time": "10:00", "minutes": "50"}
    )
    assert moved.status_code == 404
    assert "Sam Okafor" not in (await client.get("/calendar?view=week")).text
    booked = await post_form(
        client, "/appointments", {"client_id": str(their_client), "date": "2026-12-02", "time": "10:00"}
    )
    assert "Choose one of your clients" in booked.text
    assert (await Appointment.objects().get(Appointment.id == theirs)).status == "scheduled"


async def test_needs_status_list_oldest_first_with_one_tap_buttons(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    newer = await add_appointment(clinician, client_id, clock.now() - timedelta(days=1))
    older = await add_appointment(clinician, client_id, clock.now() - timedelta(days=3))
    await add_appointment(clinician, client_id, clock.now() - timedelta(days=2), status="occurred")
    await add_appointment(clinician, client_id, clock.now() - timedelta(minutes=10))  # still in session
    page = (await client.get("/calendar/needs-status")).text
    assert page.index(f"needs-{older}") < page.index(f"needs-{newer}")
    assert page.count('class="needs-row"') == 2

    response = await post_form(
        client,
        f"/appointments/{older}/status",
        {"status": "no_show", "back": "/calendar/needs-status"},
        htmx=True,
    )
    assert response.text.lstrip().startswith(f'<li id="needs-{older}"') and "No-show" in response.text
    assert re.search(r'id="needs-status-count" class="count" hx-swap-oob="true">1<', response.text)
    plain = await post_form(
        client, f"/appointments/{newer}/status", {"status": "occurred", "back": "/calendar/needs-status"}
    )
    assert plain.headers["location"] == "/calendar/needs-status"
    assert "All caught up" in (await client.get("/calendar/needs-status")).text
    badge = await client.get("/calendar/needs-status/count", headers=HX)
    assert 'class="count hidden"' in badge.text


async def test_booking_an_existing_client_and_refusing_an_overlap_by_name(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    form = await client.get("/appointments/new?date=2026-12-02&time=10:00")
    assert form.status_code == 200 and "Alex Rivera" in form.text and 'value="10:00"' in form.text

    response = await post_form(
        client, "/appointments", {"client_id": str(client_id), "date": "2026-12-02", "time": "10:00"}
    )
    assert (
        response.status_code == 303 and response.headers["location"] == "/calendar?view=day&date=2026-12-02"
    )
    booked = await Appointment.objects().first()
    assert (booked.duration_minutes, booked.fee_minor, booked.kind) == (50, 15000, "regular")
    assert booked.starts_at == datetime.fromisoformat("2026-12-02T15:00:00+00:00")

    clash = await post_form(
        client,
        "/appointments",
        {"client_id": str(client_id), "date": "2026-12-02", "time": "10:30"},
        htmx=True,
    )
    assert clash.status_code == 200
    assert "This overlaps Alex Rivera, Wed 2 Dec 10:00–10:50" in clash.text
    assert 'value="10:30"' in clash.text  # nothing typed is lost
    assert await Appointment.count() == 1

    touching = await post_form(
        client,
        "/appointments",
        {"client_id": str(client_id), "date": "2026-12-02", "time": "10:50"},
        htmx=True,
    )
    assert (
        touching.headers.get("HX-Trigger") == "calendar-changed"
        and "Booked Wed 2 Dec, 10:50" in touching.text
    )
    overlap = await post_form(
        client,
        "/appointments",
        {
            "client_id": str(client_id),
            "date": "2026-12-02",
            "time": "10:30",
            "allow_overlap": "on",
            "kind": "intro",
        },
    )
    assert overlap.status_code == 303
    intro = await Appointment.objects().where(Appointment.kind == "intro").first()
    assert (intro.duration_minutes, intro.fee_minor) == (15, 0)
    assert await AuditEvent.count().where(AuditEvent.action == "appointment_booked") == 3


async def test_the_longest_session_clashes_with_a_booking_in_its_last_minute(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    # 02:01–10:01 New York: eight hours, the most a session may last; it started long before 10:00.
    await add_appointment(
        clinician, client_id, datetime.fromisoformat("2026-12-03T07:01:00+00:00"), minutes=480
    )
    clash = await post_form(
        client,
        "/appointments",
        {"client_id": str(client_id), "date": "2026-12-03", "time": "10:00"},
        htmx=True,
    )
    assert "This overlaps Alex Rivera, Thu 3 Dec 02:01–10:01" in clash.text
    assert await Appointment.count() == 1


async def test_booking_a_new_client_inline_creates_the_client_and_invitation(
    client, settings, clock, arq_pool
):
    await signed_in_clinician(client, settings, clock)
    response = await post_form(
        client,
        "/appointments",
        {
            "client_id": "new",
            "new_name": "Jamie Walsh",
            "new_email": "Jamie@Example.test",
            "date": "2026-12-03",
            "time": "14:00",
            "minutes": "60",
            "fee": "120.50",
        },
    )
    assert response.status_code == 303
    new_client = await Client.objects().where(Client.email == "jamie@example.test").first()
    appointment = await Appointment.objects().where(Appointment.client == new_client.id).first()
    assert (appointment.duration_minutes, appointment.fee_minor) == (60, 12050)
    assert await EmailMessage.count().where(EmailMessage.to_address == "jamie@example.test") == 1

    again = await post_form(
        client,
        "/appointments",
        {
            "client_id": "new",
            "new_name": "Jamie",
            "new_email": "jamie@example.test",
            "date": "2026-12-04",
            "time": "14:00",
        },
    )
    assert "You already have a client with this email address." in again.text
    assert await Appointment.count() == 1


async def test_bad_booking_input_is_answered_in_the_form(client, settings, clock):
    _, client_id = await signed_in_clinician(client, settings, clock)
    cases = {
        ("tomorrow", "10:00", "50", ""): "Enter the date like",
        ("2026-12-02", "10 am", "50", ""): "Enter the time like",
        ("2026-12-02", "10:00", "-5", ""): "Length in minutes must be at least 1.",
        ("2026-12-02", "10:00", "ten", ""): "must be a whole number",
        ("2026-12-02", "10:00", "50", "lots"): "Enter the fee like",
        ("2026-12-02", "10:00", "50", "-10"): "The fee can",
        ("1990-01-01", "10:00", "50", ""): "more than a year ago",
        ("2031-01-01", "10:00", "50", ""): "more than two years ahead",
        ("2027-03-14", "02:30", "50", ""): "doesn&#39;t exist",
    }
    for (day, time, minutes, fee), message in cases.items():
        response = await post_form(
            client,
            "/appointments",
            {"client_id": str(client_id), "date": day, "time": time, "minutes": minutes, "fee": fee},
            htmx=True,
        )
        assert response.status_code == 200, (day, time, minutes, fee)
        assert message in response.text, (message, response.text[:3000])
        assert 'aria-invalid="true"' in response.text
    missing = await post_form(client, "/appointments", {"date": "2026-12-02", "time": "10:00"})
    assert "Choose a client" in missing.text and "<html" in missing.text
    assert await Appointment.count() == 0


async def test_client_search_as_you_type(client, settings, clock):
    clinician, _ = await signed_in_clinician(client, settings, clock)
    await make_client(settings, clock.now(), clinician, email="priya@example.test", name="Priya Natarajan")
    response = await client.get("/appointments/client-options?q=pri", headers=HX)
    assert "Priya Natarajan" in response.text and "Alex Rivera" not in response.text
    assert re.search(r'<option value="\d+" selected>Priya', response.text)
    nobody = await client.get("/appointments/client-options?q=zzz", headers=HX)
    assert '<option value="new" selected>' in nobody.text


async def test_reschedule_with_the_same_conflict_check(client, settings, clock):
    clinician, client_id = await signed_in_clinician(client, settings, clock)
    moving = await add_appointment(clinician, client_id, clock.now() + timedelta(days=1))  # Tue 09:00
    await add_appointment(clinician, client_id, clock.now() + timedelta(days=1, hours=2))  # Tue 11:00
    form = await client.get(f"/appointments/{moving}/reschedule", headers=HX)
    assert 'value="2026-12-01"' in form.text and 'value="09:00"' in form.text

    clash = await post_form(
        client,
        f"/appointments/{moving}/reschedule",
        {"date": "2026-12-01", "time": "10:30", "minutes": "50"},
        htmx=True,
    )
    assert "This overlaps Alex Rivera, Tue 1 Dec 11:00–11:50" in clash.text
    bad = await post_form(
        client,
        f"/appointments/{moving}/reschedule",
        {"date": "2026-12-01", "time": "10:30", "minutes": "-50"},
        htmx=True,
    )
    assert "at least 1" in bad.text
    # Moving within its own time (overlapping only itself) is fine; touching the next one too.
    ok = await post_form(
        client,
        f"/appointments/{moving}/reschedule",
        {"date": "2026-12-01", "time": "09:20", "minutes": "100"},
        htmx=True,
    )
    assert ok.headers.get("HX-Trigger") == "calendar-changed" and "Moved to Tue 1 Dec, 09:20" in ok.text
    moved = await Appointment.objects().get(Appointment.id == moving)
    assert (
        moved.starts_at == datetime.fromisoformat("2026-12-01T14:20:00+00:00")
        and moved.duration_minutes == 100
    )
    assert await AuditEvent.count().where(AuditEvent.action == "appointment_rescheduled") == 1


async def test_pages_need_a_signed_in_clinician(client, other_client, settings, clock):
    response = await client.get("/calendar?view=week")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    clinician = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), clinician)
    await sign_in(other_client, person)
    assert (await other_client.get("/calendar")).status_code == 403
    assert (await other_client.get("/appointments/new")).status_code == 403


async def test_other_pages_load_the_navigation_count(client, settings, clock):
    await signed_in_clinician(client, settings, clock)
    page = await client.get("/account/password")
    assert 'hx-get="/calendar/needs-status/count"' in page.text
