"""Browser helpers: sign in through the real form, check the page fits a phone screen."""

from __future__ import annotations

from tests.conftest import ARTIFACTS


async def sign_in(page, base_url: str, email: str, password: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("networkidle")


async def assert_fits_phone(page) -> None:
    """Nothing is wider than the screen. Compared with the viewport we asked for: a mobile browser
    widens its layout to fit overflowing content, so window.innerWidth would grow with it."""
    width = page.viewport_size["width"]
    widest = await page.evaluate("Math.max(document.documentElement.scrollWidth, window.innerWidth)")
    assert widest <= width, f"page is {widest}px wide on a {width}px screen"


async def screenshot(page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
