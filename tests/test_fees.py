"""Late-cancel and no-show fees (issue 20) on a real database, Redis and worker: charged once after the
delay through the session charge's machinery, cancelled when the status changes back, and never charged
under grace, an exemption, or a policy the client did not agree to."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.statuses import ChargeStatus as C
from app.models.db import is_unique_violation, transaction
from app.models.tables import AuditEvent, Charge, Client, Clinician, Practice
from app.services import fees
from app.services.appointments import StatusChangeRefused
from app.services.charges import charge_job
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.charging_support import (
    add_appointment,
    fast_forward,
    gateway_charges,
    make_practice,
    mark,
    the_charge,
)
from tests.helpers import post_form, sign_in
from tests.test_charges_web import visible


@pytest.fixture
def queue(arq_pool, settings):
    return JobQueue(arq_pool, settings.queue_name)


async def the_practice(setup) -> Practice:
    clinician = await Clinician.objects().where(Clinician.id == setup.clinician.user.clinician_id).first()
    return await Practice.objects().where(Practice.id == clinician.practice).first()


async def set_policy(setup, **columns) -> Practice:
    practice = await the_practice(setup)
    values = {"late_cancel_fee_minor": 7500, "no_show_fee_percent": 100} | columns
    await Practice.update({getattr(Practice, name): value for name, value in values.items()}).where(
        Practice.id == practice.id
    )
    return await the_practice(setup)


async def agree(setup, practice: Practice, now) -> str | None:
    async with transaction():
        return await fees.record_agreement(
            setup.client_id,
            practice,
            now=now,
            address="203.0.113.9",
            via="invitation",
            actor=Actor(user_id=setup.client.user.id, role="client"),
        )


async def no_fee_reasons() -> list[str]:
    rows = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "fee_not_charged")
    return [row["detail"] for row in rows]


async def test_a_late_cancel_charges_the_fee_once_after_the_delay(
    db, redis, settings, clock, queue, run_worker
):
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    fee = await the_charge(setup.appointment_id)
    assert (fee.kind, fee.status, fee.amount_minor) == ("late_cancel_fee", C.SCHEDULED, 7500)
    assert fee.due_at == clock.now() + timedelta(seconds=settings.charge_delay)

    await fast_forward(redis, settings)
    await run_worker()  # the job fires early: nothing is taken before the delay
    assert (await the_charge(setup.appointment_id)).status == C.SCHEDULED
    assert await gateway_charges() == 0

    clock.advance(seconds=settings.charge_delay)
    await fees_due(redis, settings, fee, queue)
    await run_worker()
    await fees_due(redis, settings, fee, queue)
    await run_worker()
    paid = await the_charge(setup.appointment_id)
    assert (paid.kind, paid.status) == ("late_cancel_fee", C.SUCCEEDED)
    assert await gateway_charges() == 1


async def fees_due(redis, settings, fee: Charge, queue: JobQueue) -> None:
    await queue.enqueue_all([charge_job(fee.id, fee.generation, None, settings)])
    await fast_forward(redis, settings)


async def test_switching_the_status_back_before_the_fee_is_due_cancels_it(
    db, redis, settings, clock, queue, run_worker
):
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "no_show", clock.now(), settings, queue)
    fee = await the_charge(setup.appointment_id)
    assert (fee.kind, fee.amount_minor) == ("no_show_fee", 15000)
    await mark(setup, "scheduled", clock.now(), settings, queue)
    assert (await the_charge(setup.appointment_id)).status == C.CANCELLED
    clock.advance(seconds=settings.charge_delay)
    await fees_due(redis, settings, fee, queue)
    await run_worker()
    assert await gateway_charges() == 0

    # marked Occurred after all: the one charge row becomes the session charge, never a second charge
    await mark(setup, "occurred", clock.now(), settings, queue)
    session = await the_charge(setup.appointment_id)
    assert (session.id, session.kind, session.amount_minor) == (fee.id, "session", 15000)
    assert await Charge.count().where(Charge.appointment == setup.appointment_id) == 1


async def test_a_paid_fee_blocks_changing_the_status_until_refunded(
    db, redis, settings, clock, queue, run_worker
):
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    fee = await the_charge(setup.appointment_id)
    clock.advance(seconds=settings.charge_delay)
    await fees_due(redis, settings, fee, queue)
    await run_worker()
    assert (await the_charge(setup.appointment_id)).status == C.SUCCEEDED
    with pytest.raises(StatusChangeRefused):
        await mark(setup, "occurred", clock.now(), settings, queue)
    assert (await the_charge(setup.appointment_id)).kind == "late_cancel_fee"


async def test_grace_and_exemption_produce_no_fee_and_say_why(db, redis, settings, clock, queue):
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup, free_late_cancels=1), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    assert await the_charge(setup.appointment_id) is None
    assert await no_fee_reasons() == ["No fee: a free late cancel under the practice's grace rule."]

    # the second late cancel in the year owes the fee
    setup.appointment_id = await add_appointment(
        setup.clinician, setup.client_id, clock.now() + timedelta(days=7)
    )
    await mark(setup, "late_cancelled", clock.now() + timedelta(days=7), settings, queue)
    assert (await the_charge(setup.appointment_id)).amount_minor == 7500

    await Client.update({Client.fee_exemption: "Medicaid plan"}).where(Client.id == setup.client_id)
    setup.appointment_id = await add_appointment(
        setup.clinician, setup.client_id, clock.now() + timedelta(days=14)
    )
    await mark(setup, "no_show", clock.now() + timedelta(days=14), settings, queue)
    assert await the_charge(setup.appointment_id) is None
    assert (await no_fee_reasons())[-1] == "No fee: the client is exempt (Medicaid plan)."


async def test_a_client_who_did_not_agree_to_the_current_policy_is_never_charged_a_fee(
    db, redis, settings, clock, queue
):
    setup = await make_practice(settings, clock.now(), queue)
    practice = await set_policy(setup)
    await mark(setup, "no_show", clock.now(), settings, queue)  # a policy exists, never agreed
    assert await the_charge(setup.appointment_id) is None
    assert await no_fee_reasons() == ["No fee: the client has not agreed to the current fee policy."]
    first = await agree(setup, practice, clock.now())
    await set_policy(
        setup, late_cancel_fee_minor=9000
    )  # the words change: the old agreement no longer counts
    setup.appointment_id = await add_appointment(
        setup.clinician, setup.client_id, clock.now() + timedelta(days=7)
    )
    await mark(setup, "late_cancelled", clock.now() + timedelta(days=7), settings, queue)
    assert await the_charge(setup.appointment_id) is None
    assert (await no_fee_reasons())[-1] == "No fee: the client has not agreed to the current fee policy."
    second = await agree(setup, await the_practice(setup), clock.now())
    assert first and second and first != second
    assert await agree(setup, await the_practice(setup), clock.now()) == second  # agreeing twice stores once
    agreements = await fees.agreed_versions(setup.client_id, practice.id)
    assert sorted(agreements) == sorted([first, second])


async def test_the_database_refuses_a_second_charge_for_one_appointment(db, settings, clock, queue):
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    fee = await the_charge(setup.appointment_id)
    with pytest.raises(Exception) as refused:
        async with transaction():
            await Charge.insert(
                Charge(
                    appointment=setup.appointment_id,
                    client=fee.client,
                    clinician=fee.clinician,
                    kind="session",
                    amount_minor=15000,
                    status=C.SCHEDULED,
                    due_at=clock.now(),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    assert is_unique_violation(refused.value)


async def test_the_clinician_sees_the_pending_fee_and_its_countdown_in_the_panel(
    app, client, settings, clock
):
    queue = JobQueue(None, settings.queue_name)
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    due = (clock.now() + timedelta(seconds=settings.charge_delay)).astimezone(ZoneInfo("America/New_York"))
    await sign_in(client, setup.clinician)
    url = f"/appointments/{setup.appointment_id}/charge"
    panel = visible((await client.get(url, headers={"HX-Request": "true"})).text)
    assert "Scheduled Late-cancel fee $75.00" in panel
    assert f"$75.00 will be charged on {due:%a %d %b %Y, %H:%M} ( in 2 days )" in panel
    await mark(setup, "scheduled", clock.now(), settings, queue)
    panel = visible((await client.get(url, headers={"HX-Request": "true"})).text)
    assert "Cancelled: the session is no longer marked Late cancelled." in panel


async def test_the_clinician_waives_a_fee_with_a_reason(app, client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "no_show", clock.now(), settings, queue)
    await sign_in(client, setup.clinician)
    url = f"/appointments/{setup.appointment_id}/charge"
    panel = (await client.get(url, headers={"HX-Request": "true"})).text
    assert 'name="waive_reason"' in panel and "Waive fee" in panel
    refused = await post_form(client, f"{url}/waive", {"waive_reason": " "}, htmx=True)
    assert 'id="f-waive_reason-error">Say why you waive this fee' in refused.text
    assert (await the_charge(setup.appointment_id)).status == C.SCHEDULED
    waived = await post_form(client, f"{url}/waive", {"waive_reason": "Hospital stay"}, htmx=True)
    assert "Hospital stay. The client will not be charged." in visible(waived.text)
    fee = await the_charge(setup.appointment_id)
    assert (fee.status, fee.waive_reason) == (C.WAIVED, "Hospital stay")
    detail = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.action == "charge_waived").first()
    assert detail["detail"] == "no_show_fee scheduled->waived, with a reason"


async def test_the_report_and_its_csv_name_the_kind_and_total_each(app, client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "late_cancelled", clock.now(), settings, queue)
    await Charge.update({Charge.status: C.SUCCEEDED, Charge.succeeded_at: clock.now()}).where(
        Charge.appointment == setup.appointment_id
    )
    await sign_in(client, setup.clinician)
    page = visible((await client.get("/report?preset=this_month")).text)
    assert "Paid · Late-cancel fee $75.00" in page
    assert "Collected by kind Session $0.00 Late-cancel fee $75.00 No-show fee $0.00" in page
    lines = (await client.get("/report.csv?preset=this_month")).text.splitlines()
    assert lines[0].split(",")[12] == "Charge kind"
    assert lines[1].split(",")[11:14] == ["Paid", "Late-cancel fee", "75.00"]


async def test_the_portal_history_and_the_receipt_name_the_fee(app, client, other_client, settings, clock):
    queue = JobQueue(None, settings.queue_name)
    setup = await make_practice(settings, clock.now(), queue)
    await agree(setup, await set_policy(setup), clock.now())
    await mark(setup, "no_show", clock.now(), settings, queue)
    await Charge.update({Charge.status: C.SUCCEEDED, Charge.succeeded_at: clock.now()}).where(
        Charge.appointment == setup.appointment_id
    )
    fee = await the_charge(setup.appointment_id)
    await sign_in(client, setup.clinician)
    receipt = visible((await client.get(f"/charges/{fee.id}/receipt")).text)
    assert "For No-show fee Amount paid $150.00" in receipt
    await sign_in(other_client, setup.client)
    assert "No-show fee $150.00 · Paid" in visible((await other_client.get("/portal")).text)
