"""Hostile input is a message next to its field, never a 500 or a stored change: control characters and
line breaks (forms, query strings, the signed-out forms), bidi overrides in names, fees over the
practice's ceiling, dates outside 1900…2200; and email built from any stored text."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import timedelta

import pytest

from app.domain.validation import Form, clean_text, text_problem
from app.models.tables import Appointment, AuditEvent, Client, Clinician, EmailMessage, InsurancePolicy, User
from app.services import email
from tests.conftest import browser, running
from tests.helpers import make_client, make_clinician, post_form, sign_in
from tests.test_calendar import add_appointment


def text(response) -> str:
    return html.unescape(response.text)


# --- the one check, as a pure rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "multiline", "refused"),
    [
        ("Alex Rivera", False, False),
        ("名前 😀 Zoë", False, False),
        ("Al\x00ex", False, True),
        ("Al\x07ex", False, True),
        ("Al\x85ex", False, True),  # C1 (NEL)
        ("Al\x7fex", False, True),
        ("Alex\tRivera", False, True),
        ("Alex\r\nBcc: x@example.test", False, True),
        ("line one\r\nline two\tindented", True, False),
        ("line one\x00", True, True),
        ("bad \udcff surrogate", False, True),
    ],
)
def test_text_problem_refuses_control_characters_and_single_line_breaks(value, multiline, refused):
    assert (text_problem(value, multiline=multiline) is not None) is refused


def test_form_reports_every_bad_field_and_keeps_no_control_character():
    form = Form.of({"name": "Al\x00ex", "internal_note": "a\r\nb\tc", "phone": "1\n2"})
    assert set(form.errors) == {"name", "phone"}
    assert form.data == {"name": "Alex", "internal_note": "a\nb\tc", "phone": "1 2"}
    assert clean_text("x\x00y\u2028z") == "xy z"


@pytest.mark.parametrize("name", ["\u202eevil", "a\u2066b", "Alex\u202a"])
def test_names_refuse_bidi_overrides(name):
    form = Form.of({"name": name, "plan_notes": name})
    form.name("name")
    form.text("plan_notes", label="Notes")
    assert "name" in form.errors and "plan_notes" not in form.errors


# --- forms and queries ----------------------------------------------------------------------------


async def test_control_characters_in_client_forms_are_field_errors_and_nothing_is_stored(
    client, settings, clock
):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    for name in ("Al\x00ex", "Alex\r\nRivera", "\u202eAlex"):
        answer = await post_form(client, "/clients/new", {"name": name, "email": "alex@example.test"})
        assert answer.status_code == 200 and 'id="f-name-error"' in answer.text, repr(name)
    assert await Client.count() == 0

    _, client_id = await make_client(settings, clock.now(), clinician)
    edit = {"name": "Alex Rivera", "phone": "", "billing_type": "self_pay"}
    bad = await post_form(client, f"/clients/{client_id}/edit", {**edit, "internal_note": "one\x00two"})
    assert 'id="f-internal_note-error"' in bad.text
    assert (await Client.objects().get(Client.id == client_id)).internal_note == ""
    good = await post_form(client, f"/clients/{client_id}/edit", {**edit, "internal_note": "one\r\n\ttwo"})
    assert good.status_code == 303
    assert (await Client.objects().get(Client.id == client_id)).internal_note == "one\n\ttwo"


async def test_control_characters_in_queries_are_reported_next_to_the_field(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    search = await client.get("/clients/?q=Al%00ex")
    assert search.status_code == 200 and 'id="f-q-error"' in search.text
    assert "Alex Rivera" in search.text  # the refused search is ignored, the list shown
    trail = await client.get("/audit/?action=x%00y")
    assert trail.status_code == 200 and 'id="f-action-error"' in trail.text
    odd = await client.get("/clients/?q=%ff%fe")  # not UTF-8: read as U+FFFD, matches nothing
    assert odd.status_code == 200


async def test_signed_out_forms_refuse_nul_without_failing(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await Clinician.update({Clinician.booking_slug: "calm-harbor"}).where(
        Clinician.id == clinician.user.clinician_id
    )
    login = await post_form(client, "/login", {"email": "maya\x00@example.test", "password": "x"})
    assert login.status_code == 200 and 'id="f-email-error"' in login.text
    forgot = await post_form(client, "/password/forgot", {"email": f"{clinician.email}\x00"})
    assert forgot.status_code == 200 and 'id="f-email-error"' in forgot.text
    users = await User.count()
    for name in ("Jordan\x00Park", "Jordan\r\nBcc: all@example.test", "\u202eJordan"):
        booked = await post_form(
            client,
            "/book/calm-harbor",
            {
                "kind": "intro",
                "slot": "2026-12-01T14:00Z",
                "name": name,
                "email": "j@example.test",
                "agree": "on",
            },
        )
        assert booked.status_code == 422 and 'id="f-name-error"' in booked.text, repr(name)
    assert await User.count() == users and await Client.count() == 0 and await EmailMessage.count() == 0


# --- money ----------------------------------------------------------------------------------------


async def test_fees_over_the_practice_ceiling_are_refused_and_the_ceiling_is_a_setting(
    client, settings, clock
):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    await sign_in(client, clinician)
    booking = {"client_id": str(client_id), "date": "2026-12-02", "time": "10:00", "kind": "regular"}
    for fee in ("999999999", "2000.01", "-5"):
        answer = await post_form(client, "/appointments/", {**booking, "fee": fee})
        assert answer.status_code == 200 and 'id="f-fee-error"' in answer.text, fee
    assert "can't be more than $2,000.00" in text(
        await post_form(client, "/appointments/", {**booking, "fee": "2500"})
    )
    assert await Appointment.count() == 0
    assert (await post_form(client, "/appointments/", {**booking, "fee": "2000"})).status_code == 303

    page = await client.get("/settings/booking")
    assert 'name="max_fee"' in page.text and 'value="2,000.00"' in page.text
    values = {
        "default_session_minutes": "50",
        "default_fee": "300",
        "buffer_minutes": "10",
        "min_notice_hours": "24",
        "horizon_days": "60",
        "intro_session_minutes": "15",
        "intro_fee": "0",
        "cancellation_window_hours": "48",
        "max_fee": "250",
    }
    refused = await post_form(client, "/settings/booking", values)
    assert 'id="f-default_fee-error"' in refused.text and "can't be more than $250.00" in text(refused)
    assert (await Clinician.objects().first()).max_fee_minor == 200000
    too_high = await post_form(client, "/settings/booking", {**values, "max_fee": "99999999"})
    assert 'id="f-max_fee-error"' in too_high.text
    saved = await post_form(client, "/settings/booking", {**values, "default_fee": "200"})
    assert saved.status_code == 303
    assert (await Clinician.objects().first()).max_fee_minor == 25000
    over = await post_form(client, "/appointments/", {**booking, "time": "12:00", "fee": "260"})
    assert "can't be more than $250.00" in text(over) and await Appointment.count() == 1


async def test_book_next_and_series_edits_refuse_fees_over_the_ceiling(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    appointment_id = await add_appointment(clinician, client_id, clock.now() + timedelta(days=1))
    await sign_in(client, clinician)
    series = {"date": "2026-12-08", "time": "10:00", "minutes": "50", "every": "1", "count": "3"}
    answer = await post_form(
        client, f"/appointments/{appointment_id}/book-next", {**series, "fee": "5000", "action": "book"}
    )
    assert 'id="f-fee-error"' in answer.text and "can't be more than $2,000.00" in text(answer)
    edit = {"scope": "this", "time": "10:00", "minutes": "50", "fee": "99999999"}
    edited = await post_form(client, f"/appointments/{appointment_id}/series", edit)
    assert 'id="f-fee-error"' in edited.text
    assert await Appointment.count() == 1
    assert (await Appointment.objects().first()).fee_minor == 15000


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at"), [("9999-12-31", "23:59"), ("0001-01-01", "00:00"), ("1899-12-31", "10:00")]
)
async def test_dates_out_of_range_are_field_errors_in_booking_reschedule_and_series(
    client, settings, clock, day, at
):
    clinician = await make_clinician(settings, clock.now())
    _, client_id = await make_client(settings, clock.now(), clinician)
    appointment_id = await add_appointment(clinician, client_id, clock.now() + timedelta(days=1))
    await sign_in(client, clinician)
    booked = await post_form(
        client, "/appointments/", {"client_id": str(client_id), "date": day, "time": at, "kind": "regular"}
    )
    assert booked.status_code == 200 and "between the years 1900 and 2200" in booked.text
    moved = await post_form(
        client, f"/appointments/{appointment_id}/reschedule", {"date": day, "time": at, "minutes": "50"}
    )
    assert moved.status_code == 200 and 'id="f-date-error"' in moved.text
    series = {"date": day, "time": at, "minutes": "50", "fee": "150", "every": "1", "count": "2"}
    planned = await post_form(client, f"/appointments/{appointment_id}/book-next", series)
    assert planned.status_code == 200 and 'id="f-date-error"' in planned.text
    move = {**series, "date": "2026-12-08", "time": "10:00", "move_1": f"{day}T{at}", "action": "book"}
    moved_one = await post_form(client, f"/appointments/{appointment_id}/book-next", move)
    assert moved_one.status_code == 200 and "between the years 1900 and 2200" in moved_one.text
    assert await Appointment.count() == 1
    assert (await Appointment.objects().first()).starts_at == clock.now() + timedelta(days=1)


async def test_audit_and_report_filters_out_of_range_are_field_errors(client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)
    trail = await client.get("/audit/?to=9999-12-31&from=0001-01-01")
    assert trail.status_code == 200 and 'id="f-to-error"' in trail.text and 'id="f-from-error"' in trail.text
    export = await client.get("/audit/export?to=9999-12-31")
    assert export.status_code == 200
    report = await client.get("/report?preset=custom&start=9999-12-31&end=9999-12-31")
    assert report.status_code == 200 and 'id="f-start-error"' in report.text
    assert await AuditEvent.count() >= 1


# --- email from any stored text -------------------------------------------------------------------


async def test_a_stored_name_with_line_breaks_still_makes_one_clean_subject(
    db, redis, settings, clock, smtp_server, run_worker, arq_pool
):
    live = replace(settings, smtp_url=smtp_server.url)
    message_id = await email.queue_email(
        to="maya@example.test",
        subject="Charge failed: Sam\r\nBcc: everyone@example.test\x00",
        template="password_reset",
        context={"link": "http://testserver.local/x", "name": "Sam\r\nBcc: x"},
        now=clock.now(),
        settings=settings,
    )
    # Text stored before these rules (or by another path) reaches build_mime as it is.
    await EmailMessage.update(
        {EmailMessage.subject: "Charge failed: Sam\r\nBcc: everyone@example.test"}
    ).where(EmailMessage.id == message_id)
    await arq_pool.enqueue_job("send_email", message_id, _job_id=f"email:{message_id}")
    await run_worker(worker_settings=live)
    assert len(smtp_server.messages) == 1
    sent = smtp_server.messages[0]
    assert sent["Subject"] == "Charge failed: Sam Bcc: everyone@example.test"
    assert sent["Bcc"] is None and sent["To"] == "maya@example.test"


async def test_a_message_that_can_never_be_built_fails_once_and_visibly(
    db, redis, settings, clock, smtp_server, run_worker, arq_pool, caplog
):
    from app.web.app import create_app
    from workers.email import sweep_unsent_emails

    live = replace(settings, smtp_url=smtp_server.url)
    message_id = await email.queue_email(
        to="maya@example.test",
        subject="Receipt",
        template="password_reset",
        context={"link": "x"},
        now=clock.now(),
        settings=settings,
    )
    await EmailMessage.update({EmailMessage.attachments: "not json"}).where(EmailMessage.id == message_id)
    await arq_pool.enqueue_job("send_email", message_id, _job_id=f"email:{message_id}")
    worker = await run_worker(worker_settings=live)
    assert worker.jobs_retried == 0 and worker.jobs_failed == 0
    stored = await EmailMessage.objects().get(EmailMessage.id == message_id)
    assert stored.sent_at is None and stored.last_error.startswith("Can't be built")
    assert [r for r in caplog.records if "failed for good" in r.getMessage()]
    clock.advance(minutes=10)
    assert await sweep_unsent_emails({"settings": live, "clock": clock, "redis": arq_pool}) == 0
    assert smtp_server.messages == []
    application = create_app(settings, clock=clock)
    async with running(application), browser(application) as viewer:
        mailbox = await viewer.get("/dev/mailbox/")
    assert "Can&#39;t be built" in mailbox.text or "Can't be built" in mailbox.text


async def test_copays_are_held_to_the_practice_ceiling_on_both_sides(client, other_client, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    person, client_id = await make_client(settings, clock.now(), clinician)
    await Clinician.update({Clinician.max_fee_minor: 5000}).where(Clinician.id == clinician.user.clinician_id)
    await sign_in(client, clinician)
    details = {
        "billing_type": "insurance",
        "coverage_status": "not_discussed",
        "payer": "Aetna",
        "copay": "60",
    }
    refused = await post_form(client, f"/clients/{client_id}/insurance", details)
    assert 'id="f-copay-error"' in refused.text and "can't be more than $50.00" in text(refused)
    await sign_in(other_client, person)
    mine = await post_form(other_client, f"/portal/insurance/{client_id}", {"payer": "Aetna", "copay": "60"})
    assert 'id="f-copay-error"' in mine.text
    assert await InsurancePolicy.count() == 0
