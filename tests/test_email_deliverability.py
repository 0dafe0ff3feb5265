"""Every kind of email, sent by the real worker to a real SMTP server: the headers inbox providers look
for, a text part that stands alone, a SpamAssassin score (local rules) of at most 1.0, and .ics files
that calendar apps can update. A kind in ``email.KINDS`` without a case here fails."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from email.utils import parseaddr, parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.models.db import transaction
from app.models.tables import Appointment, Clinician, PaymentMethod
from app.services import (
    accounts,
    appointments,
    card_warnings,
    clients,
    email,
    estimates,
    members,
    notices,
    paperwork,
    summaries,
    superbills,
)
from app.services.accounts import NewClinician
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.billing_support import fill_billing_details, paid_session
from tests.charging_support import (
    DECLINE,
    NEEDS_AUTH,
    add_appointment,
    fast_forward,
    make_practice,
    mark,
    save_card,
)
from workers.reminders import sweep_reminders

MAX_SCORE = 1.0
INSURANCE = "billing@calmharbor.example"
SENDER = "Calm Harbor via Stillwater <notices@mail.stillwater.example>"

needs_spamassassin = pytest.mark.skipif(
    shutil.which("spamassassin") is None, reason="apt-get install spamassassin"
)


async def _invitation(env):
    async with transaction():
        _, jobs = await clients.create_client(
            env.practice.clinician.user.clinician_id,
            clients.NewClient("Jordan Park", "jordan@example.test"),
            invite=True,
            now=env.now,
            actor=env.practice.clinician_actor,
            settings=env.settings,
        )
    await env.queue.enqueue_all(jobs)
    return "jordan@example.test", INSURANCE


async def _password_reset(env):
    await accounts.request_password_reset(
        env.practice.client.email,
        redis=env.redis,
        settings=env.settings,
        now=env.now,
        actor=Actor(ip="203.0.113.5"),
        queue=env.queue,
    )
    return env.practice.client.email, INSURANCE


async def _sign_up(env, address: str):
    await accounts.sign_up_clinician(
        NewClinician("Quiet Pines", "Sam Lee", address, "a long enough passphrase", "Europe/London"),
        now=env.now,
        settings=env.settings,
        actor=Actor(ip="203.0.113.5"),
        queue=env.queue,
    )
    return address, None


async def _signup_confirm(env):
    return await _sign_up(env, "sam@example.test")


async def _signup_existing(env):
    return await _sign_up(env, env.practice.clinician.email)


async def _sessions_booked(env):
    async with transaction():
        job = await notices.sessions_booked(
            env.practice.client_id, [env.future_id], now=env.now, settings=env.settings
        )
    await env.queue.enqueue_all([job])
    return env.practice.client.email, INSURANCE


async def _sessions_moved(env):
    await appointments.reschedule(
        env.future_id,
        env.practice.clinician.user.clinician_id,
        starts_at=env.now + timedelta(days=2, hours=3),
        minutes=50,
        allow_overlap=True,
        now=env.now,
        actor=env.practice.clinician_actor,
        settings=env.settings,
        queue=env.queue,
    )
    return env.practice.client.email, INSURANCE


async def _sessions_cancelled(env):
    await appointments.change_status(
        env.future_id,
        "cancelled",
        clinician_id=env.practice.clinician.user.clinician_id,
        now=env.now,
        actor=env.practice.clinician_actor,
        settings=env.settings,
        queue=env.queue,
    )
    return env.practice.client.email, INSURANCE


async def _sessions_reminder(env):
    # the session two days ahead is at its 48-hour reminder now, and is the client's first with a form open
    await Appointment.update({Appointment.status: "cancelled"}).where(
        Appointment.id == env.practice.appointment_id
    )
    await paperwork.publish(
        env.practice.clinician.user.clinician_id,
        "Consent to treatment",
        "We meet weekly.",
        now=env.now,
        actor=env.practice.clinician_actor,
    )
    await sweep_reminders({"settings": env.settings, "clock": env.clock, "redis": env.queue.redis})
    return env.practice.client.email, INSURANCE


async def _charge_failed(env):
    await mark(env.practice, "occurred", env.now, env.settings, env.queue)
    env.clock.advance(seconds=env.settings.charge_delay)
    await fast_forward(env.redis, env.settings)


async def _charge_failed_client(env):
    await _charge_failed(env)
    return env.practice.client.email, INSURANCE


async def _charge_failed_clinician(env):
    await _charge_failed(env)
    return env.practice.clinician.email, None


async def _charge_needs_confirmation(env):
    await save_card(env.practice, NEEDS_AUTH, env.now, env.settings, env.queue)
    await _charge_failed(env)
    return env.practice.client.email, INSURANCE


async def _card_expiring(env):
    """The saved card expires at the end of this month: the hourly sweep warns the client."""
    await PaymentMethod.update(
        {PaymentMethod.exp_month: env.now.month, PaymentMethod.exp_year: env.now.year}
    ).where(PaymentMethod.removed_at.is_null())
    await card_warnings.warn_expiring(now=env.now, settings=env.settings, queue=env.queue)
    return env.practice.client.email, INSURANCE


async def _evening_summary(env):
    """Six in the evening in the practice's zone with a session tomorrow: the clinician's summary."""
    seat = env.practice.clinician.user.clinician_id
    zone = ZoneInfo((await Clinician.objects().get(Clinician.id == seat)).time_zone)
    evening = env.now.astimezone(zone).replace(hour=18, minute=0, second=0, microsecond=0)
    if evening < env.now:
        evening += timedelta(days=1)
    await add_appointment(env.practice.clinician, env.practice.client_id, evening + timedelta(hours=15))
    env.clock.at = evening
    await summaries.send_due(now=env.now, settings=env.settings, queue=env.queue)
    return env.practice.clinician.email, None


async def _member_invitation(env):
    owner = env.practice.clinician
    await members.invite_member(
        owner.user,
        members.NewMember("Noor Haddad", "noor@example.test", "clinician"),
        now=env.now,
        actor=env.practice.clinician_actor,
        settings=env.settings,
        queue=env.queue,
    )
    return "noor@example.test", owner.email


async def _superbill_ready(env):
    await fill_billing_details(env.practice, env.now, env.settings)
    await paid_session(env.practice, env.now - timedelta(days=3))
    await env.queue.enqueue_all(await superbills.sweep(now=env.now, settings=env.settings))
    return env.practice.client.email, INSURANCE


async def _good_faith_estimate(env):
    await fill_billing_details(env.practice, env.now, env.settings)
    await env.queue.enqueue_all(await estimates.sweep(now=env.now, settings=env.settings))
    return env.practice.client.email, INSURANCE


async def _paperwork_reminder(env):
    clinician = env.practice.clinician
    await paperwork.publish(
        clinician.user.clinician_id,
        "Consent to treatment",
        "We meet weekly. By signing, I agree to begin therapy.",
        now=env.now,
        actor=env.practice.clinician_actor,
    )
    await paperwork.remind(
        clinician.user.clinician_id,
        env.practice.client_id,
        now=env.now,
        actor=env.practice.clinician_actor,
        settings=env.settings,
        queue=env.queue,
    )
    return env.practice.client.email, INSURANCE


async def _estimate_warning(env):
    await fill_billing_details(env.practice, env.now, env.settings)
    await estimates.sweep(now=env.now, settings=env.settings)
    await paid_session(env.practice, env.now + timedelta(days=3), fee_minor=100000)
    await env.queue.enqueue_all(
        await estimates.warn_clinician(env.practice.client_id, now=env.now, settings=env.settings)
    )
    return env.practice.clinician.email, None


async def _charge_disputed(env):
    """A paid charge whose Stripe payment the cardholder disputes (against the local Stripe stub)."""
    from app.models.tables import Charge
    from app.payments.stripe_gateway import StripeGateway
    from app.services import disputes
    from tests.stripe_stub import StripeStub

    appointment_id = await paid_session(env.practice, env.now - timedelta(days=3))
    with StripeStub() as stub:
        gateway = StripeGateway("sk_test_stub", api_base=stub.url, timeout=5, max_network_retries=0)
        pay = {"customer_ref": "cus_x", "method_ref": "pm_card_visa", "currency": "USD", "charge_id": 1}
        intent = await gateway.create_payment(amount_minor=15000, idempotency_key="k", **pay)
        await gateway.confirm_payment(intent, idempotency_key="k:confirm")
        await Charge.update({Charge.gateway_reference: intent}).where(Charge.appointment == appointment_id)
        opened = stub.dispute(intent)
        await disputes.record_dispute(
            opened["id"], now=env.now, settings=env.settings, gateway=gateway, queue=env.queue
        )
    return env.practice.clinician.email, None


# kind -> makes one message of that kind through the real service; returns (recipient, Reply-To or None)
CASES = {
    "invitation": _invitation,
    "password_reset": _password_reset,
    "signup_confirm": _signup_confirm,
    "signup_existing": _signup_existing,
    "sessions_booked": _sessions_booked,
    "paperwork_reminder": _paperwork_reminder,
    "sessions_moved": _sessions_moved,
    "sessions_cancelled": _sessions_cancelled,
    "sessions_reminder": _sessions_reminder,
    "charge_failed_client": _charge_failed_client,
    "charge_failed_clinician": _charge_failed_clinician,
    "charge_needs_confirmation": _charge_needs_confirmation,
    "charge_disputed": _charge_disputed,
    "card_expiring": _card_expiring,
    "evening_summary": _evening_summary,
    "member_invitation": _member_invitation,
    "superbill_ready": _superbill_ready,
    "good_faith_estimate": _good_faith_estimate,
    "estimate_warning": _estimate_warning,
}


class Env:
    def __init__(self, **values):
        self.__dict__.update(values)

    @property
    def now(self):
        return self.clock.now()


def spam_score(raw: bytes) -> tuple[float, str]:
    """SpamAssassin's score in local mode (no network tests), and its report."""
    done = subprocess.run(
        ["spamassassin", "-L", "-t"], input=raw, capture_output=True, timeout=120, check=False
    )
    out = done.stdout.decode(errors="replace")
    found = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", out, re.MULTILINE)
    assert found, out[-2000:] + done.stderr.decode(errors="replace")
    return float(found.group(1)), out[out.find("Content analysis details") :]


def test_every_kind_the_app_sends_has_a_case_and_a_template():
    assert set(CASES) == set(email.KINDS), "a new email kind needs a case in this file"
    templates = {path.stem for path in (email.ROOT / "templates" / "email").glob("[!_]*.txt")}
    assert templates == set(email.KINDS)


@needs_spamassassin
@pytest.mark.parametrize("kind", sorted(email.KINDS))
async def test_each_kind_reaches_the_inbox(
    kind, db, redis, arq_pool, settings, clock, smtp_server, run_worker
):
    smtp_settings = replace(settings, smtp_url=smtp_server.url, email_from=SENDER)
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(smtp_settings, clock.now(), queue, card=DECLINE)
    await Clinician.update({Clinician.insurance_email: INSURANCE}).where(
        Clinician.id == practice.clinician.user.clinician_id
    )
    future_id = await add_appointment(practice.clinician, practice.client_id, clock.now() + timedelta(days=2))
    await run_worker(worker_settings=smtp_settings)  # the card-saved notes etc. are not what we look at
    before = len(smtp_server.messages)
    env = Env(
        practice=practice, clock=clock, settings=smtp_settings, queue=queue, redis=redis, future_id=future_id
    )

    recipient, reply_to = await CASES[kind](env)
    await run_worker(worker_settings=smtp_settings)

    sent = [
        (m, raw)
        for m, raw in zip(smtp_server.messages[before:], smtp_server.raw[before:], strict=True)
        if m["To"] == recipient
    ]
    stored = await email.EmailMessage.objects().where(email.EmailMessage.kind == kind)
    assert len(stored) == 1 and stored[0].sent_at is not None, f"{kind} was not sent"
    assert len(sent) == 1, [m["Subject"] for m in smtp_server.messages]
    message, raw = sent[0]

    assert parsedate_to_datetime(message["Date"]) == clock.now()
    assert re.fullmatch(r"<[^@<>\s]+@mail\.stillwater\.example>", message["Message-ID"].strip())
    assert message["Auto-Submitted"] == "auto-generated"
    if reply_to:
        assert parseaddr(message["Reply-To"])[1] == reply_to
    else:
        assert message["Reply-To"] is None
    text = message.get_body(("plain",)).get_content()
    assert "<" not in re.sub(r"<https?://[^>]+>", "", text), "the text part must not be HTML"
    assert len(text.split()) >= 15, text
    html = message.get_body(("html",)).get_content()
    for link in re.findall(r'href="([^"]+)"', html):
        assert link.removeprefix("mailto:") in text, f"the text part lacks {link}"

    score, report = spam_score(raw)
    assert score <= MAX_SCORE, f"{kind} scores {score}:\n{report}"
    if kind == "sessions_reminder":
        assert "2 forms to complete before your session: Consent to treatment, Intake questionnaire" in text

    if kind in ICS:
        method, sequence, status, starts = ICS[kind]
        (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
        calendar = Calendar.from_ical(part.get_content())
        assert calendar["METHOD"] == method
        (event,) = calendar.walk("VEVENT")
        assert str(event["UID"]) == f"appointment-{future_id}@stillwater"  # the booking's event
        assert event["SEQUENCE"] == sequence and event["STATUS"] == status
        assert parseaddr(str(event["ORGANIZER"]))[1].removeprefix("mailto:") == INSURANCE
        assert str(event["ATTENDEE"]) == f"mailto:{recipient}"
        assert event.decoded("DTSTAMP") == clock.now()
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert event["DTSTART"].params["TZID"] == "America/New_York"
        assert str(start.tzinfo) == "America/New_York" and start == clock.now() + starts
        assert end - start == timedelta(minutes=50)
        assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]


# kind -> the .ics it carries: METHOD, SEQUENCE, STATUS, start after now
ICS = {
    "sessions_booked": ("REQUEST", 0, "CONFIRMED", timedelta(days=2)),
    "sessions_moved": ("REQUEST", 1, "CONFIRMED", timedelta(days=2, hours=3)),
    "sessions_cancelled": ("CANCEL", 1, "CANCELLED", timedelta(days=2)),
    "sessions_reminder": ("REQUEST", 0, "CONFIRMED", timedelta(days=2)),
}


async def test_a_moved_then_cancelled_session_updates_the_same_calendar_event(
    db, redis, arq_pool, settings, clock
):
    queue = JobQueue(arq_pool, settings.queue_name)
    practice = await make_practice(settings, clock.now(), queue, card=None)
    starts = clock.now() + timedelta(days=3)
    appointment_id = await add_appointment(practice.clinician, practice.client_id, starts)
    clinician_id = practice.clinician.user.clinician_id

    def event_in(ics: bytes):
        (event,) = [
            e
            for e in Calendar.from_ical(ics).walk("VEVENT")
            if str(e["UID"]).startswith(f"appointment-{appointment_id}@")
        ]
        return event

    async def feed() -> bytes:
        await Clinician.update({Clinician.calendar_feed_enabled: True}).where(Clinician.id == clinician_id)
        async with transaction():
            url = await notices.feed_url(practice.client_id, settings=settings)
        client_id, token = url.rsplit("/", 2)[-2:]
        return await notices.feed(
            int(client_id), token.removesuffix(".ics"), settings=settings, now=clock.now()
        )

    first = event_in(await feed())
    assert first["SEQUENCE"] == 0 and first["STATUS"] == "CONFIRMED"

    await appointments.reschedule(
        appointment_id,
        clinician_id,
        starts_at=starts + timedelta(hours=2),
        minutes=50,
        allow_overlap=True,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    moved = event_in(await feed())
    assert moved["UID"] == first["UID"] and moved["SEQUENCE"] == 1
    assert moved.decoded("DTSTART") == starts + timedelta(hours=2)

    await appointments.change_status(
        appointment_id,
        "cancelled",
        clinician_id=clinician_id,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    cancelled = event_in(await feed())
    assert (
        cancelled["UID"] == first["UID"] and cancelled["SEQUENCE"] == 2 and cancelled["STATUS"] == "CANCELLED"
    )
