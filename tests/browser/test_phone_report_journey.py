"""The report on a phone (390×844): the first screen says how many sessions there are and leads
straight to them; the sessions come before totals and chart; the client filter shows a whole name."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician
from tests.report_data import add_appointment, add_client

pytestmark = pytest.mark.browser

NEW_YORK = ZoneInfo("America/New_York")  # make_clinician's zone
LONG_NAME = "Alexandra Featherstonehaugh"
TABBAR = 56  # the tab bar along the bottom of a phone screen


async def test_the_report_leads_with_its_sessions_on_a_phone(live_server, phone, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now)
    cid = maya.user.clinician_id
    alex = await add_client(cid, "Alex Rivera", now=now)
    alexandra = await add_client(cid, LONG_NAME, now=now)
    # Six sessions on the 1st of this month (the report opens on this month).
    first = now.astimezone(NEW_YORK).date().replace(day=1)
    for hour in range(9, 15):
        starts = datetime.combine(first, time(hour), tzinfo=NEW_YORK)
        await add_appointment(cid, alexandra if hour % 2 else alex, starts)

    await sign_in(phone, live_server, maya.email, PASSWORD)
    await phone.get_by_role("link", name="Report").click()
    await phone.wait_for_url("**/report")
    await assert_fits_phone(phone)
    await phone.screenshot(path="test-artifacts/report-first-screen-phone.png")

    # On the first screen: how many sessions, as a link to them.
    to_sessions = phone.get_by_role("link", name="See the 6 sessions")
    box = await to_sessions.bounding_box()
    assert box["y"] + box["height"] <= phone.viewport_size["height"] - TABBAR, "not on the first screen"
    # The sessions come before the totals and the chart.
    tops = [
        (await phone.get_by_role("heading", name=name, exact=True).bounding_box())["y"]
        for name in ("Sessions", "Totals", "Sessions per week")
    ]
    assert tops == sorted(tops), f"sessions, totals, chart top to bottom: {tops}"

    await to_sessions.click()
    await phone.wait_for_url("**/report#sessions-heading")
    heading = await phone.get_by_role("heading", name="Sessions", exact=True).bounding_box()
    assert -1 <= heading["y"] < phone.viewport_size["height"] / 2, "the sessions are on screen"
    rows = phone.locator(".report-table tbody tr")
    await expect(rows).to_have_count(6)

    # The client filter shows a long name whole.
    client = phone.get_by_label("Client", exact=True)
    await client.select_option(label=LONG_NAME)
    await phone.wait_for_url(f"**client={alexandra}*")
    await expect(rows).to_have_count(3)
    text_width, room = await client.evaluate(
        """select => {
            const style = getComputedStyle(select);
            const pen = document.createElement('canvas').getContext('2d');
            pen.font = style.font;
            const arrow = 24, padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
            const room = select.clientWidth - padding - arrow;
            return [pen.measureText(select.options[select.selectedIndex].text).width, room];
        }"""
    )
    assert text_width <= room, f"the client filter cuts {LONG_NAME!r}: {text_width:.0f}px in {room:.0f}px"
    await assert_fits_phone(phone)
    await screenshot(phone, "report-phone-client")
