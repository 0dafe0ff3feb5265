"""The calendar on a phone (390×844): the week reads as a list of days, and every session, even a
15-minute intro call, is a finger-sized target whose name and status can be read. Wide screens
(1280×800) keep the time grid."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_client, make_clinician
from tests.test_calendar import add_appointment

pytestmark = pytest.mark.browser

NEW_YORK = ZoneInfo("America/New_York")  # make_clinician's zone
WIDE = {"width": 1280, "height": 800}


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK)


async def tappable(cell) -> None:
    """A session on the calendar is at least 44 px high and nothing covers it (a tap at its middle
    lands on it)."""
    await cell.evaluate("cell => cell.scrollIntoView({block: 'center'})")
    box = await cell.bounding_box()
    assert box["height"] >= 44, f"{await cell.text_content()!r} is {box['height']}px high"
    on_top = await cell.evaluate(
        """cell => { const r = cell.getBoundingClientRect();
            return cell.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"""
    )
    assert on_top, f"{await cell.text_content()!r} is covered by something else"


async def readable(cell) -> None:
    """A tappable session whose name and status are shown whole."""
    await tappable(cell)
    clipped = await cell.evaluate(
        """cell => [cell, cell.querySelector('.appt-name'), cell.querySelector('.appt-status')]
            .filter(el => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight)
            .map(el => el.className)"""
    )
    assert not clipped, f"clipped in {await cell.text_content()!r}: {clipped}"
    for part in (".appt-name", ".appt-status"):
        assert await cell.locator(part).is_visible()


async def close_panel(page) -> None:
    """Close the session panel once its parts (charge, checklist) have loaded: a bottom sheet grows
    upwards as they arrive, moving its Close button."""
    await page.wait_for_function(
        """() => {
            const body = document.getElementById('dialog-body');
            const charge = body.querySelector('#appointment-charge');
            return (!charge || charge.childElementCount > 0)
                && !body.querySelector('.panel-checklist[hx-trigger="load"]');
        }"""
    )
    dialog = page.locator("#appointment-dialog")
    await dialog.get_by_role("button", name="Close").click()
    await dialog.wait_for(state="hidden")


async def seed_week(settings, clock):
    """Sessions on Monday, and on Wednesday an intro call straight before a regular session."""
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, alex = await make_client(settings, now, clinician)
    _, long_name = await make_client(
        settings, now, clinician, email="max@example.test", name="Maximiliana Featherstonehaugh-Okonkwo"
    )
    today = now.astimezone(NEW_YORK).date()
    monday = today - timedelta(days=today.weekday())
    wednesday = monday + timedelta(days=2)
    ids = {
        "monday": await add_appointment(clinician, alex, local(monday, 9), status="occurred"),
        "intro": await add_appointment(clinician, long_name, local(wednesday, 14), minutes=15, kind="intro"),
        "after": await add_appointment(clinician, alex, local(wednesday, 14, 15)),
    }
    return clinician, today, monday, ids


@pytest.mark.dates
async def test_the_week_on_a_phone_is_a_list_of_days_and_a_grid_on_a_wide_screen(
    live_server, phone, settings, clock
):
    clinician, today, monday, ids = await seed_week(settings, clock)
    days = [monday + timedelta(days=offset) for offset in range(7)]

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    await phone.get_by_role("link", name="Week", exact=True).click()
    await phone.wait_for_url(f"**/calendar?view=week&date={today:%Y-%m-%d}")
    await assert_fits_phone(phone)
    await screenshot(phone, "calendar-week-list-phone")

    # Each day is a heading, one under the other, Monday first; nothing scrolls sideways.
    headings = [phone.get_by_role("heading", name=day.strftime("%a %-d %b"), exact=True) for day in days]
    tops = [(await heading.bounding_box())["y"] for heading in headings]
    assert tops == sorted(tops), "the days read top to bottom"
    scroll = await phone.locator(".cal-scroll").evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll[0] <= scroll[1], f"the week scrolls sideways: {scroll}"
    # A day without sessions takes a line, not an empty hour grid.
    empty_day = phone.get_by_role("group", name=days[1].strftime("%A %-d %B"))
    assert (await empty_day.bounding_box())["height"] < 44
    await phone.get_by_text("No sessions").first.wait_for()

    # Each session is a full-width row with its time, whole name and status.
    width = phone.viewport_size["width"]
    for key, text in (("monday", "Alex Rivera"), ("intro", "Maximiliana Featherstonehaugh-Okonkwo")):
        cell = phone.locator(f"#appt-{ids[key]}")
        await readable(cell)
        assert (await cell.bounding_box())["width"] >= width * 0.8
        assert text in await cell.inner_text()
    assert "OCCURRED" in (await phone.locator(f"#appt-{ids['monday']}").inner_text()).upper()

    # A tap on a session opens its panel, as on the grid.
    await phone.locator(f"#appt-{ids['intro']}").click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="Maximiliana Featherstonehaugh-Okonkwo").wait_for()
    await close_panel(phone)

    # A tap on a day's heading opens that day.
    await headings[2].get_by_role("link").click()
    await phone.wait_for_url(f"**/calendar?view=day&date={days[2]:%Y-%m-%d}")
    await phone.locator(f"#appt-{ids['after']}").wait_for()

    # A wide screen still gets the time grid: seven columns side by side with the hours down the side.
    await phone.set_viewport_size(WIDE)
    await phone.get_by_role("link", name="Week", exact=True).click()
    await phone.wait_for_url(f"**/calendar?view=week&date={days[2]:%Y-%m-%d}")
    await screenshot(phone, "calendar-week-grid-wide")
    headings = [phone.get_by_role("heading", name=re.compile(rf"^{day:%a} {day.day}$")) for day in days]
    boxes = [await heading.bounding_box() for heading in headings]
    assert len({round(b["y"]) for b in boxes}) == 1, "the days sit side by side"
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
    assert await phone.locator(".cal-times").is_visible()
    intro, after = phone.locator(f"#appt-{ids['intro']}"), phone.locator(f"#appt-{ids['after']}")
    intro_box, after_box = await intro.bounding_box(), await after.bounding_box()
    assert intro_box["y"] < after_box["y"] and intro_box["x"] < after_box["x"], "side by side by time"
    # Half a narrow column: a long name may end in "…" here (the panel shows it whole).
    await tappable(intro)
    await tappable(after)


async def test_a_15_minute_intro_call_is_a_readable_finger_sized_block_in_the_day_view(
    live_server, phone, settings, clock
):
    now = clock.now()
    clinician = await make_clinician(settings, now)
    _, alex = await make_client(settings, now, clinician)
    _, sam = await make_client(settings, now, clinician, email="sam@example.test", name="Sam Okafor")
    today = now.astimezone(NEW_YORK).date()
    intro = await add_appointment(clinician, sam, local(today, 10), minutes=15, kind="intro")
    after = await add_appointment(clinician, alex, local(today, 10, 15))
    later = await add_appointment(clinician, alex, local(today, 16), minutes=15, kind="intro")

    await sign_in(phone, live_server, clinician.email, PASSWORD)
    assert await phone.get_by_role("link", name="Day", exact=True).get_attribute("aria-current") == "page"
    await assert_fits_phone(phone)
    await screenshot(phone, "calendar-day-short-sessions-phone")
    for appointment_id in (intro, after, later):
        await readable(phone.locator(f"#appt-{appointment_id}"))
    assert "Sam Okafor" in await phone.locator(f"#appt-{intro}").inner_text()

    await phone.locator(f"#appt-{intro}").click()
    dialog = phone.locator("#appointment-dialog")
    await dialog.get_by_role("heading", name="Sam Okafor").wait_for()
    await close_panel(phone)

    # The month's list of days on a phone: each session a finger-sized row too.
    await phone.get_by_role("link", name="Month", exact=True).click()
    await phone.wait_for_url(f"**/calendar?view=month&date={today:%Y-%m-%d}")
    for appointment_id in (intro, after, later):
        await readable(phone.locator(f"#appt-{appointment_id}"))
    await phone.get_by_role("link", name="Day", exact=True).click()
    await phone.wait_for_url(f"**/calendar?view=day&date={today:%Y-%m-%d}")

    # The same on a wide screen's day view.
    await phone.set_viewport_size(WIDE)
    await phone.reload()
    await phone.get_by_role("link", name="Day", exact=True).click()
    await phone.wait_for_url(f"**/calendar?view=day&date={today:%Y-%m-%d}")
    await screenshot(phone, "calendar-day-short-sessions-wide")
    assert await phone.locator(".cal-times").is_visible(), "the wide day view is a time grid"
    for appointment_id in (intro, after, later):
        await readable(phone.locator(f"#appt-{appointment_id}"))
    await phone.locator(f"#appt-{later}").click()
    await dialog.get_by_role("heading", name="Alex Rivera").wait_for()
