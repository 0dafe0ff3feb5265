"""At phone size: a clinician turns on two-step sign-in (reading the key shown as text), signs in with
a code, sees their devices, and gets the idle warning with "Stay signed in"."""

from __future__ import annotations

import pyotp
import pytest

from tests.browser.helpers import assert_fits_phone, screenshot, sign_in
from tests.helpers import PASSWORD, make_clinician

pytestmark = pytest.mark.browser


async def fresh_code(secret: str, used: set[int], server_clock) -> str:
    """A code the server takes now: the current 30-second step by its clock, or the next one (it accepts
    one step either side, each step once). Waits only when both were already used."""
    import asyncio

    totp = pyotp.TOTP(secret)
    step = max(totp.timecode(server_clock.now()), max(used, default=-1) + 1)
    while step > totp.timecode(server_clock.now()) + 1:
        await asyncio.sleep(1)
    used.add(step)
    return totp.generate_otp(step)


async def test_enrol_in_two_step_sign_in_and_use_it_at_phone_size(
    live_server, phone, settings, clock, server_clock
):

    maya = await make_clinician(settings, clock.now())
    await sign_in(phone, live_server, maya.email, PASSWORD)
    await phone.get_by_role("link", name="Account").click()
    await phone.wait_for_url("**/account")
    await phone.get_by_role("link", name="Set up two-step sign-in").click()
    await phone.wait_for_url("**/account/security/two-factor")
    assert await phone.get_by_role("img", name="QR code to add Stillwater").is_visible()
    secret = (await phone.locator("#secret-key").inner_text()).replace(" ", "")
    await assert_fits_phone(phone)
    await screenshot(phone, "two-factor-setup")

    used: set[int] = set()
    await phone.get_by_label("Your password").fill(PASSWORD)
    await phone.get_by_label("Code from the app").fill("000000")
    await phone.get_by_role("button", name="Turn on two-step sign-in").click()
    assert "That code doesn't match" in await phone.get_by_text("That code doesn't match").inner_text()
    await phone.get_by_label("Your password").fill(PASSWORD)
    await phone.get_by_label("Code from the app").fill(await fresh_code(secret, used, server_clock))
    await phone.get_by_role("button", name="Turn on two-step sign-in").click()
    await phone.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = await phone.get_by_role("list", name="Recovery codes").locator("li").all_inner_texts()
    assert len(codes) == 10
    await assert_fits_phone(phone)
    await screenshot(phone, "two-factor-recovery-codes")
    await phone.get_by_role("link", name="I've saved them").click()

    await phone.get_by_role("button", name="Sign out", exact=True).click()
    await phone.wait_for_url("**/login?notice=signed-out")
    await sign_in(phone, live_server, maya.email, PASSWORD)
    assert phone.url.endswith("/login/code")
    await assert_fits_phone(phone)
    await phone.get_by_label("Code").fill(await fresh_code(secret, used, server_clock))
    await phone.get_by_label("Trust this browser for 30 days").check()
    await screenshot(phone, "two-factor-code-step")
    await phone.get_by_role("button", name="Continue").click()
    await phone.wait_for_url("**/calendar")

    await phone.goto(f"{live_server}/account/security")
    assert await phone.get_by_text("This device").is_visible()
    await assert_fits_phone(phone)
    await screenshot(phone, "account-security")

    await phone.get_by_role("button", name="Sign out", exact=True).click()
    await phone.wait_for_url("**/login?notice=signed-out")
    await sign_in(phone, live_server, maya.email, PASSWORD)
    assert phone.url.endswith("/calendar"), "a trusted browser skips the code"


async def test_idle_warning_offers_to_stay_signed_in(live_server, phone, settings, clock):

    maya = await make_clinician(settings, clock.now())
    await sign_in(phone, live_server, maya.email, PASSWORD)
    warning = phone.get_by_role("alertdialog")
    assert not await warning.is_visible()
    await phone.clock.fast_forward(settings.clinician_idle_timeout * 1000 - 50_000)
    await warning.wait_for(state="visible")
    assert "You'll be signed out in" in await warning.inner_text()
    await assert_fits_phone(phone)
    await screenshot(phone, "idle-warning")
    await phone.get_by_role("button", name="Stay signed in").click()
    await warning.wait_for(state="hidden")
    await phone.clock.fast_forward(settings.clinician_idle_timeout * 1000 + 1000)
    await phone.wait_for_url("**/login?notice=timed-out**")
    assert await phone.get_by_text("You were signed out after a period of inactivity.").is_visible()
    response = await phone.goto(f"{live_server}/calendar")
    assert "/login" in response.url, "the session ended on the server too"
