"""Two-step sign-in: enrolment, the code step (wrong, reused, skewed, throttled), recovery codes,
trusted browsers, turning it off, and the practice requirement."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet

from app.config import ConfigError, Settings
from app.domain.sign_in_throttle import ACCOUNT_SLOW_AFTER, FIRST_ACCOUNT_PACE
from app.models.tables import AuditEvent, Clinician, RecoveryCode, User
from app.services.sealing import seal, unseal
from tests.helpers import PASSWORD, browser_at, make_client, make_clinician, post_form, sign_in

CODE_ERROR = "That code doesn"


def secret_on(page_html: str) -> str:
    match = re.search(r'<code id="secret-key">([A-Z2-7 ]+)</code>', page_html)
    assert match, "the set-up page shows the key as text"
    return match.group(1).replace(" ", "")


def recovery_codes_on(page_html: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code></li>", page_html)


async def enrol(client, person, clock) -> tuple[str, list[str]]:
    """Turn two-step sign-in on through the pages; returns the secret and the recovery codes."""
    page = await client.get("/account/security/two-factor")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    secret = secret_on(page.text)
    done = await post_form(
        client,
        "/account/security/two-factor",
        {"password": person.password, "code": pyotp.TOTP(secret).at(clock.now())},
    )
    codes = recovery_codes_on(done.text)
    assert len(codes) == 10, done.text
    return secret, codes


async def password_step(client, person):
    response = await post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.status_code == 303 and response.headers["location"] == "/login/code"
    return response


async def enter_code(client, code: str, *, trust: bool = False):
    data = {"code": code}
    if trust:
        data["trust"] = "on"
    return await post_form(client, "/login/code", data)


async def signed_in_to_calendar(client) -> bool:
    return (await client.get("/calendar", follow_redirects=False)).status_code == 200


async def actions(name: str) -> list[AuditEvent]:
    return await AuditEvent.objects().where(AuditEvent.action == name).order_by(AuditEvent.id)


async def test_enrolment_needs_the_password_and_a_valid_code(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    page = await client.get("/account/security/two-factor")
    secret = secret_on(page.text)
    totp = pyotp.TOTP(secret)
    assert secret == secret_on((await client.get("/account/security/two-factor")).text), (
        "a reload keeps the key"
    )

    wrong_code = await post_form(
        client, "/account/security/two-factor", {"password": PASSWORD, "code": "000000"}
    )
    assert CODE_ERROR in wrong_code.text and 'aria-invalid="true"' in wrong_code.text
    wrong_password = await post_form(
        client, "/account/security/two-factor", {"password": "not it at all", "code": totp.at(clock.now())}
    )
    assert "That isn&#39;t your current password." in wrong_password.text
    blank = await post_form(client, "/account/security/two-factor", {"password": "", "code": ""})
    assert "Enter your password." in blank.text
    user = await User.objects().where(User.id == maya.user.id).first()
    assert user.totp_enabled_at is None and user.totp_secret is None
    assert [e.outcome for e in await actions("two_factor_enable")] == ["failure", "failure"]

    done = await post_form(
        client, "/account/security/two-factor", {"password": PASSWORD, "code": totp.at(clock.now())}
    )
    codes = recovery_codes_on(done.text)
    assert len(set(codes)) == 10
    user = await User.objects().where(User.id == maya.user.id).first()
    assert user.totp_enabled_at == clock.now()
    assert user.totp_secret.startswith("sealed1:") and secret not in user.totp_secret, "sealed at rest"
    assert unseal(user.totp_secret, settings) == secret
    stored = await RecoveryCode.objects().where(RecoveryCode.user == maya.user.id)
    assert len(stored) == 10
    assert all(row.code_hash.startswith("$argon2id$") for row in stored)
    assert not any(code in row.code_hash for code in codes for row in stored)
    assert len(await actions("two_factor_enabled")) == 1
    account = await client.get("/account/security")
    assert "10 of 10 recovery codes left" in account.text
    assert not recovery_codes_on(account.text), "recovery codes are shown only once"


async def test_sign_in_asks_for_the_code_and_refuses_a_wrong_one(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)

    await password_step(other_client, maya)
    assert not await signed_in_to_calendar(other_client), "the password alone is not a session"
    page = await other_client.get("/login/code")
    assert "Two-step sign-in" in page.text
    wrong = await enter_code(other_client, "123456")
    assert CODE_ERROR in wrong.text
    assert not await signed_in_to_calendar(other_client)
    right = await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))
    assert right.status_code == 303 and right.headers["location"] == "/calendar"
    assert await signed_in_to_calendar(other_client)

    password_ok = await actions("login_password_ok")
    assert password_ok[-1].detail == "code_required" and password_ok[-1].actor_id == maya.user.id
    failed = await actions("login_code_failed")
    assert len(failed) == 1 and failed[0].outcome == "failure"
    succeeded = await actions("login_succeeded")
    assert succeeded[-1].detail == "app" and succeeded[-1].actor_role == "clinician"


async def test_a_code_cannot_be_used_twice_within_its_window(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())

    await password_step(other_client, maya)
    assert (await enter_code(other_client, code)).status_code == 303
    await post_form(other_client, "/logout")
    clock.advance(seconds=5)
    await password_step(other_client, maya)
    replay = await enter_code(other_client, code)
    assert CODE_ERROR in replay.text
    earlier = await enter_code(other_client, pyotp.TOTP(secret).at(clock.now() - timedelta(seconds=30)))
    assert CODE_ERROR in earlier.text, "a code older than the last one used is refused too"
    clock.advance(seconds=30)
    assert (await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))).status_code == 303


async def test_one_step_of_clock_skew_is_accepted_but_not_two(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    totp = pyotp.TOTP(secret)
    clock.advance(minutes=5)

    await password_step(other_client, maya)
    two_behind = totp.at(clock.now() - timedelta(seconds=60))
    assert CODE_ERROR in (await enter_code(other_client, two_behind)).text
    one_behind = totp.at(clock.now() - timedelta(seconds=30))
    assert (await enter_code(other_client, one_behind)).status_code == 303

    await post_form(other_client, "/logout")
    await password_step(other_client, maya)
    two_ahead = totp.at(clock.now() + timedelta(seconds=60))
    assert CODE_ERROR in (await enter_code(other_client, two_ahead)).text
    one_ahead = totp.at(clock.now() + timedelta(seconds=30))
    assert (await enter_code(other_client, one_ahead)).status_code == 303


async def test_a_recovery_code_works_once(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    _, codes = await enrol(client, maya, clock)

    await password_step(other_client, maya)
    typed = codes[3].lower().replace("-", " ")
    assert (await enter_code(other_client, typed)).status_code == 303, "spaces and case don't matter"
    await post_form(other_client, "/logout")
    await password_step(other_client, maya)
    assert CODE_ERROR in (await enter_code(other_client, codes[3])).text
    assert (await enter_code(other_client, codes[4])).status_code == 303
    assert len(await actions("recovery_code_used")) == 2
    assert (await actions("login_succeeded"))[-1].detail == "recovery_code"
    assert "8 of 10 recovery codes left" in (await client.get("/account/security")).text


async def test_a_secret_stored_before_sealing_still_works_and_is_sealed_on_use(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    await User.update({User.totp_secret: secret}).where(User.id == maya.user.id)  # as before sealing
    clock.advance(minutes=1)

    await password_step(other_client, maya)
    assert (await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))).status_code == 303
    stored = (await User.select(User.totp_secret).where(User.id == maya.user.id).first())["totp_secret"]
    assert stored.startswith("sealed1:") and unseal(stored, settings) == secret


def test_data_keys_rotate_and_bad_keys_are_refused(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = seal("JBSWY3DPEHPK3PXP", replace(settings, data_keys=(old_key,)))
    rotated = replace(settings, data_keys=(new_key, old_key))
    assert unseal(sealed_with_old, rotated) == "JBSWY3DPEHPK3PXP"
    assert unseal(seal("JBSWY3DPEHPK3PXP", rotated), replace(settings, data_keys=(new_key,)))
    with pytest.raises(ConfigError, match="DATA_KEYS must be Fernet keys"):
        Settings(secret_key="x" * 40, debug=False, data_keys=("not-a-key",)).check()


async def test_when_the_key_is_gone_recovery_codes_still_sign_in(client, other_client, settings, clock, app):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, codes = await enrol(client, maya, clock)
    app.state.runtime.settings = replace(settings, data_keys=(Fernet.generate_key().decode(),))
    clock.advance(minutes=1)

    await password_step(other_client, maya)
    assert CODE_ERROR in (await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))).text
    assert (await enter_code(other_client, codes[0])).status_code == 303


async def test_the_code_step_is_throttled_like_the_password_step(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    await password_step(other_client, maya)
    for n in range(settings.login_attempts_per_account):
        await enter_code(other_client, f"{n:06d}")
    await password_step(other_client, maya)
    locked = await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))
    assert "Too many wrong codes" in locked.text
    assert not await signed_in_to_calendar(other_client)
    denied = await actions("login_throttled")
    assert denied and denied[-1].detail == "code_step" and denied[-1].outcome == "denied"


async def test_the_code_step_expires_after_five_minutes(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    await password_step(other_client, maya)
    clock.advance(minutes=5, seconds=1)
    late = await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()))
    assert late.status_code == 303 and late.headers["location"] == "/login?notice=code-expired"
    page = await other_client.get("/login/code", follow_redirects=True)
    assert "took too long" in page.text


async def test_a_trusted_browser_skips_the_code_until_the_password_changes(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    await password_step(other_client, maya)
    trusted = await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()), trust=True)
    cookie = trusted.headers.get("set-cookie", "")
    assert "sw_trusted=" in cookie and "HttpOnly" in cookie
    await post_form(other_client, "/logout")

    clock.advance(days=29)
    direct = await post_form(other_client, "/login", {"email": maya.email, "password": PASSWORD})
    assert direct.headers["location"] == "/calendar"
    assert (await actions("login_succeeded"))[-1].detail == "trusted_browser"
    await post_form(other_client, "/logout")

    await sign_in(client, maya)
    clock.advance(minutes=1)
    await enter_code(client, pyotp.TOTP(secret).at(clock.now()))
    new_password = "a fresh and longer passphrase"
    await post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new_password, "new_password_confirm": new_password},
    )
    again = await post_form(other_client, "/login", {"email": maya.email, "password": new_password})
    assert again.headers["location"] == "/login/code", "a password change ends the trust"


async def test_trust_expires_after_30_days(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    await password_step(other_client, maya)
    await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()), trust=True)
    await post_form(other_client, "/logout")
    clock.advance(days=30, seconds=1)
    await password_step(other_client, maya)


async def test_turning_it_off_needs_the_password_and_a_current_code(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    code = pyotp.TOTP(secret).at(clock.now())
    no_password = await post_form(
        client, "/account/security/two-factor/off", {"off_password": "guess", "off_code": code}
    )
    assert "That isn&#39;t your current password." in no_password.text
    no_code = await post_form(
        client, "/account/security/two-factor/off", {"off_password": PASSWORD, "off_code": "111111"}
    )
    assert CODE_ERROR in no_code.text
    assert (await User.objects().where(User.id == maya.user.id).first()).totp_enabled_at is not None
    off = await post_form(
        client, "/account/security/two-factor/off", {"off_password": PASSWORD, "off_code": code}
    )
    assert off.status_code == 303
    user = await User.objects().where(User.id == maya.user.id).first()
    assert user.totp_enabled_at is None and user.totp_secret is None
    assert await RecoveryCode.count().where(RecoveryCode.user == maya.user.id) == 0
    assert len(await actions("two_factor_disabled")) == 1
    assert [e.detail for e in await actions("two_factor_disable")] == ["wrong_password", "wrong_code"]
    direct = await post_form(other_client, "/login", {"email": maya.email, "password": PASSWORD})
    assert direct.headers["location"] == "/calendar"


async def test_new_recovery_codes_replace_the_old_ones(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, old_codes = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    refused = await post_form(client, "/account/security/recovery-codes", {"recovery_code": "999999"})
    assert CODE_ERROR in refused.text and not recovery_codes_on(refused.text)
    fresh = await post_form(
        client, "/account/security/recovery-codes", {"recovery_code": pyotp.TOTP(secret).at(clock.now())}
    )
    new_codes = recovery_codes_on(fresh.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    await password_step(other_client, maya)
    assert CODE_ERROR in (await enter_code(other_client, old_codes[0])).text
    assert (await enter_code(other_client, new_codes[0])).status_code == 303
    assert len(await actions("recovery_codes_regenerated")) == 2


async def test_a_practice_can_require_it_for_the_clinician(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    saved = await post_form(client, "/account/security/requirement", {"required": "on"})
    assert saved.headers["location"] == "/account/security/two-factor"
    assert (
        await Clinician.objects().where(Clinician.id == maya.user.clinician_id).first()
    ).require_two_factor
    change = (await actions("two_factor_requirement_changed"))[-1]
    assert change.detail == "required" and change.clinician_id == maya.user.clinician_id

    await post_form(client, "/logout")
    landing = await post_form(client, "/login", {"email": maya.email, "password": PASSWORD})
    assert landing.headers["location"] == "/account/security/two-factor", "sent to set it up after sign-in"
    page = await client.get("/account/security/two-factor")
    assert "Your practice requires two-step sign-in" in page.text
    skipped = await client.get("/calendar")
    assert skipped.status_code == 303 and skipped.headers["location"] == "/account/security/two-factor"

    secret, _ = await enrol(client, maya, clock)
    assert (await client.get("/calendar")).status_code == 200, "set up: every page is open again"
    clock.advance(minutes=1)
    refused = await post_form(
        client,
        "/account/security/two-factor/off",
        {"off_password": PASSWORD, "off_code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert "Turn that requirement off first" in refused.text
    assert (await User.objects().where(User.id == maya.user.id).first()).totp_enabled_at is not None


async def test_clients_may_use_it_and_cannot_change_the_practice_setting(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    alex, _ = await make_client(settings, clock.now(), maya)
    await sign_in(client, alex)
    page = await client.get("/account/security")
    assert "Set up two-step sign-in" in page.text and "Require two-step sign-in" not in page.text
    assert (await post_form(client, "/account/security/requirement", {"required": "on"})).status_code == 404
    secret, _ = await enrol(client, alex, clock)
    await post_form(client, "/logout")
    clock.advance(minutes=1)
    await password_step(client, alex)
    done = await enter_code(client, pyotp.TOTP(secret).at(clock.now()))
    assert done.headers["location"] == "/portal"


async def test_an_account_attacked_from_many_addresses_is_slowed_but_a_trusted_browser_walks_in(
    app, client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    secret, _ = await enrol(client, maya, clock)
    clock.advance(minutes=1)
    await password_step(other_client, maya)  # Maya's own browser, trusted at two-step sign-in
    await enter_code(other_client, pyotp.TOTP(secret).at(clock.now()), trust=True)
    await post_form(other_client, "/logout")

    for n in range(ACCOUNT_SLOW_AFTER // settings.login_attempts_per_account + 1):
        async with browser_at(app, f"203.0.113.{n + 10}") as stranger:
            for _ in range(settings.login_attempts_per_account):
                await post_form(stranger, "/login", {"email": maya.email, "password": "guess guess"})
    slowed_message = re.compile(
        r"Too many sign-in attempts for this email from other places\. Wait \d seconds? and try again"
    )
    async with browser_at(app, "198.51.100.20") as new_laptop:
        slowed = await post_form(new_laptop, "/login", {"email": maya.email, "password": PASSWORD})
        assert slowed.status_code == 200 and slowed_message.search(slowed.text)

        direct = await post_form(other_client, "/login", {"email": maya.email, "password": PASSWORD})
        assert direct.status_code == 303 and direct.headers["location"] == "/calendar"
        assert (await actions("login_succeeded"))[-1].detail == "trusted_browser"

        await asyncio.sleep(FIRST_ACCOUNT_PACE + 0.5)  # slowed, never locked: after the pace, it's her turn
        after_wait = await post_form(new_laptop, "/login", {"email": maya.email, "password": PASSWORD})
        assert after_wait.status_code == 303 and after_wait.headers["location"] == "/login/code"
    held = await actions("login_throttled")
    assert held and {event.detail for event in held} == {"account"}
