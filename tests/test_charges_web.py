"""Charge screens: the appointment panel's charge (countdown, waive, retry, refund, receipt), the client's
card on file, scoping (another's id → 404) and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.domain.statuses import ChargeStatus as C
from app.models.tables import Appointment, AuditEvent, Charge
from app.payments.sandbox import SandboxGateway
from app.services import charges
from app.services.queue import JobQueue
from tests.charging_support import DECLINE, gateway_charges, make_practice, mark, the_charge
from tests.helpers import make_clinician, post_form, sign_in


def visible_inputs(html: str) -> str:
    """The refund amount field as rendered."""
    match = re.search(r'<input id="f-amount"[^>]*>', html)
    return match.group(0) if match else ""


def visible(html: str) -> str:
    """The text a person reads (tags removed, spaces collapsed)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_clinician_sees_the_pending_charge_and_can_waive_it(app, client, other_client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    url = f"/appointments/{practice.appointment_id}/charge"
    await sign_in(client, practice.clinician)
    before = await client.get(url, headers={"HX-Request": "true"})
    assert before.status_code == 200 and "48 hours after you mark this session Occurred" in before.text
    await mark(practice, "occurred", clock.now(), settings, queue)
    due = (clock.now() + timedelta(seconds=settings.charge_delay)).astimezone(ZoneInfo("America/New_York"))
    clock.advance(minutes=1)
    panel = await client.get(url, headers={"HX-Request": "true"})
    text = visible(panel.text)
    assert f"$150.00 will be charged on {due:%a %d %b %Y, %H:%M} ( in 2 days )" in text  # New York time
    assert "Visa ending 4242" in text
    assert f'hx-get="{url}" hx-trigger="every 15s"' in panel.text  # keeps itself current while pending
    assert "<html" not in panel.text
    assert "<html" in (await client.get(url)).text  # a normal GET is the full page

    assert (
        await client.post(f"{url}/waive", headers={"HX-Request": "true"})
    ).status_code == 403  # no CSRF token
    waived = await post_form(client, f"{url}/waive", htmx=True)
    assert "Charge waived" in waived.text and "Waive charge" not in waived.text
    assert "hx-trigger" not in waived.text  # settled: no more asking
    assert (await the_charge(practice.appointment_id)).status == C.WAIVED

    stranger = await make_clinician(settings, clock.now(), email="sam@example.test")
    await sign_in(other_client, stranger)
    assert (await other_client.get(url)).status_code == 404
    assert (await post_form(other_client, f"{url}/retry")).status_code == 404


async def test_refund_and_receipts_for_both_sides(app, client, other_client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    await charges.run_charge(
        charge.id,
        charge.generation,
        now=clock.now(),
        settings=settings,
        gateway=SandboxGateway(),
        queue=queue,
    )
    url = f"/appointments/{practice.appointment_id}/charge"
    await sign_in(client, practice.clinician)
    panel = await client.get(url, headers={"HX-Request": "true"})
    assert "Paid" in panel.text and f"/charges/{charge.id}/receipt" in panel.text
    bad = await post_form(client, f"{url}/refund", {"amount": "abc", "request_id": "abcdefgh12"}, htmx=True)
    assert bad.status_code == 200 and "Enter an amount like 150" in bad.text
    too_much = await post_form(
        client, f"{url}/refund", {"amount": "151", "request_id": "abcdefgh12"}, htmx=True
    )
    assert "more than what is left" in too_much.text
    assert 'value="150.00"' in visible_inputs(panel.text)
    asked = await post_form(client, f"{url}/refund", {"amount": "50", "request_id": "abcdefgh13"}, htmx=True)
    assert "Refund $50.00 to Visa ending 4242?" in visible(asked.text)
    assert (await the_charge(practice.appointment_id)).status == C.SUCCEEDED  # nothing moved yet
    without_js = await post_form(client, f"{url}/refund", {"amount": "50", "request_id": "abcdefgh13"})
    assert "<html" in without_js.text and "Refund $50.00 to Visa ending 4242?" in visible(without_js.text)
    confirmed = {"amount": "50.00", "request_id": "abcdefgh13", "confirmed": "yes"}
    done = await post_form(client, f"{url}/refund", confirmed, htmx=True)
    assert "Refunded $50.00" in done.text
    assert (await the_charge(practice.appointment_id)).status == C.PARTIALLY_REFUNDED
    again = await post_form(client, f"{url}/refund", confirmed, htmx=True)  # a double tap: one refund
    assert "Refunded $50.00" in again.text
    assert (await the_charge(practice.appointment_id)).refunded_minor == 5000
    receipt = await client.get(f"/charges/{charge.id}/receipt")
    assert "Receipt" in receipt.text and "$150.00" in receipt.text and "Refunded" in receipt.text

    await sign_in(other_client, practice.client)
    portal = await other_client.get("/portal/card")
    assert "Visa ending 4242" in portal.text and f"/portal/charges/{charge.id}/receipt" in portal.text
    assert (await other_client.get(f"/portal/charges/{charge.id}/receipt")).status_code == 200
    assert (await other_client.get(f"/portal/charges/{charge.id + 1}/receipt")).status_code == 404
    assert (await other_client.get(url)).status_code == 403


async def test_client_card_form_errors_and_a_new_card_retries_a_declined_charge(
    app, client, settings, clock, arq_pool
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=DECLINE)
    await mark(practice, "occurred", clock.now() - timedelta(hours=1), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    charge = await the_charge(practice.appointment_id)
    await charges.run_charge(
        charge.id,
        charge.generation,
        now=clock.now(),
        settings=settings,
        gateway=SandboxGateway(),
        queue=queue,
    )
    await sign_in(client, practice.client)
    page = await client.get("/portal/card")
    assert "Visa ending 0002" in page.text and "The card was declined." in page.text
    wrong = await post_form(
        client,
        "/portal/card",
        {"number": "4111 1111 1111 1112", "exp_month": "12", "exp_year": "2030"},
        htmx=True,
    )
    assert 'id="f-number-error"' in wrong.text and "use a test card number" in wrong.text
    assert 'value="2030"' in wrong.text
    expired = await post_form(
        client,
        "/portal/card",
        {"number": "4242424242424242", "exp_month": "1", "exp_year": "2020"},
        htmx=True,
    )
    assert "This card has expired." in expired.text
    saved = await post_form(
        client,
        "/portal/card",
        {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030"},
        htmx=True,
    )
    assert "Card saved." in saved.text and "Visa ending 4242" in saved.text
    assert (await the_charge(practice.appointment_id)).status == C.SCHEDULED  # retried at once


async def test_the_card_page_costs_the_same_queries_for_many_charges(client, settings, clock, arq_pool):
    """Each charge's view is assembled from batched lookups, not a handful of queries per charge."""
    from datetime import timedelta

    from app.services.queue import JobQueue
    from tests.charging_support import add_appointment, make_practice, mark
    from tests.helpers import sign_in
    from tests.querycount import count_queries

    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    await sign_in(client, practice.client)
    with count_queries() as few:
        assert (await client.get("/portal/card")).status_code == 200
    for days in range(2, 9):
        practice.appointment_id = await add_appointment(
            practice.clinician, practice.client_id, clock.now() - timedelta(days=days)
        )
        await mark(practice, "occurred", clock.now(), settings, queue)
    with count_queries() as many:
        page = await client.get("/portal/card")
    assert page.text.count("$150.00") >= 8
    assert many.count == few.count


async def test_an_archived_client_is_never_charged_occurred_archive_scheduled_occurred(
    app, client, settings, clock
):
    """The issue's path through the web: Occurred, archive (charge cancelled), back to Scheduled, then
    Occurred again is refused in the panel; nothing is ever collected. Restoring is the way back."""
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    status_url = f"/appointments/{practice.appointment_id}/status"
    await sign_in(client, practice.clinician)

    async def set_status(status: str) -> str:
        response = await post_form(client, status_url, {"status": status}, htmx=True)
        assert response.status_code == 200
        return visible(response.text)

    await set_status("occurred")
    assert (await the_charge(practice.appointment_id)).status == C.SCHEDULED
    archive_page = await client.get(f"/clients/{practice.client_id}/archive")
    plan = archive_page.text.split('name="plan" value="')[1].split('"')[0]
    archived = await post_form(client, f"/clients/{practice.client_id}/archive", {"plan": plan})
    assert archived.status_code == 303
    assert (await the_charge(practice.appointment_id)).status == C.CANCELLED

    await set_status("scheduled")
    refused = await set_status("occurred")
    assert "This client is archived, and archived clients are never charged." in refused
    appointment = await Appointment.objects().where(Appointment.id == practice.appointment_id).first()
    assert appointment.status == "scheduled"
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.CANCELLED

    clock.advance(seconds=settings.charge_delay + 60)
    await charges.sweep(now=clock.now(), settings=settings, gateway=SandboxGateway(), queue=queue)
    await charges.run_charge(
        charge.id, None, now=clock.now(), settings=settings, gateway=SandboxGateway(), queue=queue
    )
    assert (await the_charge(practice.appointment_id)).status == C.CANCELLED
    assert await gateway_charges() == 0

    await sign_in(client, practice.clinician)  # two days later: a new sign-in
    await post_form(client, f"/clients/{practice.client_id}/restore")
    assert "archived" not in await set_status("occurred")
    assert (await the_charge(practice.appointment_id)).status == C.SCHEDULED


async def test_pending_charge_screens_ask_again_until_the_charge_settles(
    app, client, other_client, settings, clock
):
    queue = JobQueue(None, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue)
    await mark(practice, "occurred", clock.now(), settings, queue)
    await sign_in(client, practice.clinician)
    await sign_in(other_client, practice.client)
    htmx = {"HX-Request": "true"}
    sessions_url = f"/clients/{practice.client_id}/sessions"

    page = await client.get(f"/clients/{practice.client_id}")
    assert "(in 2 days)" in visible(page.text)
    assert f'hx-get="{sessions_url}" hx-trigger="every 15s"' in page.text
    views_before = await AuditEvent.count().where(AuditEvent.action == "client_viewed")
    refreshed = await client.get(sessions_url, headers=htmx)
    assert "<html" not in refreshed.text and "Scheduled, due" in visible(refreshed.text)
    assert await AuditEvent.count().where(AuditEvent.action == "client_viewed") == views_before
    opened_as_a_page = await client.get(sessions_url)  # a reload or a shared link: the client's page
    assert opened_as_a_page.status_code == 303
    assert opened_as_a_page.headers["location"] == f"/clients/{practice.client_id}"
    portal = await other_client.get("/portal/card")
    assert (
        "(in 2 days)" in visible(portal.text)
        and 'hx-get="/portal/charges" hx-trigger="every 15s"' in portal.text
    )

    charge = await the_charge(practice.appointment_id)  # now due: "any moment now", asked more often
    await Charge.update({Charge.due_at: clock.now() - timedelta(minutes=1)}).where(Charge.id == charge.id)
    assert "(any moment now)" in visible((await client.get(sessions_url, headers=htmx)).text)
    assert 'hx-trigger="every 3s"' in (await other_client.get("/portal/charges", headers=htmx)).text

    charge = await the_charge(practice.appointment_id)
    await Charge.update({Charge.status: C.PROCESSING}).where(Charge.id == charge.id)  # a worker has it
    being_charged = visible(
        (await client.get(f"/appointments/{practice.appointment_id}/charge", headers=htmx)).text
    )
    assert "The card is being charged: the result shows here any moment now." in being_charged
    await Charge.update({Charge.status: C.SCHEDULED}).where(Charge.id == charge.id)
    await charges.run_charge(
        charge.id,
        charge.generation,
        now=clock.now(),
        settings=settings,
        gateway=SandboxGateway(),
        queue=queue,
    )
    settled = await client.get(sessions_url, headers=htmx)
    assert "Paid" in visible(settled.text) and "hx-trigger" not in settled.text
    settled = await other_client.get("/portal/charges", headers=htmx)
    assert "Paid" in visible(settled.text) and "hx-trigger" not in settled.text
    assert (await other_client.get(sessions_url, headers=htmx)).status_code == 403
