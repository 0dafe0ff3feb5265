"""The clinician's client pages: add (with bad input), list, search, details, insurance, resend, archive."""

from __future__ import annotations

from datetime import timedelta

from app.models.tables import (
    AccountToken,
    Appointment,
    AuditEvent,
    Charge,
    Client,
    EmailMessage,
    InsuranceChange,
    InsurancePolicy,
    StatusChange,
    User,
)
from tests.helpers import make_client, make_clinician, post_form, sign_in


async def add_appointment(clinician, client_id, starts_at, *, status="scheduled", fee=15000):
    rows = await Appointment.insert(
        Appointment(
            clinician=clinician.user.clinician_id,
            client=client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=50),
            duration_minutes=50,
            fee_minor=fee,
            status=status,
            created_at=starts_at - timedelta(days=7),
        )
    ).returning(Appointment.id)
    return rows[0]["id"]


async def test_add_client_sends_an_invitation_and_shows_it_on_the_page(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    response = await post_form(
        client,
        "/clients/new",
        {
            "name": "Alex Rivera",
            "email": "Alex@Example.test",
            "phone": "555-0100",
            "billing_type": "self_pay",
        },
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Alex Rivera was added. An invitation went to alex@example.test." in page.text
    assert "Invite sent" in page.text and "Resend invitation" in page.text
    assert await EmailMessage.count().where(EmailMessage.to_address == "alex@example.test") == 1
    listing = await client.get("/clients")
    assert "Alex Rivera" in listing.text and "Invite sent" in listing.text


async def counts():
    return (await User.count(), await Client.count(), await EmailMessage.count(), await AccountToken.count())


async def test_bad_input_is_answered_next_to_the_field_and_nothing_is_saved(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await make_client(settings, clock.now(), clinician, email="taken@example.test", name="Taken")
    await sign_in(client, clinician)
    before = await counts()
    cases = [
        ({"name": "Sam", "email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        (
            {"name": "Sam", "email": "TAKEN@example.test"},
            "email",
            "You already have a client with this email",
        ),
        ({"name": "x" * 201, "email": "sam@example.test"}, "name", "Name must be at most 200 characters."),
        ({"name": "", "email": "sam@example.test"}, "name", "Name is required."),
        ({"name": "Sam", "email": "sam@example.test", "phone": "1" * 41}, "phone", "at most 40"),
        (
            {"name": "Sam", "email": "sam@example.test", "billing_type": "barter"},
            "billing_type",
            "valid billing",
        ),
    ]
    for data, field, message in cases:
        response = await post_form(client, "/clients/new", {"billing_type": "self_pay", **data})
        assert response.status_code == 200, data
        assert f'id="f-{field}-error">' in response.text and message in response.text, field
        assert f'id="f-{field}" name="{field}"' in response.text
        # what they typed is kept (except the broken field stays visible too)
        assert 'aria-invalid="true"' in response.text
    assert await counts() == before


async def test_html_in_a_name_is_shown_escaped(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    name = '<script>alert("x")</script><b>Bo</b>'
    response = await post_form(
        client, "/clients/new", {"name": name, "email": "bo@example.test", "billing_type": "self_pay"}
    )
    page = await client.get(response.headers["location"])
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text
    assert "<b>Bo</b>" not in (await client.get("/clients")).text


async def test_dont_invite_yet_adds_the_client_without_an_email(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    response = await post_form(
        client,
        "/clients/new",
        {
            "name": "Quiet One",
            "email": "quiet@example.test",
            "billing_type": "insurance",
            "dont_invite": "on",
        },
    )
    page = await client.get(response.headers["location"])
    assert "Not invited yet" in page.text and "Send invitation" in page.text
    assert await EmailMessage.count() == 0
    user = await User.objects().where(User.email == "quiet@example.test").first()
    assert user.role == "client" and user.password_hash is None


async def test_search_and_archived_filter(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, alex = await make_client(
        settings, clock.now(), clinician, email="alex@example.test", name="Alex Rivera"
    )
    await make_client(settings, clock.now(), clinician, email="sam@example.test", name="Sam Okafor")
    _, gone = await make_client(settings, clock.now(), clinician, email="lee@example.test", name="Lee Gone")
    await Client.update({Client.archived_at: clock.now()}).where(Client.id == gone)
    await sign_in(client, clinician)
    everyone = await client.get("/clients")
    assert (
        "Alex Rivera" in everyone.text and "Sam Okafor" in everyone.text and "Lee Gone" not in everyone.text
    )
    found = await client.get("/clients?q=okaf", headers={"HX-Request": "true"})
    assert "Sam Okafor" in found.text and "Alex Rivera" not in found.text and "<html" not in found.text
    by_email = await client.get("/clients?q=ALEX@")
    assert "Alex Rivera" in by_email.text and "Sam Okafor" not in by_email.text and "<html" in by_email.text
    archived = await client.get("/clients?show=archived")
    assert "Lee Gone" in archived.text and "Alex Rivera" not in archived.text
    assert "No active clients match" in (await client.get("/clients?q=nobody")).text


async def test_edit_details_keeps_the_email_and_rejects_overlong_notes(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    bad = await post_form(
        client,
        f"/clients/{client_id}/edit",
        {"name": "New Name", "phone": "", "billing_type": "self_pay", "internal_note": "n" * 5001},
    )
    assert "Private note must be at most 5000 characters." in bad.text
    assert (await Client.objects().where(Client.id == client_id).first()).name == "Alex Rivera"
    ok = await post_form(
        client,
        f"/clients/{client_id}/edit",
        {
            "name": "Alexandra Rivera",
            "phone": "555",
            "billing_type": "insurance",
            "internal_note": "Prefers mornings",
        },
    )
    assert ok.status_code == 303
    page = await client.get(f"/clients/{client_id}")
    assert "Alexandra Rivera" in page.text and "Prefers mornings" in page.text and "Insurance" in page.text


async def test_clinician_edits_insurance_and_each_changed_field_is_recorded(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    form = {
        "billing_type": "insurance",
        "coverage_status": "checking",
        "payer": "Aetna",
        "member_id": "W123",
        "group_number": "",
        "subscriber_name": "",
        "subscriber_relationship": "self",
        "copay": "25.50",
    }
    bad = await post_form(client, f"/clients/{client_id}/insurance", {**form, "copay": "lots"})
    assert "Enter the copay as an amount" in bad.text
    assert await InsurancePolicy.count() == 0 and await InsuranceChange.count() == 0
    await post_form(client, f"/clients/{client_id}/insurance", form)
    policy = await InsurancePolicy.objects().first()
    assert policy.payer == "Aetna" and policy.copay_minor == 2550
    changed = {c.field for c in await InsuranceChange.objects()}
    assert changed == {"payer", "member_id", "copay_minor", "coverage_status", "billing_type"}
    await post_form(client, f"/clients/{client_id}/insurance", {**form, "member_id": "W999"})
    last = await InsuranceChange.objects().order_by(InsuranceChange.id, ascending=False).first()
    assert (last.field, last.old_value, last.new_value) == ("member_id", "W123", "W999")
    assert await InsuranceChange.count() == 6
    page = await client.get(f"/clients/{client_id}")
    assert "Client checking with insurer" in page.text and "$25.50" in page.text


async def test_resend_kills_the_old_link_and_is_limited_to_five_a_day(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    response = await post_form(
        client, "/clients/new", {"name": "Alex", "email": "alex@example.test", "billing_type": "self_pay"}
    )
    url = response.headers["location"]
    for _ in range(5):
        clock.advance(minutes=1)
        assert (await post_form(client, f"{url}/invite")).status_code == 303
    assert await AccountToken.count().where(AccountToken.revoked_at.is_null()) == 1
    assert await AccountToken.count() == 6
    page = await client.get(url)
    assert "You've resent this invitation 5 times today" in page.text
    await post_form(client, f"{url}/invite")
    assert await AccountToken.count() == 6
    assert "You can resend an invitation 5 times a day" in (await client.get(url)).text
    clock.advance(days=1)
    await sign_in(client, clinician)
    assert "Resend invitation" in (await client.get(url)).text
    await post_form(client, f"{url}/invite")
    assert await AccountToken.count() == 7


async def test_archive_shows_exactly_what_happens_then_cancels_future_sessions(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    now = clock.now()
    future = [await add_appointment(clinician, client_id, now + timedelta(days=d)) for d in (1, 8)]
    past = await add_appointment(clinician, client_id, now - timedelta(days=6), status="occurred")
    paid = await add_appointment(clinician, client_id, now - timedelta(days=13), status="occurred")
    for appointment_id, status in ((past, "scheduled"), (paid, "succeeded")):
        await Charge.insert(
            Charge(
                appointment=appointment_id,
                client=client_id,
                clinician=clinician.user.clinician_id,
                amount_minor=15000,
                status=status,
                due_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
        )
    await sign_in(client, clinician)
    confirm = await client.get(f"/clients/{client_id}/archive")
    assert "2 upcoming sessions will be cancelled" in confirm.text
    assert "1 charge not yet collected will be cancelled" in confirm.text
    assert "Tue 01 Dec 2026, 09:00" in confirm.text and "Tue 08 Dec 2026, 09:00" in confirm.text
    assert await Client.count().where(Client.archived_at.is_not_null()) == 0  # looking changes nothing

    # a session booked after the page was opened: the confirmation is shown again, nothing archived
    await add_appointment(clinician, client_id, now + timedelta(days=15))
    stale = await post_form(client, f"/clients/{client_id}/archive", {"plan": ",".join(map(str, future))})
    assert "Something changed since you opened this page" in stale.text
    assert "3 upcoming sessions will be cancelled" in stale.text
    assert await Client.count().where(Client.archived_at.is_not_null()) == 0

    fresh = await client.get(f"/clients/{client_id}/archive")
    plan = fresh.text.split('name="plan" value="')[1].split('"')[0]
    done = await post_form(client, f"/clients/{client_id}/archive", {"plan": plan})
    assert done.status_code == 303
    statuses = {a.id: a.status for a in await Appointment.objects()}
    assert statuses[past] == statuses[paid] == "occurred"
    assert [s for i, s in statuses.items() if i not in (past, paid)] == ["cancelled"] * 3
    charge_states = {c.appointment: c.status for c in await Charge.objects()}
    assert charge_states == {past: "cancelled", paid: "succeeded"}, "uncollected charges cancelled, paid kept"
    assert await StatusChange.count().where(StatusChange.to_status == "cancelled") == 3
    assert await AuditEvent.count().where(AuditEvent.action == "client_archived") == 1
    page = await client.get(f"/clients/{client_id}")
    assert "Archived" in page.text and "Restore to active clients" in page.text
    assert "Alex Rivera" in (await client.get("/clients?show=archived")).text
    await post_form(client, f"/clients/{client_id}/restore")
    assert "Alex Rivera" in (await client.get("/clients")).text


async def test_opening_a_client_record_is_audited(client, settings, clock):
    from app.models.tables import AuditEvent
    from tests.helpers import make_client, make_clinician, sign_in

    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    page = await client.get(f"/clients/{client_id}")
    assert page.status_code == 200 and f"/clients/{client_id}/export" in page.text
    views = await AuditEvent.objects().where(AuditEvent.action == "client_viewed")
    assert [(v.client_id, v.actor_id, v.detail) for v in views] == [(client_id, clinician.user.id, "client")]
