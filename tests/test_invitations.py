"""Invitations end to end (R2): real SMTP, one use, resend kills the old link, expiry, no enumeration."""

from __future__ import annotations

from dataclasses import replace

from app.models.tables import AccountToken, User
from tests.conftest import browser, running
from tests.helpers import PASSWORD, last_email_to, link_in, make_client, make_clinician, post_form, sign_in

NEW_PASSWORD = "maple lantern orbit seven"


async def add_client(client, email="alex@example.test", name="Alex Rivera"):
    response = await post_form(
        client, "/clients/new", {"name": name, "email": email, "billing_type": "self_pay"}
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def test_invitation_round_trip_over_real_smtp(db, redis, settings, clock, smtp_server, run_worker):
    from app.web.app import create_app

    smtp_settings = replace(settings, smtp_url=smtp_server.url)
    clinician = await make_clinician(smtp_settings, clock.now())
    application = create_app(smtp_settings, clock=clock)
    async with running(application), browser(application) as staff, browser(application) as person:
        await sign_in(staff, clinician)
        client_page = await add_client(staff)
        await run_worker(worker_settings=smtp_settings)
        assert len(smtp_server.messages) == 1
        message = smtp_server.messages[0]
        assert message["To"] == "alex@example.test"
        assert message["Subject"] == "Calm Harbor invited you to Stillwater"
        text = message.get_body(("plain",)).get_content()
        path = link_in(text, "/invite/")
        assert "http://testserver.local/invite/" in text  # the configured base URL
        assert path in message.get_body(("html",)).get_content()

        # Resend: the first link dies, the second arrives.
        clock.advance(minutes=5)
        await post_form(staff, f"{client_page}/invite")
        await run_worker(worker_settings=smtp_settings)
        assert len(smtp_server.messages) == 2
        second = link_in(smtp_server.messages[1].get_body(("plain",)).get_content(), "/invite/")
        assert second != path
        dead = await person.get(path)
        assert "This link has already been used" in dead.text and "Email me a new link" in dead.text
        refused = await post_form(person, path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
        assert "Choose a password" not in refused.text and "already been used" in refused.text
        assert (await User.objects().where(User.email == "alex@example.test").first()).password_hash is None

        # The live link names the practice; visiting it is visible to the clinician as "opened".
        page = await person.get(second)
        assert "Calm Harbor" in page.text and "Choose a password" in page.text
        assert "Invite opened" in (await staff.get(client_page)).text

        # Password policy, answered next to the field; the link stays usable.
        weak = await post_form(person, second, {"password": "short", "password_confirm": "short"})
        assert 'id="f-password-error"' in weak.text and "at least 10 characters" in weak.text
        mismatch = await post_form(
            person, second, {"password": NEW_PASSWORD, "password_confirm": "other one x"}
        )
        assert 'id="f-password_confirm-error"' in mismatch.text

        done = await post_form(person, second, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"].startswith("/portal")
        portal = await person.get(done.headers["location"])
        assert portal.status_code == 200 and "Welcome to your client portal" in portal.text

        # Second use of the same link fails, and does not change the password.
        again = await post_form(
            person, second, {"password": "another good phrase", "password_confirm": "another good phrase"}
        )
        assert "already been used" in again.text
        assert "Portal active" in (await staff.get(client_page)).text

    async with running(application), browser(application) as fresh:
        signed = await post_form(fresh, "/login", {"email": "alex@example.test", "password": NEW_PASSWORD})
        assert signed.headers["location"] == "/portal"


async def test_invitation_expires_after_seven_days(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    client_page = await add_client(client)
    path = link_in((await last_email_to("alex@example.test")).text_body, "/invite/")
    clock.advance(days=6, hours=23)
    assert "Choose a password" in (await other_client.get(path)).text
    clock.advance(hours=1)
    expired = await other_client.get(path)
    assert "This link has expired" in expired.text and "Email me a new link" in expired.text
    refused = await post_form(
        other_client, path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert "This link has expired" in refused.text
    await sign_in(client, clinician)
    assert "Invite expired" in (await client.get(client_page)).text

    # "Email me a new link" gives a fresh, working link.
    response = await post_form(other_client, "/invite/new", {"email": "ALEX@example.test"})
    assert "Check your email" in response.text
    fresh = link_in((await last_email_to("alex@example.test")).text_body, "/invite/")
    assert fresh != path and "Choose a password" in (await other_client.get(fresh)).text


async def test_new_link_and_forgot_password_look_the_same_for_known_and_unknown(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await make_client(settings, clock.now(), clinician, email="waiting@example.test", with_password=False)
    await make_client(settings, clock.now(), clinician, email="active@example.test", name="Active Person")

    def normalise(text: str, address: str) -> str:
        return text.replace(address, "ADDRESS").split('name="csrf')[0].split("csrftoken")[-1]

    for url in ("/invite/new", "/password/forgot"):
        pages = []
        for address in (
            "waiting@example.test",
            "active@example.test",
            "nobody@example.test",
            clinician.email,
        ):
            response = await post_form(client, url, {"email": address})
            assert response.status_code == 200
            pages.append(normalise(response.text, address))
        assert len(set(pages)) == 1, url
        if url == "/invite/new":
            # the client still waiting got a fresh invitation; the active one a reset link
            assert "/invite/" in (await last_email_to("waiting@example.test")).text_body
            assert "/password/reset/" in (await last_email_to("active@example.test")).text_body
    assert await last_email_to("nobody@example.test") is None


async def test_bad_invitation_tokens_show_the_dead_link_page(client):
    for token in ("nope", "x" * 300, "%3Cscript%3E"):
        response = await client.get(f"/invite/{token}")
        assert response.status_code == 200 and "This link isn't valid" in response.text
        assert "<script>" not in response.text


async def test_accepting_rotates_the_session_and_records_the_visit(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    await add_client(client)
    path = link_in((await last_email_to("alex@example.test")).text_body, "/invite/")
    old_session = client.cookies.get("sw_session")
    done = await post_form(client, path, {"password": PASSWORD + "x", "password_confirm": PASSWORD + "x"})
    assert done.headers["location"].startswith("/portal")
    new_session = client.cookies.get("sw_session")
    assert new_session and new_session != old_session
    assert (await client.get("/portal")).status_code == 200
    token = await AccountToken.objects().where(AccountToken.used_at.is_not_null()).first()
    assert token is not None and token.opened_at is not None


async def test_two_practices_inviting_one_person_keep_their_own_links(client, other_client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    sam = await make_clinician(
        settings, clock.now(), email="sam@example.test", name="Sam Ortiz", practice="Harbor Light"
    )
    await sign_in(client, maya)
    maya_page = await add_client(client)
    maya_link = link_in((await last_email_to("alex@example.test")).text_body, "/invite/")
    await post_form(client, "/logout")
    await sign_in(client, sam)
    sam_page = await add_client(client)
    sam_link = link_in((await last_email_to("alex@example.test")).text_body, "/invite/")

    # Sam's invitation did not kill Maya's, and Sam's list says nothing about Maya's link being opened.
    assert "Choose a password" in (await other_client.get(maya_link)).text
    assert "Invite sent" in (await client.get(sam_page)).text
    await post_form(client, "/logout")
    await sign_in(client, maya)
    assert "Invite opened" in (await client.get(maya_page)).text

    accepted = await post_form(
        other_client, sam_link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert accepted.status_code == 303
    # One password for both practices: Maya's link can't set it again, and her page shows the portal.
    assert "Choose a password" not in (await other_client.get(maya_link)).text
    assert "Portal active" in (await client.get(maya_page)).text
    portal = await other_client.get("/portal")
    assert "Calm Harbor" in portal.text and "Harbor Light" in portal.text
