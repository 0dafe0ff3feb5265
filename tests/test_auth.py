"""Sign-in, sessions, CSRF, throttling, password reset and the one-door role routing (R1, R2)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from urllib.parse import urlencode

from app.models.tables import AccountToken, AuditEvent, Client, EmailMessage, User
from tests.helpers import (
    PASSWORD,
    browser_at,
    csrf_from,
    ensure_csrf,
    last_email_to,
    link_in,
    make_client,
    make_clinician,
    post_form,
    sign_in,
)


def session_cookie(client) -> str | None:
    """The session cookie the server set (ignoring any planted by the test)."""
    values = [
        c.value for c in client.cookies.jar if c.name == "sw_session" and c.domain.startswith("testserver")
    ]
    return values[-1] if values else None


async def test_clinician_lands_on_calendar_and_client_on_portal(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), clinician)

    response = await sign_in(client, clinician)
    assert response.headers["location"] == "/calendar"
    page = await client.get("/calendar")
    assert page.status_code == 200 and "Calendar" in page.text

    response = await sign_in(other_client, person)
    assert response.headers["location"] == "/portal"
    assert (await other_client.get("/portal")).status_code == 200


async def test_wrong_role_pages_are_refused(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    await sign_in(other_client, person)
    assert (await client.get("/portal")).status_code == 403
    assert (await other_client.get("/calendar")).status_code == 403


async def test_anonymous_is_sent_to_login_with_next(client):
    response = await client.get("/calendar", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcalendar"
    htmx = await client.get("/calendar", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"].startswith("/login")


async def test_session_id_changes_at_login_and_planted_ids_are_ignored(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    client.cookies.set("sw_session", "attacker-chosen-id")
    await sign_in(client, clinician)
    issued = session_cookie(client)
    assert issued and issued != "attacker-chosen-id"
    first = issued
    await post_form(client, "/logout")
    await sign_in(client, clinician)
    assert session_cookie(client) != first


async def test_logout_kills_the_server_side_session(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    stolen = session_cookie(client)
    await post_form(client, "/logout")
    other_client.cookies.set("sw_session", stolen, domain="testserver.local")
    response = await other_client.get("/calendar", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_csrf_missing_or_wrong_is_refused_and_htmx_header_is_accepted(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await ensure_csrf(client)
    missing = await client.post("/login", data={"email": clinician.email, "password": PASSWORD})
    assert missing.status_code == 403
    assert "Traceback" not in missing.text
    wrong = await client.post(
        "/login", data={"email": clinician.email, "password": PASSWORD, "_csrf_token": "x" * 80}
    )
    assert wrong.status_code == 403
    htmx = await client.post(
        "/login",
        data={"email": clinician.email, "password": PASSWORD},
        headers={"HX-Request": "true", "x-csrftoken": csrf_from(client)},
    )
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"] == "/calendar"


def page_token(html: str) -> str:
    """The token a page gives its forms and htmx (what a browser would send)."""
    return html.split('name="_csrf_token" value="')[1].split('"')[0]


async def test_a_planted_csrf_cookie_is_useless_against_a_signed_in_session(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    # the attacker takes a real token from their own browser and plants it in Maya's (a sibling
    # subdomain or plain http can set cookies), then makes her browser submit it
    await other_client.get("/login")
    planted = csrf_from(other_client)
    client.cookies.set("csrftoken", planted, domain="testserver.local")
    new_client = {"name": "Planted Person", "email": "planted@example.test", "billing_type": "self_pay"}
    attack = await client.post("/clients/new", data={**new_client, "_csrf_token": planted})
    assert attack.status_code == 403 and "Your form expired" in attack.text
    by_htmx = await client.post(
        "/clients/new", data=new_client, headers={"HX-Request": "true", "x-csrftoken": planted}
    )
    assert by_htmx.status_code == 403
    assert await Client.count().where(Client.email == "planted@example.test") == 0

    form = await client.get("/clients/new")  # Maya's own page carries her session's token
    assert csrf_from(client) == page_token(form.text) != planted
    done = await client.post("/clients/new", data={**new_client, "_csrf_token": page_token(form.text)})
    assert done.status_code == 303
    assert await Client.count().where(Client.email == "planted@example.test") == 1


async def test_the_csrf_token_rotates_at_sign_in(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    signed_out = await ensure_csrf(client)
    await sign_in(client, maya)
    first = csrf_from(client)
    assert first != signed_out
    refused = await client.post("/account/sessions/end-others", data={"_csrf_token": signed_out})
    assert refused.status_code == 403
    assert (await post_form(client, "/account/sessions/end-others")).status_code == 303
    await post_form(client, "/logout")
    await sign_in(client, maya)
    assert csrf_from(client) not in (first, signed_out)
    stale = await client.post(
        "/account/sessions/end-others", headers={"HX-Request": "true", "x-csrftoken": first}
    )
    assert stale.status_code == 403


async def test_cross_site_posts_are_refused_even_with_a_token(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    response = await post_form(
        client,
        "/login",
        {"email": clinician.email, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403


async def test_login_failure_is_the_same_for_unknown_and_known_emails(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    known = await post_form(client, "/login", {"email": clinician.email, "password": "wrong password!"})
    unknown = await post_form(
        client, "/login", {"email": "nobody@example.test", "password": "wrong password!"}
    )
    assert known.status_code == unknown.status_code == 200
    assert "don&#39;t match an account" in known.text
    strip = lambda text: text.replace(clinician.email, "").replace("nobody@example.test", "")  # noqa: E731
    assert strip(known.text) == strip(unknown.text)
    failures = await AuditEvent.count().where(AuditEvent.action == "login_failed")
    assert failures == 2


async def test_throttling_locks_an_account_without_revealing_it(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    for _ in range(settings.login_attempts_per_account):
        await post_form(client, "/login", {"email": clinician.email, "password": "not the password"})
    locked = await post_form(client, "/login", {"email": clinician.email, "password": PASSWORD})
    assert "Too many sign-in attempts" in locked.text
    assert session_cookie(client) is None
    for _ in range(settings.login_attempts_per_account):
        await post_form(client, "/login", {"email": "ghost@example.test", "password": "not the password"})
    ghost = await post_form(client, "/login", {"email": "ghost@example.test", "password": PASSWORD})
    assert "Too many sign-in attempts" in ghost.text
    assert await AuditEvent.count().where(AuditEvent.action == "login_throttled") == 2


async def test_a_stranger_guessing_from_one_address_is_stopped_but_cannot_lock_the_owner_out(
    app, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    free = settings.login_attempts_per_account
    async with browser_at(app, "203.0.113.66") as stranger:
        for _ in range(free):
            wrong = await post_form(stranger, "/login", {"email": maya.email, "password": "guess guess"})
            assert "match an account" in wrong.text
        for guess in ["guess 1", "guess 2", PASSWORD, "guess 3"] * 5:
            held = await post_form(stranger, "/login", {"email": maya.email, "password": guess})
            assert held.status_code == 200
            assert re.search(
                r"Too many sign-in attempts\. Wait (1 minute|\d\d seconds) before trying again, or reset your"
                r" password\.",
                held.text,
            )
        assert session_cookie(stranger) is None, "even the right password is not checked while held"
    assert await AuditEvent.count().where(AuditEvent.action == "login_failed") == free
    assert await AuditEvent.count().where(AuditEvent.action == "login_throttled") == 20

    async with browser_at(app, "198.51.100.20") as owner:
        response = await post_form(owner, "/login", {"email": maya.email, "password": PASSWORD})
        assert response.status_code == 303 and response.headers["location"] == "/calendar"


async def test_throttling_is_shared_across_app_instances(client, settings, clock, redis):
    """Counters live in Redis, so a second web process sees the same failures."""
    from app.web.app import create_app
    from tests.conftest import browser, running

    clinician = await make_clinician(settings, clock.now())
    for _ in range(settings.login_attempts_per_account):
        await post_form(client, "/login", {"email": clinician.email, "password": "not the password"})
    second_app = create_app(settings, clock=clock)
    async with running(second_app), browser(second_app) as second:
        response = await post_form(second, "/login", {"email": clinician.email, "password": PASSWORD})
    assert "Too many sign-in attempts" in response.text


async def test_password_reset_round_trip_single_use(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    response = await post_form(client, "/password/forgot", {"email": clinician.email.upper()})
    assert "Check your email" in response.text
    message = await last_email_to(clinician.email)
    path = link_in(message.text_body, "/password/reset/")
    token = path.rsplit("/", 1)[1]
    stored = await AccountToken.objects().first()
    assert token not in stored.token_hash and len(stored.token_hash) == 64

    page = await client.get(path)
    assert "Choose a new password" in page.text
    new_password = "a brand new harbour lantern"
    done = await post_form(client, path, {"password": new_password, "password_confirm": new_password})
    assert done.status_code == 303 and done.headers["location"] == "/login?notice=password-reset"
    again = await post_form(client, path, {"password": new_password, "password_confirm": new_password})
    assert "already been used" in again.text

    old = await post_form(client, "/login", {"email": clinician.email, "password": PASSWORD})
    assert "don&#39;t match" in old.text
    ok = await post_form(client, "/login", {"email": clinician.email, "password": new_password})
    assert ok.status_code == 303


async def test_reset_link_expires_after_24_hours(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await post_form(client, "/password/forgot", {"email": clinician.email})
    path = link_in((await last_email_to(clinician.email)).text_body, "/password/reset/")
    clock.advance(hours=24, seconds=1)
    page = await client.get(path)
    assert "expired" in page.text
    assert "Email me a new link" in page.text


async def test_a_new_reset_link_kills_the_old_one(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await post_form(client, "/password/forgot", {"email": clinician.email})
    first = link_in((await last_email_to(clinician.email)).text_body, "/password/reset/")
    await post_form(client, "/password/forgot", {"email": clinician.email})
    second = link_in((await last_email_to(clinician.email)).text_body, "/password/reset/")
    assert first != second
    assert "already been used" in (await client.get(first)).text
    assert "Choose a new password" in (await client.get(second)).text


async def test_forgot_password_gives_the_same_page_for_unknown_emails(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    known = await post_form(client, "/password/forgot", {"email": clinician.email})
    unknown = await post_form(client, "/password/forgot", {"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(clinician.email, "X") == unknown.text.replace("nobody@example.test", "X")
    assert await last_email_to("nobody@example.test") is None


async def test_the_reset_page_is_sent_before_any_account_work(app, client, settings, clock):
    """The answer's timing can't tell a known address from an unknown one: for a known one the
    token, email and job come after the whole page has gone out."""
    clinician = await make_clinician(settings, clock.now())
    token = await ensure_csrf(client)
    body = urlencode({"email": clinician.email, "_csrf_token": token}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/password/forgot",
        "raw_path": b"/password/forgot",
        "query_string": b"",
        "root_path": "",
        "server": ("testserver.local", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"testserver.local"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"csrftoken={token}".encode()),
        ],
    }
    emails_when_page_done: list[int] = []
    received = False

    async def receive():
        nonlocal received
        if received:
            await asyncio.sleep(3600)
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            emails_when_page_done.append(await EmailMessage.count())

    await app(scope, receive, send)
    assert emails_when_page_done == [0]
    assert (await last_email_to(clinician.email)).subject == "Reset your Stillwater password"


async def test_reset_links_use_the_configured_base_url_not_the_host_header(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await post_form(client, "/password/forgot", {"email": clinician.email}, headers={"Host": "evil.example"})
    message = await last_email_to(clinician.email)
    assert "http://testserver.local/password/reset/" in message.text_body
    assert "evil.example" not in message.text_body


async def test_password_reset_signs_out_every_session(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(other_client, clinician)
    await post_form(client, "/password/forgot", {"email": clinician.email})
    path = link_in((await last_email_to(clinician.email)).text_body, "/password/reset/")
    await post_form(
        client, path, {"password": "another long passphrase", "password_confirm": "another long passphrase"}
    )
    response = await other_client.get("/calendar", follow_redirects=False)
    assert response.status_code == 303


async def test_password_change_keeps_this_session_and_ends_the_others(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    await sign_in(other_client, clinician)
    bad = await post_form(
        client,
        "/account/password",
        {"current_password": "nope", "new_password": "x", "new_password_confirm": "x"},
    )
    assert "Use at least 10 characters" in bad.text
    done = await post_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "quiet river morning tea",
            "new_password_confirm": "quiet river morning tea",
        },
    )
    assert done.status_code == 303
    landing = await client.get("/calendar")
    assert landing.status_code == 200 and "You were signed out on your other devices" in landing.text
    assert "You were signed out on your other devices" not in (await client.get("/calendar")).text
    assert (await other_client.get("/calendar", follow_redirects=False)).status_code == 303
    user = await User.objects().where(User.id == clinician.user.id).first()
    assert user.password_hash.startswith("$argon2id$")


async def test_idle_and_absolute_session_timeouts(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    clock.advance(seconds=settings.clinician_idle_timeout - 10)
    assert (await client.get("/calendar")).status_code == 200
    clock.advance(seconds=settings.clinician_idle_timeout - 10)
    assert (await client.get("/calendar")).status_code == 200, "activity extends the idle timeout"
    clock.advance(seconds=settings.clinician_idle_timeout + 1)
    assert (await client.get("/calendar", follow_redirects=False)).status_code == 303

    await sign_in(client, clinician)
    for _ in range(60):
        clock.advance(minutes=13)
        response = await client.get("/calendar", follow_redirects=False)
        if response.status_code != 200:
            break
    assert clock.now() - timedelta(hours=12) <= clock.now()
    assert response.status_code == 303, "12 hours is the absolute limit even when active"


async def test_signup_confirm_and_land_on_calendar(client, settings, clock):
    form = {
        "practice_name": "Quiet Pines",
        "name": "Ruth Ames",
        "email": "ruth@example.test",
        "password": "pine needles and rain",
        "time_zone": "America/Chicago",
    }
    response = await post_form(client, "/signup", form)
    assert "Check your email" in response.text
    assert (
        await post_form(client, "/login", {"email": form["email"], "password": form["password"]})
    ).status_code == 200
    path = link_in((await last_email_to("ruth@example.test")).text_body, "/signup/confirm/")
    page = await client.get(path)
    assert "Confirm and sign in" in page.text
    confirmed = await post_form(client, path)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/calendar"
    calendar = await client.get("/calendar")
    assert "Quiet Pines" in calendar.text and "Times in America/Chicago" in calendar.text


async def test_signup_with_a_known_email_looks_the_same(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    form = {
        "practice_name": "Other",
        "name": "Someone",
        "password": "pine needles and rain",
        "time_zone": "America/Chicago",
    }
    known = await post_form(client, "/signup", {**form, "email": clinician.email})
    unknown = await post_form(client, "/signup", {**form, "email": "new@example.test"})
    assert known.text.replace(clinician.email, "X") == unknown.text.replace("new@example.test", "X")
    note = await last_email_to(clinician.email)
    assert "already has an account" in note.text_body


async def test_signup_bad_input_is_shown_next_to_fields(client):
    response = await post_form(
        client,
        "/signup",
        {
            "practice_name": "",
            "name": "<b>Bo</b>",
            "email": "not-an-email",
            "password": "short",
            "time_zone": "Mars/Base",
        },
    )
    assert response.status_code == 200
    assert "Practice name is required." in response.text
    assert "Enter an email address like" in response.text
    assert "Use at least 10 characters." in response.text
    assert "Choose your time zone from the list." in response.text
    assert "&lt;b&gt;Bo&lt;/b&gt;" in response.text and "<b>Bo</b>" not in response.text
    assert 'aria-invalid="true"' in response.text


async def test_sign_out_and_timeouts_are_audited(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    await post_form(client, "/logout")
    await sign_in(client, clinician)
    clock.advance(seconds=settings.clinician_idle_timeout + 1)
    await client.get("/calendar")
    rows = (
        await AuditEvent.objects()
        .where(AuditEvent.action.is_in(["logout", "session_timed_out"]))
        .order_by(AuditEvent.id)
    )
    assert [(row.action, row.detail, row.actor_id) for row in rows] == [
        ("logout", "logout", clinician.user.id),
        ("session_timed_out", "timeout_idle", clinician.user.id),
    ]
