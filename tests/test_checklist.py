"""The first-meeting checklist (R7): items derived from data, the partial's actions, "not applicable",
the New clients list (constant queries), and who may see or change what."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from app.models.tables import (
    AuditEvent,
    ChecklistItem,
    Client,
    Clinician,
    EmailMessage,
    InsuranceChange,
    PaymentMethod,
    StatusChange,
    User,
)
from app.services import paperwork
from app.services.context import Actor
from app.services.passwords import hash_password
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.querycount import count_queries
from tests.test_clients_web import add_appointment

HX = {"HX-Request": "true"}


async def new_client(client, clinician, name="Alex Rivera", email="alex@example.test"):
    """Add a client through the real form (so an invitation goes out); returns the client id."""
    response = await post_form(
        client, "/clients/new", {"name": name, "email": email, "billing_type": "self_pay"}
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


async def fragment(client, client_id, **params):
    response = await client.get(f"/checklist/{client_id}", params=params, headers=HX)
    assert response.status_code == 200, response.text
    return response.text


async def later(client, person, clock, **delta):
    """Let time pass (sessions time out when idle, so sign in again)."""
    clock.advance(**delta)
    await sign_in(client, person)


def item(html: str, client_id: int, key: str) -> str:
    """The HTML of one checklist item."""
    start = html.index(f'id="checklist-{client_id}-{key}"')
    end = html.find("</li>", start)
    return html[start:end]


async def test_portal_item_follows_the_password_and_offers_resend_until_then(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    portal = item(await fragment(client, cid), cid, "portal_access")
    assert "To do" in portal and "Invite sent" in portal and "Resend invite" in portal
    # Without JavaScript the client page links to the checklist's own full page.
    assert f'href="/checklist/{cid}"' in (await client.get(f"/clients/{cid}")).text
    page = await client.get(f"/checklist/{cid}")
    assert page.text.startswith("<!doctype html>") and "First-meeting checklist" in page.text

    resent = await post_form(client, f"/checklist/{cid}/invite", {"where": "client"}, htmx=True)
    assert resent.status_code == 200
    assert 'id="checklist-' in resent.text and "<html" not in resent.text
    assert "A new invitation is on its way" in resent.text
    assert await EmailMessage.count().where(EmailMessage.to_address == "alex@example.test") == 2

    user_id = (await Client.objects().where(Client.id == cid).first()).user
    await User.update(
        {User.password_hash: await hash_password("x" * 12, "fast"), User.password_changed_at: clock.now()}
    ).where(User.id == user_id)
    portal = item(await fragment(client, cid), cid, "portal_access")
    assert "Done" in portal and "Password set" in portal and "Resend invite" not in portal


async def test_intro_item_follows_the_first_sessions_status_and_marks_it_through_the_status_service(
    client, settings, clock
):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    intro = item(await fragment(client, cid), cid, "intro_occurred")
    assert "No intro session booked yet" in intro and "/appointments/new?kind=intro" in intro

    first = await add_appointment(clinician, cid, clock.now() + timedelta(hours=2))
    intro = item(await fragment(client, cid), cid, "intro_occurred")
    assert "once it has started" in intro and "Mark Occurred" not in intro

    await later(client, clinician, clock, hours=3)
    intro = item(await fragment(client, cid), cid, "intro_occurred")
    assert "Mark Occurred" in intro and f'name="appointment_id" value="{first}"' in intro

    marked = await post_form(
        client, f"/checklist/{cid}/occurred", {"appointment_id": str(first), "where": "client"}, htmx=True
    )
    assert marked.status_code == 200
    intro = item(marked.text, cid, "intro_occurred")
    assert "Done" in intro and "marked Occurred" in intro and "by Maya Chen" in intro
    history = await StatusChange.objects().where(StatusChange.appointment == first)
    assert [(h.from_status, h.to_status) for h in history] == [("scheduled", "occurred")]
    assert await AuditEvent.count().where(AuditEvent.action == "appointment_status_changed") == 1

    # Set back to Scheduled from the calendar: the item is open again (derived, not a stored flag).
    await post_form(client, f"/appointments/{first}/status", {"status": "scheduled"})
    assert "Mark Occurred" in item(await fragment(client, cid), cid, "intro_occurred")


async def test_next_session_item_follows_future_bookings_and_cancellations(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    first = await add_appointment(clinician, cid, clock.now() - timedelta(hours=1), status="occurred")
    nxt = item(await fragment(client, cid), cid, "next_booked")
    assert "To do" in nxt and f"/appointments/{first}/book-next?count=6&amp;every=1" in nxt

    booked = await add_appointment(clinician, cid, clock.now() + timedelta(days=7))
    nxt = item(await fragment(client, cid), cid, "next_booked")
    assert "Done" in nxt and "Next session" in nxt and "book-next" not in nxt

    await post_form(client, f"/appointments/{booked}/status", {"status": "cancelled"})
    nxt = item(await fragment(client, cid), cid, "next_booked")
    assert "To do" in nxt and "book-next" in nxt

    # Time passes: a session that has started is no longer "next".
    await add_appointment(clinician, cid, clock.now() + timedelta(days=1))
    assert "Done" in item(await fragment(client, cid), cid, "next_booked")
    await later(client, clinician, clock, days=2)
    assert "To do" in item(await fragment(client, cid), cid, "next_booked")


async def test_coverage_is_recorded_with_a_note_and_bad_input_keeps_what_was_typed(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    coverage = item(await fragment(client, cid), cid, "insurance_discussed")
    assert "To do" in coverage and "mailto:maya@example.test" in coverage
    assert '<option value="" selected>Choose the outcome…</option>' in coverage
    assert "hasn't answered the coverage self-check" in unescape(coverage)

    long_note = "n" * 1001
    bad = await post_form(
        client,
        f"/checklist/{cid}/coverage",
        {"coverage_status": "checking", "coverage_note": long_note, "where": "client"},
        htmx=True,
    )
    assert "Note must be at most 1000 characters." in bad.text and long_note in bad.text
    bad = await post_form(
        client, f"/checklist/{cid}/coverage", {"coverage_status": "not_discussed"}, htmx=True
    )
    assert "Choose a valid coverage status." in bad.text
    assert (await Client.objects().where(Client.id == cid).first()).coverage_status == "not_discussed"

    saved = await post_form(
        client,
        f"/checklist/{cid}/coverage",
        {"coverage_status": "checking", "coverage_note": "Calls Aetna on Friday", "where": "client"},
        htmx=True,
    )
    coverage = item(saved.text, cid, "insurance_discussed")
    assert "Done" in coverage and "Client checking with insurer" in coverage
    assert "Calls Aetna on Friday" in coverage and "by Maya Chen" in coverage
    fields = {c.field for c in await InsuranceChange.objects().where(InsuranceChange.client == cid)}
    assert fields == {"coverage_status", "coverage_note"}


async def test_not_applicable_needs_a_reason_and_can_be_undone(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    missing = await post_form(
        client, f"/checklist/{cid}/not-applicable", {"item": "next_booked", "reason": " "}, htmx=True
    )
    assert "Say why this doesn't apply" in unescape(item(missing.text, cid, "next_booked"))
    assert await ChecklistItem.count() == 0

    marked = await post_form(
        client,
        f"/checklist/{cid}/not-applicable",
        {"item": "next_booked", "reason": "One-off consultation", "where": "client"},
        htmx=True,
    )
    nxt = item(marked.text, cid, "next_booked")
    assert "Not applicable" in nxt and "One-off consultation" in nxt and "Put back on the checklist" in nxt
    assert "5 to do" in marked.text  # portal, intake, card, intro, insurance

    # Without JavaScript: a normal form post, then back to where it came from.
    undone = await post_form(
        client, f"/checklist/{cid}/applicable", {"item": "next_booked", "back": f"/clients/{cid}"}
    )
    assert undone.status_code == 303 and undone.headers["location"] == f"/clients/{cid}"
    assert "To do" in item(await fragment(client, cid), cid, "next_booked")
    unknown = await post_form(client, f"/checklist/{cid}/not-applicable", {"item": "x", "reason": "y"})
    assert unknown.status_code == 200 and "That isn't a checklist item." in unescape(unknown.text)


async def test_every_item_done_leaves_the_new_clients_list(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    assert "Alex Rivera" in (await client.get("/new-clients")).text
    badge = await client.get("/new-clients/count", headers=HX)
    assert ">1<" in badge.text
    user_id = (await Client.objects().where(Client.id == cid).first()).user
    await User.update({User.password_hash: "set", User.password_changed_at: clock.now()}).where(
        User.id == user_id
    )
    await add_appointment(clinician, cid, clock.now() - timedelta(hours=1), status="occurred")
    await add_appointment(clinician, cid, clock.now() + timedelta(days=7))
    client_actor = Actor(user_id, "client", None, "", "")
    await paperwork.submit_intake(user_id, cid, [], "Alex Rivera", now=clock.now(), actor=client_actor)
    await PaymentMethod.insert(
        PaymentMethod(
            user=user_id,
            gateway="sandbox",
            method_ref="pm_1",
            brand="visa",
            last4="4242",
            exp_month=1,
            exp_year=2030,
            created_at=clock.now(),
        )
    )
    done = await post_form(
        client, f"/checklist/{cid}/coverage", {"coverage_status": "self_pay", "where": "list"}, htmx=True
    )
    assert "All done" in done.text
    assert 'id="new-clients-count" class="count hidden" hx-swap-oob="true">0<' in done.text
    listing = await client.get("/new-clients")
    assert "Alex Rivera" not in listing.text and "Every client's checklist is done" in listing.text


async def test_new_clients_list_costs_the_same_queries_for_one_client_or_many(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)

    async def add_clients(start, count):
        for n in range(start, start + count):
            _, cid = await make_client(
                settings,
                clock.now(),
                clinician,
                email=f"c{n}@example.test",
                name=f"Client {n}",
                with_password=n % 2 == 0,
            )
            await add_appointment(clinician, cid, clock.now() - timedelta(days=1), status="occurred")
            await add_appointment(clinician, cid, clock.now() + timedelta(days=n + 1))
            for which in ("insurance_discussed", "intake_complete", "card_saved"):
                await post_form(client, f"/checklist/{cid}/not-applicable", {"item": which, "reason": "Cash"})

    await add_clients(0, 2)
    with count_queries() as few:
        small = await client.get("/new-clients")
    await add_clients(2, 12)
    with count_queries() as many:
        large = await client.get("/new-clients")
    assert small.text.count('class="card checklist"') == 1
    assert large.text.count('class="card checklist"') == 7
    assert many.count == few.count


async def test_a_clinician_cannot_see_or_change_another_practices_checklist(
    client, other_client, settings, clock
):
    maya = await make_clinician(settings, clock.now())
    sam = await make_clinician(settings, clock.now(), email="sam@example.test", name="Sam", practice="Elm")
    await sign_in(client, maya)
    cid = await new_client(client, maya)
    appointment = await add_appointment(maya, cid, clock.now() - timedelta(hours=1))
    await sign_in(other_client, sam)
    assert (await other_client.get(f"/checklist/{cid}")).status_code == 404
    for action, data in [
        ("invite", {}),
        ("occurred", {"appointment_id": str(appointment)}),
        ("coverage", {"coverage_status": "covered"}),
        ("not-applicable", {"item": "portal_access", "reason": "x"}),
        ("applicable", {"item": "portal_access"}),
    ]:
        response = await post_form(other_client, f"/checklist/{cid}/{action}", data)
        assert response.status_code == 404, action
    # Maya can't mark another client's appointment through her own client's checklist either.
    _, sams_client = await make_client(settings, clock.now(), sam, email="kim@example.test", name="Kim")
    sams_appointment = await add_appointment(sam, sams_client, clock.now() - timedelta(hours=1))
    response = await post_form(
        client, f"/checklist/{cid}/occurred", {"appointment_id": str(sams_appointment)}
    )
    assert response.status_code == 404
    assert await StatusChange.count() == 0 and await ChecklistItem.count() == 0
    assert (await Client.objects().where(Client.id == cid).first()).coverage_status == "not_discussed"
    # A client can't open the clinician's checklist pages at all.
    kim, _ = await make_client(settings, clock.now(), maya, email="lee@example.test", name="Lee")
    await sign_in(other_client, kim)
    assert (await other_client.get(f"/checklist/{cid}")).status_code in (403, 404)
    assert (await other_client.get("/new-clients")).status_code in (403, 404)


async def test_the_panel_shows_the_checklist_only_for_the_intro_session(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    first = await add_appointment(clinician, cid, clock.now() - timedelta(hours=2))
    second = await add_appointment(clinician, cid, clock.now() + timedelta(days=7))
    panel = await client.get(f"/appointments/{first}", headers=HX)
    assert f"/checklist/{cid}?where=panel&amp;appointment={first}" in panel.text
    shown = await fragment(client, cid, where="panel", appointment=first)
    assert "First-meeting checklist" in shown
    # In the panel, "Mark Occurred" uses the panel's own status form so the whole panel refreshes.
    assert f'hx-post="/appointments/{first}/status"' in item(shown, cid, "intro_occurred")
    assert "First-meeting checklist" not in await fragment(client, cid, where="panel", appointment=second)


async def test_insurance_contact_can_be_set_and_shows_on_the_checklist(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await Clinician.update({Clinician.insurance_email: ""}).where(Clinician.id == clinician.user.clinician_id)
    await sign_in(client, clinician)
    cid = await new_client(client, clinician)
    assert "No insurance-questions email is set yet" in await fragment(client, cid)
    bad = await post_form(
        client, "/checklist/insurance-contact", {"insurance_email": "nope", "licence_type": "LCSW"}
    )
    assert 'id="f-insurance_email-error"' in bad.text and 'value="LCSW"' in bad.text
    saved = await post_form(
        client,
        "/checklist/insurance-contact",
        {"insurance_email": "Billing@CalmHarbor.test", "licence_type": "LCSW", "back": f"/clients/{cid}"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/clients/{cid}"
    assert "mailto:billing@calmharbor.test" in await fragment(client, cid)
    practice = await Clinician.objects().where(Clinician.id == clinician.user.clinician_id).first()
    assert (practice.insurance_email, practice.licence_type) == ("billing@calmharbor.test", "LCSW")
