"""The practice's pages through HTTP like a browser: the owner's members page (invite, resend, remove with
a choice for future sessions), the join link, the front desk's home and the practice switcher."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from app.models.tables import Appointment, Client, EmailMessage, Membership
from tests.helpers import (
    PASSWORD,
    Person,
    last_email_to,
    link_in,
    make_client,
    make_clinician,
    make_member,
    post_form,
    sign_in,
)
from tests.report_data import add_appointment


async def invite_by_page(client, name, email, role):
    return await post_form(client, "/practice/members", {"name": name, "email": email, "role": role})


async def test_the_owner_invites_from_the_account_page_and_the_new_clinician_joins(
    client, other_client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    await sign_in(client, owner)
    account = await client.get("/account")
    assert 'href="/practice/members"' in account.text
    page = await client.get("/practice/members")
    assert page.status_code == 200 and "Maya Chen" in page.text and "Owner" in page.text

    for form, message in (
        ({"name": "No\x00or", "email": "noor@example.test", "role": "clinician"}, "control characters"),
        ({"name": "N" * 5000, "email": "noor@example.test", "role": "clinician"}, "at most"),
        ({"name": "Noor", "email": "not an address", "role": "clinician"}, "email"),
        ({"name": "Noor", "email": "noor@example.test", "role": "owner"}, "Role"),
        ({"name": "Noor", "email": "maya@example.test", "role": "front_desk"}, "already a member"),
    ):
        refused = await post_form(client, "/practice/members", form)
        assert refused.status_code == 400, form
        assert message.lower() in unescape(refused.text).lower(), (form, refused.text[:3000])
    assert await EmailMessage.count().where(EmailMessage.kind == "member_invitation") == 0

    sent = await invite_by_page(client, "Noor Haddad", "noor@example.test", "clinician")
    assert sent.status_code == 303
    listed = await client.get("/practice/members")
    assert "Invitation sent to noor@example.test." in listed.text and "Invited" in listed.text

    join = link_in((await last_email_to("noor@example.test")).text_body, "/join/")
    shown = await other_client.get(join)
    assert "Join Calm Harbor" in shown.text and "clinician" in shown.text
    mismatch = await post_form(
        other_client, join, {"password": PASSWORD, "password_confirm": "something else"}
    )
    assert mismatch.status_code == 400 and "don't match" in unescape(mismatch.text)
    weak = await post_form(other_client, join, {"password": "short", "password_confirm": "short"})
    assert weak.status_code == 400 and "at least 10 characters" in weak.text
    joined = await post_form(other_client, join, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert (joined.status_code, joined.headers["location"]) == (303, "/calendar")
    assert (await other_client.get("/calendar")).status_code == 200
    again = await other_client.get(join)
    assert "already been used" in again.text
    assert "Active" in (await client.get("/practice/members")).text


async def test_the_front_desk_works_in_any_clinician_s_calendar_and_stays_out_of_clinical_pages(
    client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    desk = await make_member(
        settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    await Client.update({Client.internal_note: "PRIVATE-NOTE"}).where(Client.id == alex)
    response = await post_form(client, "/login", {"email": desk.email, "password": PASSWORD})
    assert response.headers["location"] == "/calendar"
    calendar = unescape((await client.get("/calendar")).text)
    assert "Calendar of" in calendar and "Maya Chen" in calendar and "Noor Haddad" in calendar
    assert 'href="/report"' not in calendar and 'href="/new-clients"' not in calendar
    assert (await client.get(f"/clients/{alex}")).status_code == 200  # Noor's client, from Maya's calendar
    switched = await post_form(client, "/practice/calendar", {"clinician_id": str(noor.user.clinician_id)})
    assert switched.headers["location"] == "/calendar"
    assert "You're working in Noor Haddad's calendar." in unescape((await client.get("/calendar")).text)
    page = unescape((await client.get(f"/clients/{alex}")).text)
    assert "Alex Rivera" in page and "alex@example.test" in page
    assert "PRIVATE-NOTE" not in page and "Insurance" not in page and "/export" not in page
    for url in (
        f"/clients/{alex}/insurance",
        f"/clients/{alex}/edit",
        f"/clients/{alex}/export",
        "/report",
        "/new-clients",
        "/audit",
        "/settings/booking",
        "/practice/members",
    ):
        assert (await client.get(url)).status_code == 403, url
    stranger = await make_clinician(settings, clock.now(), email="x@example.test", practice="Elsewhere")
    refused = await post_form(client, "/practice/calendar", {"clinician_id": str(stranger.user.clinician_id)})
    assert refused.status_code == 404


async def test_a_resend_from_the_page_kills_the_first_link(client, other_client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    await sign_in(client, owner)
    await invite_by_page(client, "Sky", "sky@example.test", "front_desk")
    first = link_in((await last_email_to("sky@example.test")).text_body, "/join/")
    membership = await Membership.objects().where(Membership.role == "front_desk").first()
    resent = await post_form(client, f"/practice/members/{membership.id}/resend")
    assert resent.status_code == 303
    assert "earlier link no longer works" in (await client.get("/practice/members")).text
    assert "already been used" in (await other_client.get(first)).text
    second = link_in((await last_email_to("sky@example.test")).text_body, "/join/")
    joined = await post_form(other_client, second, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert joined.headers["location"] == "/calendar"


async def test_removing_a_clinician_asks_what_happens_to_their_sessions_and_signs_them_out(
    client, other_client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    future = await add_appointment(noor.user.clinician_id, alex, clock.now() + timedelta(days=3))
    await sign_in(other_client, noor)
    await sign_in(client, owner)
    membership = await Membership.objects().where(Membership.role == "clinician").first()
    url = f"/practice/members/{membership.id}/remove"
    page = await client.get(url)
    assert "1 future session" in page.text and "Maya Chen" in page.text
    refused = await post_form(client, url, {})
    assert refused.status_code == 400 and "Choose what happens" in refused.text
    done = await post_form(
        client, url, {"future_sessions": "reassign", "reassign_to": str(owner.user.clinician_id)}
    )
    assert done.status_code == 303
    assert "1 future session(s) reassigned" in (await client.get("/practice/members")).text
    moved = await Appointment.objects().where(Appointment.id == future).first()
    assert moved.clinician == owner.user.clinician_id
    signed_out = await other_client.get("/calendar")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    assert (await client.get(f"/practice/members/{membership.id}/remove")).status_code == 404


async def test_someone_in_two_practices_joins_with_their_password_and_switches(
    client, other_client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    jordan = await make_clinician(settings, clock.now(), email="jordan@example.test", practice="Northside")
    await sign_in(client, owner)
    await invite_by_page(client, "Jordan Lee", "jordan@example.test", "front_desk")
    join = link_in((await last_email_to("jordan@example.test")).text_body, "/join/")
    assert "Your Stillwater password" in (await other_client.get(join)).text
    wrong = await post_form(other_client, join, {"password": "not my password"})
    assert wrong.status_code == 400 and "isn't the password" in unescape(wrong.text)
    joined = await post_form(other_client, join, {"password": PASSWORD})
    assert joined.headers["location"] == "/login?notice=joined"

    await sign_in(other_client, Person(jordan.user))
    home = await other_client.get("/calendar")
    assert 'name="practice_id"' in home.text and "Northside" in home.text and "Calm Harbor" in home.text
    switched = await post_form(other_client, "/practice/switch", {"practice_id": str(owner.user.practice_id)})
    assert switched.status_code == 303
    there = await other_client.get("/practice")
    assert "You're working in Calm Harbor." in unescape(there.text)
    assert (await other_client.get("/report")).status_code == 403  # the front desk there
    stranger = await make_clinician(settings, clock.now(), email="x@example.test", practice="Elsewhere")
    refused = await post_form(
        other_client, "/practice/switch", {"practice_id": str(stranger.user.practice_id)}
    )
    assert refused.status_code == 404
    back = await post_form(other_client, "/practice/switch", {"practice_id": str(jordan.user.practice_id)})
    assert back.status_code == 303 and (await other_client.get("/calendar")).status_code == 200


async def test_the_owner_reads_the_whole_practice_s_trail_with_each_member_s_role(client, settings, clock):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    lee = await make_member(
        settings, clock.now(), owner, email="lee@example.test", name="Lee", role="clinician"
    )
    await make_member(settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk")
    await sign_in(client, noor)
    added = await post_form(
        client,
        "/clients/new",
        {"name": "Quinn Avery", "email": "quinn@example.test", "billing_type": "self_pay"},
    )
    assert added.status_code == 303
    client.cookies.clear()

    await sign_in(client, owner)
    trail = unescape((await client.get("/audit")).text)
    assert "Noor (Clinician)" in trail and "client: Quinn Avery" in trail
    assert "Sky (Front desk)" in trail and "Member joined the practice" in trail
    client.cookies.clear()

    await sign_in(client, lee)
    theirs = unescape((await client.get("/audit")).text)
    assert "Quinn Avery" not in theirs and "Sky" not in theirs


async def test_the_owner_s_report_has_every_clinician_a_filter_and_totals_per_clinician(
    client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    stranger = await make_clinician(settings, clock.now(), email="x@example.test", practice="Elsewhere")
    _, alex = await make_client(settings, clock.now(), noor)
    _, sam = await make_client(settings, clock.now(), owner, email="sam@example.test", name="Sam Okafor")
    await add_appointment(noor.user.clinician_id, alex, clock.now() - timedelta(days=1), status="occurred")
    await add_appointment(owner.user.clinician_id, sam, clock.now() - timedelta(days=2), status="occurred")
    await add_appointment(owner.user.clinician_id, sam, clock.now() - timedelta(days=3), status="no_show")

    await sign_in(client, owner)
    page = unescape((await client.get("/report?preset=this_month")).text)
    assert "Alex Rivera" in page and "Sam Okafor" in page
    assert 'name="clinician"' in page and "By clinician" in page
    assert '<th scope="row">Noor</th><td>1</td><td>1</td><td>$150.00</td>' in page
    assert '<th scope="row">Maya Chen</th><td>2</td><td>1</td><td>$150.00</td>' in page
    only_noor = unescape(
        (await client.get(f"/report?preset=this_month&clinician={noor.user.clinician_id}")).text
    )
    assert (
        "Alex Rivera" in only_noor
        and "Sam Okafor" not in only_noor.split("By clinician")[0].split("Sessions")[-1]
    )
    csv = (await client.get(f"/report.csv?preset=this_month&clinician={noor.user.clinician_id}")).text
    assert "Alex Rivera" in csv and "Sam Okafor" not in csv
    lines = (await client.get("/report.csv?preset=this_month")).text.splitlines()
    assert lines[0].endswith(",Clinician")
    assert sorted(line.rsplit(",", 1)[1] for line in lines[1:]) == ["Maya Chen", "Maya Chen", "Noor"]
    for bad in (str(stranger.user.clinician_id), "abc", "9" * 30):
        refused = await client.get("/report", params={"preset": "this_month", "clinician": bad})
        assert "Choose a clinician from the list." in unescape(refused.text), bad
    assert (
        await client.get("/report", params={"preset": "this_month", "clinician": "1\x00"})
    ).status_code < 500
    client.cookies.clear()

    await sign_in(client, noor)
    theirs = unescape((await client.get("/report?preset=this_month")).text)
    assert "Alex Rivera" in theirs and "Sam Okafor" not in theirs and "By clinician" not in theirs
    assert 'name="clinician"' not in theirs
    assert "Clinician" not in (await client.get("/report.csv?preset=this_month")).text.splitlines()[0]
    sneaky = unescape(
        (await client.get(f"/report?preset=this_month&clinician={owner.user.clinician_id}")).text
    )
    assert "Sam Okafor" not in sneaky and "Choose a clinician from the list." in sneaky


async def test_a_practice_client_booking_a_colleague_s_page_keeps_one_record(client, settings, clock):
    from app.models.tables import Client, Clinician, WorkingHours
    from tests.test_online_booking import FIRST_SLOT, visitor

    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    seat = noor.user.clinician_id
    await WorkingHours.insert(
        *[WorkingHours(clinician=seat, weekday=d, start_minute=9 * 60, end_minute=17 * 60) for d in range(5)]
    )
    _, alex = await make_client(settings, clock.now(), owner)  # Maya's client
    slug = (await Clinician.select(Clinician.booking_slug).where(Clinician.id == seat).first())[
        "booking_slug"
    ]
    booked = await post_form(client, f"/book/{slug}", visitor(email="alex@example.test", name="Alex R."))
    assert booked.status_code == 200 and "Choose" not in unescape(booked.text).split("<main")[-1][:200]
    assert await Client.count().where(Client.email == "alex@example.test") == 1
    [session] = await Appointment.objects().where(Appointment.client == alex)
    assert session.clinician == seat and session.starts_at.isoformat().startswith(FIRST_SLOT[:10])


async def group_taking_bookings(settings, clock):
    """Maya (the owner, whose page is the practice's) and Noor, both with the same hours."""
    from app.models.tables import WorkingHours
    from tests.test_online_booking import practice_with_hours

    owner = await practice_with_hours(settings, clock)
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    await WorkingHours.insert(
        *[
            WorkingHours(clinician=noor.user.clinician_id, weekday=d, start_minute=9 * 60, end_minute=17 * 60)
            for d in range(5)
        ]
    )
    return owner, noor


async def test_the_practice_page_offers_each_clinician_and_first_available(client, settings, clock):
    import re

    from tests.test_online_booking import FIRST_SLOT, SLUG, visitor

    owner, noor = await group_taking_bookings(settings, clock)
    maya_seat, noor_seat = owner.user.clinician_id, noor.user.clinician_id
    page = unescape((await client.get(f"/book/{SLUG}")).text)
    assert "First available" in page and "Maya Chen" in page and "Noor Haddad" in page
    assert f'value="{FIRST_SLOT}"' in page

    # First available: Maya first (by name), then Noor for the same start; then nobody.
    assert (await post_form(client, f"/book/{SLUG}", visitor(email="a@example.test"))).status_code == 200
    assert (await post_form(client, f"/book/{SLUG}", visitor(email="b@example.test"))).status_code == 200
    taken = await post_form(client, f"/book/{SLUG}", visitor(email="c@example.test"))
    assert taken.status_code == 422 and "That time was just taken" in unescape(taken.text)
    held = sorted(row["clinician"] for row in await Appointment.select(Appointment.clinician))
    assert held == sorted([maya_seat, noor_seat])
    assert f'value="{FIRST_SLOT}"' not in (await client.get(f"/book/{SLUG}")).text

    # A chosen clinician: only their times, and the booking is theirs.
    chosen = await client.get(f"/book/{SLUG}", params={"clinician": str(noor_seat)})
    assert 'aria-current="page">Noor Haddad' in chosen.text
    slot = re.findall(r'name="slot" value="([^"]+)"', chosen.text)[0]
    booked = await post_form(
        client, f"/book/{SLUG}", visitor(email="d@example.test", slot=slot, clinician=str(noor_seat))
    )
    assert booked.status_code == 200
    last = await Appointment.objects().order_by(Appointment.id, ascending=False).first()
    assert last.clinician == noor_seat

    # Noor keeps her own page, with only her.
    from app.models.tables import Clinician

    slug = (await Clinician.select(Clinician.booking_slug).where(Clinician.id == noor_seat).first())[
        "booking_slug"
    ]
    own = unescape((await client.get(f"/book/{slug}")).text)
    assert "First available" not in own and f'action="/book/{slug}"' in own


async def test_first_available_racing_visitors_one_winner_per_clinician(app, settings, clock):
    import asyncio

    from tests.conftest import browser
    from tests.test_online_booking import SLUG, visitor

    await group_taking_bookings(settings, clock)
    visitors = [browser(app) for _ in range(4)]
    try:
        for person in visitors:
            await person.get(f"/book/{SLUG}")
        results = await asyncio.gather(
            *[
                post_form(person, f"/book/{SLUG}", visitor(email=f"v{index}@example.test", name=f"V {index}"))
                for index, person in enumerate(visitors)
            ]
        )
    finally:
        for person in visitors:
            await person.aclose()
    assert sorted(r.status_code for r in results) == [200, 200, 422, 422]
    held = [row["clinician"] for row in await Appointment.select(Appointment.clinician)]
    assert len(held) == 2 and len(set(held)) == 2


async def test_the_practice_day_has_a_column_per_clinician_for_the_owner_and_the_front_desk(
    client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    desk = await make_member(
        settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    _, sam = await make_client(settings, clock.now(), owner, email="sam@example.test", name="Sam Okafor")
    alex_session = await add_appointment(noor.user.clinician_id, alex, clock.now() + timedelta(hours=1))
    await add_appointment(owner.user.clinician_id, sam, clock.now() + timedelta(hours=2))

    for person in (owner, desk):
        client.cookies.clear()
        await sign_in(client, person)
        day = unescape((await client.get("/calendar/practice")).text)
        assert "Alex Rivera" in day and "Sam Okafor" in day and "Noor Haddad" in day and "Maya Chen" in day
    only = unescape(
        (await client.get("/calendar/practice", params={"clinician": str(noor.user.clinician_id)})).text
    )
    assert "Alex Rivera" in only and "Sam Okafor" not in only
    for bad in ({"clinician": "abc"}, {"clinician": "9" * 40}, {"date": "not a date"}):
        assert (await client.get("/calendar/practice", params=bad)).status_code == 200, bad
    opened = await post_form(
        client, "/practice/calendar", {"clinician_id": str(noor.user.clinician_id), "date": "2026-12-01"}
    )
    assert opened.headers["location"] == "/calendar?view=day&date=2026-12-01"
    assert f'href="/appointments/{alex_session}"' in day and "Book with Noor Haddad" in day
    assert "Alex Rivera" in (await client.get(f"/appointments/{alex_session}")).text
    book = {"clinician_id": str(noor.user.clinician_id), "date": "2026-12-01", "then": "book"}
    booking = await post_form(client, "/practice/calendar", book)
    assert booking.headers["location"] == "/appointments/new?date=2026-12-01"
    assert "Alex Rivera" in unescape((await client.get(booking.headers["location"])).text)

    client.cookies.clear()
    await sign_in(client, noor)
    assert (await client.get("/calendar/practice")).status_code == 403


async def test_the_owner_s_practice_settings_reach_every_colleague_and_a_colleague_keeps_their_own(
    client, other_client, settings, clock
):
    from tests.test_reminders import _form_values

    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    await sign_in(client, owner)
    form = {
        k: v for k, v in _form_values((await client.get("/settings/booking")).text).items() if k != "_csrf"
    }
    changed = {**form, "cancellation_window_hours": "24", "reminder_hours": "24", "min_notice_hours": "12"}
    assert (await post_form(client, "/settings/booking", changed)).status_code == 303

    await sign_in(other_client, noor)
    seen = _form_values((await other_client.get("/settings/booking")).text)
    assert (seen["cancellation_window_hours"], seen["reminder_hours"], seen["min_notice_hours"]) == (
        "24",
        "24",
        "12",
    )
    mine = {k: v for k, v in seen.items() if k != "_csrf"}
    mine.update(
        buffer_minutes="25", video_link="https://meet.example.test/noor", cancellation_window_hours="72"
    )
    assert (await post_form(other_client, "/settings/booking", mine)).status_code == 303
    after = _form_values((await other_client.get("/settings/booking")).text)
    assert (after["buffer_minutes"], after["video_link"]) == ("25", "https://meet.example.test/noor")
    assert after["cancellation_window_hours"] == "24"
    owners = _form_values((await client.get("/settings/booking")).text)
    assert (owners["cancellation_window_hours"], owners["buffer_minutes"], owners["video_link"]) == (
        "24",
        "10",
        "",
    )


async def test_the_owner_and_the_front_desk_open_a_colleague_s_client_without_switching_calendars(
    client, other_client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    lee = await make_member(
        settings, clock.now(), owner, email="lee@example.test", name="Lee Park", role="clinician"
    )
    desk = await make_member(
        settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    session = await add_appointment(noor.user.clinician_id, alex, clock.now() + timedelta(days=1))

    await sign_in(client, owner)
    assert "Alex Rivera" in (await client.get(f"/clients/{alex}")).text
    assert (await client.get(f"/clients/{alex}/insurance")).status_code == 200
    assert "Alex Rivera" in (await client.get(f"/appointments/{session}")).text
    assert "You're working in" not in unescape((await client.get("/calendar")).text)

    await sign_in(other_client, desk)
    assert "Alex Rivera" in (await other_client.get(f"/clients/{alex}")).text
    assert "Alex Rivera" in (await other_client.get(f"/appointments/{session}")).text
    assert (await other_client.get(f"/clients/{alex}/insurance")).status_code == 403
    assert (await post_form(other_client, f"/appointments/{session}/charge/refund")).status_code == 403

    await sign_in(other_client, lee)
    assert (await other_client.get(f"/clients/{alex}")).status_code == 404
    assert (await other_client.get(f"/appointments/{session}")).status_code == 404


async def test_the_front_desk_edits_a_client_s_name_email_and_phone_audited_with_their_role(
    client, settings, clock
):
    from app.models.tables import AuditEvent, User

    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    desk = await make_member(
        settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk"
    )
    _, alex = await make_client(settings, clock.now(), noor, with_password=False)
    _, sam = await make_client(settings, clock.now(), owner, email="sam@example.test", name="Sam Okafor")
    await sign_in(client, desk)
    page = unescape((await client.get(f"/clients/{alex}")).text)
    assert f'href="/clients/{alex}/contact"' in page and f'href="/clients/{alex}/edit"' not in page
    form = {"name": "Alex Rivera", "email": "alex@example.test", "phone": ""}
    for bad, message in (
        ({"name": "A\x00x"}, "control characters"),
        ({"email": "not an address"}, "email"),
        ({"email": "sam@example.test"}, "already uses this address"),
        ({"phone": "9" * 500}, "at most"),
    ):
        refused = await post_form(client, f"/clients/{alex}/contact", {**form, **bad})
        assert refused.status_code == 400 and message in unescape(refused.text).lower(), bad
    saved = await post_form(
        client,
        f"/clients/{alex}/contact",
        {"name": "Alex R. Rivera", "email": "alex.r@example.test", "phone": "555 0100"},
    )
    assert saved.status_code == 303
    stored = await Client.objects().get(Client.id == alex)
    assert (stored.name, stored.email, stored.phone) == ("Alex R. Rivera", "alex.r@example.test", "555 0100")
    assert await User.exists().where(User.email == "alex.r@example.test")
    trail = await AuditEvent.objects().where(AuditEvent.action == "client_contact_changed").first()
    assert trail.detail == "name, email, phone" and trail.actor_role == "front_desk"
    locked = await post_form(
        client, f"/clients/{sam}/contact", {"name": "Sam", "email": "s2@example.test", "phone": ""}
    )
    assert locked.status_code == 400 and "portal login" in unescape(locked.text)


async def test_the_owner_reassigns_and_shares_a_client_from_its_page_and_the_trail_keeps_it(
    client, other_client, settings, clock
):
    from app.models.tables import AuditEvent

    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor Haddad", role="clinician"
    )
    lee = await make_member(
        settings, clock.now(), owner, email="lee@example.test", name="Lee Park", role="clinician"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    await sign_in(client, owner)
    assert f'href="/clients/{alex}/clinicians"' in (await client.get(f"/clients/{alex}")).text
    page = unescape((await client.get(f"/clients/{alex}/clinicians")).text)
    assert "Noor Haddad" in page and "Reassign to" in page and "Share with" in page
    refused = await post_form(client, f"/clients/{alex}/reassign", {"clinician_id": "999999"})
    assert "Choose a clinician of this practice." in unescape(
        (await client.get(refused.headers["location"])).text
    )

    moved = await post_form(client, f"/clients/{alex}/reassign", {"clinician_id": str(lee.user.clinician_id)})
    assert moved.status_code == 303
    await post_form(client, f"/clients/{alex}/share", {"clinician_id": str(noor.user.clinician_id)})
    page = re.sub(r"<[^>]+>", "", unescape((await client.get(f"/clients/{alex}/clinicians")).text))
    assert "clinician: Lee Park" in page and "Stop sharing with Noor Haddad" in page
    assert page.count("Noor Haddad: from") == 1 and "Lee Park: from" in page
    assert (await Client.objects().get(Client.id == alex)).clinician == lee.user.clinician_id
    trail = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_role).where(
        AuditEvent.action.is_in(["client_reassigned", "client_shared"])
    )
    assert sorted((r["action"], r["actor_role"]) for r in trail) == [
        ("client_reassigned", "owner"),
        ("client_shared", "owner"),
    ]

    await sign_in(other_client, noor)
    assert "Alex Rivera" in (await other_client.get(f"/clients/{alex}")).text  # shared with her now
    taken = await post_form(
        other_client, f"/clients/{alex}/reassign", {"clinician_id": str(noor.user.clinician_id)}
    )
    assert taken.status_code == 403
    await post_form(client, f"/clients/{alex}/unshare", {"clinician_id": str(noor.user.clinician_id)})
    assert (await other_client.get(f"/clients/{alex}")).status_code == 404
