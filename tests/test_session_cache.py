"""A signed-in request reads the person from their session (one Redis round trip, no query) until
something they depend on changes; then the next request sees the change."""

from __future__ import annotations

from app.services import accounts
from app.services.sessions import SessionStore
from tests.helpers import (
    PASSWORD,
    last_email_to,
    link_in,
    make_client,
    make_clinician,
    post_form,
    sign_in,
)
from tests.querycount import count_queries

# A page that reads nothing itself: what it costs is what being signed in costs.
QUIET_PAGE = "/account/password"


async def queries_for(browser, url: str = QUIET_PAGE) -> int:
    with count_queries() as log:
        response = await browser.get(url)
    assert response.status_code == 200, response.status_code
    return log.count


async def test_a_signed_in_request_runs_no_query_when_nothing_changed(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), maya)
    await sign_in(client, maya)
    await sign_in(other_client, person)
    for _ in range(3):
        assert await queries_for(client) == 0
        assert await queries_for(other_client) == 0
        clock.advance(minutes=5)  # still well inside the idle timeout, which each request restarts


async def test_a_profile_change_is_seen_by_every_session_on_its_next_request(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), maya, name="Alex Rivera")
    await sign_in(client, person)
    await sign_in(other_client, person)
    assert "Hello, Alex Rivera" in (await other_client.get("/portal")).text
    changed = await post_form(
        client, "/portal/profile", {"name": "Sasha Rivera", "phone": "", "time_zone": "Europe/Paris"}
    )
    assert changed.status_code == 303
    assert "Hello, Sasha Rivera" in (await other_client.get("/portal")).text
    assert "Hello, Sasha Rivera" in (await client.get("/portal")).text
    assert await queries_for(other_client) == 0  # read once again, then cached again


async def test_a_clinician_settings_change_makes_their_sessions_read_them_again(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    await sign_in(other_client, maya)
    assert await queries_for(other_client) == 0
    page = await client.get("/settings/booking")
    values = dict(
        hours_0="09:00-17:00",
        default_session_minutes="45",
        default_fee="150",
        buffer_minutes="0",
        min_notice_hours="24",
        horizon_days="60",
        intro_session_minutes="15",
        intro_fee="0",
        cancellation_window_hours="48",
    )
    assert page.status_code == 200
    assert (await post_form(client, "/settings/booking", values)).status_code == 303
    with count_queries() as reading:
        await accounts.current_user(maya.user.id)
    assert await queries_for(other_client) == reading.count  # the person and their practice, read again
    assert await queries_for(other_client) == 0
    assert 'value="45"' in (await other_client.get("/settings/booking")).text


async def test_a_password_change_and_signing_out_elsewhere_end_cached_sessions(
    app, client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    await sign_in(other_client, maya)
    assert await queries_for(other_client) == 0
    changed = await post_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a much longer passphrase 2",
            "new_password_confirm": "a much longer passphrase 2",
        },
    )
    assert changed.status_code == 303
    assert (
        (await other_client.get("/calendar", follow_redirects=False)).headers["location"].startswith("/login")
    )
    assert (await client.get(QUIET_PAGE)).status_code == 200

    maya.password = "a much longer passphrase 2"
    await sign_in(other_client, maya)
    assert await queries_for(other_client) == 0
    ended = await post_form(client, "/account/sessions/end-others", follow_redirects=True)
    assert "Signed out on 1 other device." in ended.text
    assert (
        (await other_client.get("/calendar", follow_redirects=False)).headers["location"].startswith("/login")
    )


async def test_a_person_read_before_a_change_is_never_kept_as_current(db, redis, settings, clock):
    """A request that read the person just before a change committed caches them under the old stamp;
    the change's bump makes that copy stale, so the next request reads the database again."""
    maya = await make_clinician(settings, clock.now())
    store = SessionStore(redis, clock, settings)
    token, _ = await store.create(maya.user.id, "clinician", user=maya.user)
    before = await store.resolve(token)
    assert before.user == maya.user
    await store.bump({maya.user.id})
    await store.keep_user(before.live, maya.user, before.stamp)  # the slow request finishes
    after = await store.resolve(token)
    assert after.live is not None and after.user is None and after.stamp == before.stamp + 1


async def test_a_colleague_joining_is_in_the_owners_calendar_switch_on_their_next_request(
    client, other_client, settings, clock
):
    owner = await make_clinician(settings, clock.now())
    await sign_in(client, owner)
    assert 'action="/practice/calendar"' not in (await client.get("/calendar")).text
    invited = await post_form(
        client,
        "/practice/members",
        {"name": "Noor Haddad", "email": "noor@example.test", "role": "clinician"},
    )
    assert invited.status_code == 303
    join = link_in((await last_email_to("noor@example.test")).text_body, "/join/")
    joined = await post_form(other_client, join, {"password": PASSWORD, "password_confirm": PASSWORD})
    assert joined.status_code == 303
    calendar = await client.get("/calendar")
    assert 'action="/practice/calendar"' in calendar.text and "Noor Haddad" in calendar.text
