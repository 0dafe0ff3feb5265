"""The client portal: sessions and charges across practices, card summary, insurance, profile; and who
may open which page (the authorization matrix)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models.tables import Charge, Client, InsuranceChange, PaymentMethod, User
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_clients_web import add_appointment


async def test_portal_shows_sessions_charges_and_card_but_no_staff_notes(client, settings, clock):
    now = clock.now()
    maya = await make_clinician(settings, now)
    jordan = await make_clinician(settings, now, email="jordan@example.test", practice="Northside")
    person, at_maya = await make_client(settings, now, maya)
    rows = await Client.insert(
        Client(
            clinician=jordan.user.clinician_id,
            practice=jordan.user.practice_id,
            user=person.user.id,
            name="Alex R",
            email=person.email,
            created_at=now,
        )
    ).returning(Client.id)
    at_jordan = rows[0]["id"]
    await Client.update({Client.internal_note: "SECRET-NOTE anxious about money"}).where(Client.id == at_maya)
    await add_appointment(maya, at_maya, now + timedelta(days=2))
    await add_appointment(jordan, at_jordan, now + timedelta(days=3))
    occurred = await add_appointment(maya, at_maya, now - timedelta(days=1), status="occurred")
    await add_appointment(maya, at_maya, now - timedelta(days=8), status="no_show")
    await add_appointment(maya, at_maya, now - timedelta(days=15), status="late_cancelled")
    await Charge.insert(
        Charge(
            appointment=occurred,
            client=at_maya,
            clinician=maya.user.clinician_id,
            amount_minor=15000,
            status="scheduled",
            due_at=now + timedelta(hours=30),
            created_at=now,
            updated_at=now,
        )
    )
    await PaymentMethod.insert(
        PaymentMethod(
            user=person.user.id,
            gateway="sandbox",
            method_ref="pm_1",
            brand="visa",
            last4="4242",
            exp_month=4,
            exp_year=2029,
            created_at=now,
        )
    )
    await sign_in(client, person)
    page = await client.get("/portal")
    text = page.text
    assert page.status_code == 200
    assert "Calm Harbor" in text and "Northside" in text
    assert "Wednesday 02 December, 09:00" in text and "Thursday 03 December, 09:00" in text
    assert "$150.00" in text and "will be charged on Tue 01 Dec, 15:00" in text
    assert "Visa ending in 4242, expires 04/2029" in text and 'href="/portal/card"' in text
    assert "Attended" in text and "Missed" in text and "Cancelled" in text
    for hidden in ("SECRET-NOTE", "No-show", "Late cancelled", "late_cancelled", "no_show"):
        assert hidden not in text
    for url in ("/portal/insurance", "/portal/profile"):
        assert "SECRET-NOTE" not in (await client.get(url)).text


async def test_client_updates_insurance_and_sees_the_practice_contact(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), maya)
    await sign_in(client, person)
    listing = await client.get("/portal/insurance")
    assert "mailto:maya@example.test" in listing.text and "Add insurance details" in listing.text
    form = {
        "payer": "Blue Cross",
        "member_id": "M-1",
        "group_number": "G-9",
        "subscriber_name": "",
        "subscriber_relationship": "self",
        "copay": "30",
    }
    bad = await post_form(client, f"/portal/insurance/{client_id}", {**form, "member_id": "9" * 81})
    assert 'id="f-member_id-error"' in bad.text and await InsuranceChange.count() == 0
    saved = await post_form(client, f"/portal/insurance/{client_id}", form)
    assert saved.status_code == 303
    assert "Blue Cross" in (await client.get("/portal/insurance")).text
    rows = await InsuranceChange.objects()
    assert {r.field for r in rows} == {"payer", "member_id", "group_number", "copay_minor"}
    assert all(r.changed_by == person.user.id for r in rows)


async def test_profile_update_and_bad_time_zone(client, settings, clock):
    maya = await make_clinician(settings, clock.now())
    person, _ = await make_client(settings, clock.now(), maya)
    await sign_in(client, person)
    bad = await post_form(client, "/portal/profile", {"name": "Alex", "phone": "", "time_zone": "Mars/Base"})
    assert "Choose your time zone from the list." in bad.text
    ok = await post_form(
        client, "/portal/profile", {"name": "Alex R.", "phone": "555", "time_zone": "Europe/Paris"}
    )
    assert ok.status_code == 303
    user = await User.objects().where(User.id == person.user.id).first()
    assert (user.name, user.phone, user.time_zone) == ("Alex R.", "555", "Europe/Paris")


# --- authorization matrix -------------------------------------------------------------------

CLINICIAN_ROUTES = [
    ("GET", "/clients"),
    ("GET", "/clients/new"),
    ("GET", "/clients/{a}"),
    ("GET", "/clients/{a}/edit"),
    ("POST", "/clients/{a}/edit"),
    ("GET", "/clients/{a}/insurance"),
    ("POST", "/clients/{a}/insurance"),
    ("POST", "/clients/{a}/invite"),
    ("POST", "/clients/{a}/email-retry"),
    ("GET", "/clients/{a}/archive"),
    ("POST", "/clients/{a}/archive"),
    ("POST", "/clients/{a}/restore"),
]
PORTAL_ROUTES = [
    ("GET", "/portal"),
    ("GET", "/portal/insurance"),
    ("GET", "/portal/insurance/{a}"),
    ("POST", "/portal/insurance/{a}"),
    ("GET", "/portal/profile"),
    ("POST", "/portal/profile"),
]
OWNED = "{a}"


@pytest.mark.parametrize(("method", "route"), CLINICIAN_ROUTES + PORTAL_ROUTES)
async def test_only_the_owner_gets_in(client, settings, clock, method, route):
    now = clock.now()
    clinician_a = await make_clinician(settings, now)
    clinician_b = await make_clinician(settings, now, email="b@example.test", practice="Other")
    client_a, record_a = await make_client(settings, now, clinician_a, with_password=True)
    client_b, _ = await make_client(settings, now, clinician_b, email="bee@example.test", name="Bee")
    url = route.replace(OWNED, str(record_a))
    owner = clinician_a if route.startswith("/clients") else client_a
    people = {
        "clinician A": clinician_a,
        "clinician B": clinician_b,
        "client A": client_a,
        "client B": client_b,
    }

    async def attempt():
        if method == "GET":
            return await client.get(url)
        return await post_form(client, url, {})

    anonymous = await attempt()
    assert anonymous.status_code in (303, 403), anonymous.status_code
    if anonymous.status_code == 303:
        assert anonymous.headers["location"].startswith("/login")
    for label, person in people.items():
        client.cookies.clear()
        await sign_in(client, person)
        response = await attempt()
        same_role = person.user.role == owner.user.role
        if person is owner:
            assert response.status_code in (200, 303), (label, response.status_code)
            if response.status_code == 303:
                assert not response.headers["location"].startswith("/login")
        elif not same_role:
            assert response.status_code == 403, (label, response.status_code)
        elif OWNED in route:
            assert response.status_code == 404, (label, response.status_code)
        else:
            # a page of one's own (list, profile): B gets theirs, never A's records
            assert response.status_code in (200, 303), (label, response.status_code)
            assert "Alex Rivera" not in response.text and str(record_a) not in response.headers.get(
                "location", ""
            )
