"""Good Faith Estimates (R16): issued on time for a new self-pay series, with the client's rights and
the expected total, as PDF by email and in the portal; reissued when the fee changes; the warning
when billed amounts approach the estimate plus $400. Deadlines in business days as pure rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain import estimates as rules
from app.models.tables import AuditEvent, Charge, EmailMessage, GoodFaithEstimate
from app.services import estimates, series
from app.services.email import attachments_of
from app.services.queue import JobQueue
from app.services.series import SeriesChange, SeriesRequest
from tests.billing_support import NPI, fill_billing_details, paid_session, pdf_text
from tests.charging_support import make_practice, set_insurance


@pytest.fixture
def queue(arq_pool, settings):
    return JobQueue(arq_pool, settings.queue_name)


async def _weekly_series(practice, clock, settings, queue, *, count: int = 12) -> list[int]:
    _, ids = await series.book_series(
        practice.appointment_id,
        practice.clinician.user.clinician_id,
        SeriesRequest(clock.now() + timedelta(weeks=1), 50, 15000, interval_weeks=1, count=count),
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=queue,
    )
    return ids


@pytest.mark.dates
async def test_an_estimate_is_issued_on_time_for_a_new_weekly_series_and_reissued_when_the_fee_changes(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    ids = await _weekly_series(practice, clock, settings, queue)
    clock.advance(minutes=30)  # the next run of the worker's cron
    assert len(await estimates.sweep(now=clock.now(), settings=settings)) == 1

    (first,) = await GoodFaithEstimate.objects()
    assert first.version == 1 and first.reason == "new"
    assert first.session_count == 12 and first.total_minor == 12 * 15000
    # Booked a week ahead (3+ business days): due within 1 business day; given the same day.
    assert first.due_by == rules.add_business_days(first.scheduled_on, 1)
    assert first.issued_at.astimezone(clock.now().tzinfo).date() <= first.due_by
    message = await EmailMessage.objects().where(EmailMessage.kind == "good_faith_estimate").first()
    assert message.to_address == practice.client.email
    (attachment,) = attachments_of(message)
    text = pdf_text(attachment.content)
    assert "Alex Rivera" in text and "Expected total for 12 sessions: $1,800.00" in text
    assert "You have the right to receive a Good Faith Estimate" in text
    assert "at least $400 more than your Good Faith Estimate" in text
    assert await estimates.sweep(now=clock.now(), settings=settings) == []  # nothing changed

    await series.edit_series(
        ids[0],
        practice.clinician.user.clinician_id,
        "following",
        SeriesChange(fee_minor=16000),
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
        queue=JobQueue(None, settings.queue_name),
    )
    assert len(await estimates.sweep(now=clock.now(), settings=settings)) == 1
    latest = await GoodFaithEstimate.objects().order_by(GoodFaithEstimate.version)
    assert [e.version for e in latest] == [1, 2]
    assert latest[0].superseded_at == clock.now() and latest[1].superseded_at is None
    assert latest[1].reason == "fee_change" and latest[1].total_minor == 12 * 16000
    assert "Version 2 (the fee changed)" in pdf_text(latest[1].pdf)


async def test_insurance_clients_get_no_estimate(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await set_insurance(practice.client_id, 2500)
    await _weekly_series(practice, clock, settings, queue, count=4)
    assert await estimates.sweep(now=clock.now(), settings=settings) == []
    assert await GoodFaithEstimate.count() == 0


async def test_the_400_dollar_warning_triggers_when_the_next_session_would_reach_the_dispute_line(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    await _weekly_series(practice, clock, settings, queue, count=4)  # estimate: 4 x $150 = $600
    await estimates.sweep(now=clock.now(), settings=settings)
    standing = await estimates.standing(practice.client_id, now=clock.now())
    assert standing.estimate.total_minor == 60000 and standing.warning == ""

    # Extra billing against the estimate's period: $845 billed, the next session ($150) would reach $995.
    week = clock.now() + timedelta(days=8)
    await paid_session(practice, week, fee_minor=84500)
    assert (await estimates.standing(practice.client_id, now=clock.now())).warning == ""
    await Charge.update({Charge.amount_minor: 85000}).where(Charge.appointment.starts_at == week)
    standing = await estimates.standing(practice.client_id, now=clock.now())
    assert standing.billed_minor == 85000 and standing.next_fee_minor == 15000
    assert standing.warning == "approaching" and standing.limit_minor == 100000
    await Charge.update({Charge.amount_minor: 100000}).where(Charge.appointment.starts_at == week)
    assert (await estimates.standing(practice.client_id, now=clock.now())).warning == "over"


async def test_the_clinician_is_emailed_once_per_estimate_when_billing_nears_the_dispute_line(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    await _weekly_series(practice, clock, settings, queue, count=4)  # estimate: 4 x $150 = $600
    await estimates.sweep(now=clock.now(), settings=settings)
    assert await estimates.warn_clinician(practice.client_id, now=clock.now(), settings=settings) == []

    week = clock.now() + timedelta(days=8)
    await paid_session(practice, week, fee_minor=85000)  # the next $150 session would reach $1,000
    assert len(await estimates.warn_clinician(practice.client_id, now=clock.now(), settings=settings)) == 1
    (message,) = await EmailMessage.objects().where(EmailMessage.kind == "estimate_warning")
    assert message.to_address == practice.clinician.email
    assert "Alex Rivera" in message.subject
    assert "$850.00" in message.text_body and "$600.00 plus $400 ($1,000.00)" in message.text_body
    assert await AuditEvent.count().where(AuditEvent.action == "estimate_warning_sent") == 1

    await Charge.update({Charge.amount_minor: 100000}).where(Charge.appointment.starts_at == week)
    assert await estimates.warn_clinician(practice.client_id, now=clock.now(), settings=settings) == []
    assert await EmailMessage.count().where(EmailMessage.kind == "estimate_warning") == 1


async def test_an_estimate_waits_for_the_providers_details_and_says_what_is_missing(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings, npi="")
    await _weekly_series(practice, clock, settings, queue, count=4)
    assert await estimates.readiness(practice.client_id, settings) == [
        "Your NPI, 10 digits (Account › Billing details)"
    ]
    assert await estimates.sweep(now=clock.now(), settings=settings) == []
    assert await GoodFaithEstimate.count() == 0

    await fill_billing_details(practice, clock.now(), settings)  # the NPI is added: the sweep catches up
    assert await estimates.readiness(practice.client_id, settings) == []
    assert len(await estimates.sweep(now=clock.now(), settings=settings)) == 1
    (estimate,) = await GoodFaithEstimate.objects()
    assert NPI in pdf_text(estimate.pdf)


def test_deadlines_count_business_days():
    friday, monday = date(2026, 12, 4), date(2026, 12, 7)
    assert rules.add_business_days(friday, 1) == monday
    assert rules.business_days_between(friday, monday) == 1
    # 3 business days ahead: within 1 business day; 10 or more: within 3; closer: at once.
    assert rules.due_by(friday, friday + timedelta(days=5)) == monday  # Wed: 3 business days
    assert rules.due_by(friday, friday + timedelta(days=14)) == date(2026, 12, 9)
    assert rules.due_by(friday, monday) is None
    assert rules.due_by(friday, monday, requested=True) == date(2026, 12, 9)


def test_warning_thresholds():
    assert rules.warning(60000, 84999, 15000) == ""
    assert rules.warning(60000, 85000, 15000) == "approaching"
    assert rules.warning(60000, 99999) == ""
    assert rules.warning(60000, 100000) == "over"


def test_federal_holidays_are_not_business_days():
    thanksgiving = date(2026, 11, 26)
    assert not rules.is_business_day(thanksgiving)
    assert rules.add_business_days(date(2026, 11, 25), 1) == date(2026, 11, 27)
    assert rules.business_days_between(date(2026, 11, 25), date(2026, 11, 30)) == 2
    # New Year's Day 2027 is a Friday: a request on New Year's Eve is due the next Wednesday.
    new_years_eve = date(2026, 12, 31)
    assert rules.add_business_days(new_years_eve, 1) == date(2027, 1, 4)
    assert rules.due_by(new_years_eve, date(2027, 1, 2), requested=True) == date(2027, 1, 6)
    # Christmas falls on a Friday: that week has four business days.
    assert rules.business_days_between(date(2026, 12, 20), date(2026, 12, 27)) == 4
