"""The reminder's one-tap Cancel inside the window (issue 20): the link's page is the portal's late-cancel
screen — the exact fee (or why none) before the client confirms, the free same-week moves — and confirming
marks the session Late cancelled so the fee rides the charge machinery. No sign-in; the token is the key."""

from __future__ import annotations

import re
from datetime import timedelta

from app.models.tables import Appointment, Charge, Client
from app.services import session_links
from tests.helpers import make_client, make_clinician, post_form
from tests.test_calendar import add_appointment
from tests.test_charges_web import visible
from tests.test_late_cancel_portal import with_policy


async def test_inside_the_window_the_link_states_the_fee_then_late_cancels(client, settings, clock):
    clinician, _, client_id = await with_policy(settings, clock)
    starts = clock.now() + timedelta(hours=30)
    soon = await add_appointment(clinician, client_id, starts)
    path = session_links.link(settings, soon, starts).removeprefix(settings.base_url)

    page = visible((await client.get(path)).text)
    assert (
        "Cancelling now is inside the cancellation window: a late-cancel fee of $75.00 will be charged "
        "to your card on file." in page
    )
    assert "Cancel and pay the $75.00 fee" in page and "can't be cancelled online" not in page
    assert await Charge.count().where(Charge.appointment == soon) == 0  # opening changes nothing

    done = await post_form(client, f"{path}/cancel")
    assert done.status_code == 200
    assert "Your session is cancelled." in done.text and "A late-cancel fee of $75.00 is due." in done.text
    assert (await Appointment.objects().where(Appointment.id == soon).first()).status == "late_cancelled"
    fee = await Charge.objects().where(Charge.appointment == soon).first()
    assert (fee.kind, fee.amount_minor, fee.status) == ("late_cancel_fee", 7500, "scheduled")
    again = await post_form(client, f"{path}/cancel")
    assert again.status_code == 409
    assert await Charge.count().where(Charge.appointment == soon) == 1


async def test_inside_the_window_the_link_offers_a_free_move_this_week(client, settings, clock):
    clinician, _, client_id = await with_policy(settings, clock)
    starts = clock.now() + timedelta(hours=30)
    soon = await add_appointment(clinician, client_id, starts)
    path = session_links.link(settings, soon, starts).removeprefix(settings.base_url)
    page = (await client.get(path)).text
    assert "Or move it this week, with no fee" in page
    slots = re.findall(r'name="slot" value="([^"]+)"', page)
    assert slots

    refused = await post_form(client, f"{path}/move", {"slot": "2027-03-01T14:00Z"})
    assert refused.status_code == 409 and "just taken" in refused.text
    moved = await post_form(client, f"{path}/move", {"slot": slots[0]}, follow_redirects=True)
    assert "Your session is moved to this time." in moved.text
    appointment = await Appointment.objects().where(Appointment.id == soon).first()
    assert appointment.status == "scheduled" and appointment.starts_at.strftime("%Y-%m-%dT%H:%MZ") == slots[0]
    assert await Charge.count().where(Charge.appointment == soon) == 0
    assert (await client.get(path)).status_code == 404  # the old link died with the old time


async def test_the_link_says_why_there_is_no_fee_and_no_policy_means_contact(client, settings, clock):
    clinician, _, client_id = await with_policy(settings, clock)
    await Client.update({Client.fee_exemption: "EAP programme"}).where(Client.id == client_id)
    starts = clock.now() + timedelta(hours=30)
    soon = await add_appointment(clinician, client_id, starts)
    path = session_links.link(settings, soon, starts).removeprefix(settings.base_url)
    page = visible((await client.get(path)).text)
    assert "Cancelling now carries no fee. No fee: the client is exempt (EAP programme)." in page
    await post_form(client, f"{path}/cancel")
    assert (await Appointment.objects().where(Appointment.id == soon).first()).status == "late_cancelled"
    assert await Charge.count().where(Charge.appointment == soon) == 0

    other = await make_clinician(settings, clock.now(), email="o@example.test", practice="Elsewhere")
    _, theirs = await make_client(settings, clock.now(), other, email="z@example.test", name="Zed")
    their_session = await add_appointment(other, theirs, starts)
    assert (
        "can't be cancelled online"
        in (
            await client.get(
                f"/s/{their_session}/" + session_links.link(settings, their_session, starts).rsplit("/", 1)[1]
            )
        ).text
    )  # no fee policy there: contact the practice, as before
    refused = await post_form(
        client,
        session_links.link(settings, their_session, starts).removeprefix(settings.base_url) + "/cancel",
    )
    assert refused.status_code == 409
    assert (await Appointment.objects().where(Appointment.id == their_session).first()).status == "scheduled"


async def test_a_token_for_someone_elses_session_is_not_found(client, settings, clock):
    clinician, _, client_id = await with_policy(settings, clock)
    starts = clock.now() + timedelta(hours=30)
    mine = await add_appointment(clinician, client_id, starts)
    _, other_id = await make_client(settings, clock.now(), clinician, email="z@example.test", name="Zed")
    theirs = await add_appointment(clinician, other_id, starts + timedelta(hours=2))
    my_token = session_links.link(settings, mine, starts).rsplit("/", 1)[1]

    assert (await client.get(f"/s/{theirs}/{my_token}")).status_code == 404
    assert (await post_form(client, f"/s/{theirs}/{my_token}/cancel")).status_code == 404
    assert (await post_form(client, f"/s/{theirs}/{my_token}/move", {"slot": "x"})).status_code == 404
    assert (await Appointment.objects().where(Appointment.id == theirs).first()).status == "scheduled"
    assert await Charge.count().where(Charge.appointment == theirs) == 0
