"""Superbills (R15): made after the session's charge succeeds or at month end, with every field an
insurer reads, never a late-cancel or no-show fee; the readiness check; the client's choice; resend
and regenerate. PDFs are opened and read as text."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain import billing_codes
from app.domain import superbills as rules
from app.models.tables import EmailMessage, PracticeBillingDetails, Superbill
from app.services import superbills
from app.services.queue import JobQueue
from tests.billing_support import NPI, TAX_ID, fill_billing_details, paid_session, pdf_text
from tests.charging_support import fast_forward, make_practice, mark
from tests.conftest import START

NEW_YORK = ZoneInfo("America/New_York")  # the practice's zone in tests/helpers.make_clinician
THIS_MONTH = START.astimezone(NEW_YORK).date().replace(day=1)
LAST_MONTH = (THIS_MONTH - timedelta(days=1)).replace(day=1)
NEXT_MONTH = (THIS_MONTH + timedelta(days=31)).replace(day=1)


def at_ten(day: date) -> datetime:
    """10:00 in New York on ``day``."""
    return datetime(day.year, day.month, day.day, 10, tzinfo=NEW_YORK)


@pytest.fixture
def queue(arq_pool, settings):
    return JobQueue(arq_pool, settings.queue_name)


async def test_a_paid_session_gets_a_superbill_with_every_field_insurers_expect_and_no_fee_lines(
    db, redis, settings, clock, queue, run_worker
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    await fast_forward(redis, settings)
    await run_worker()  # the charge succeeds, then its job makes the superbill

    (bill,) = await Superbill.objects()
    assert bill.key == f"session:{practice.appointment_id}" and bill.line_count == 1
    text = pdf_text(bill.pdf)
    for expected in [
        "Alex Rivera",  # client name
        "04/12/1990",  # date of birth
        "98 Elm Road, Queens, NY 11375",
        "Maya Chen",  # rendering provider
        "LCSW NY-123456",
        NPI,
        TAX_ID,
        "Calm Harbor Counseling PLLC",
        "12 Harbor Street, Suite 4, Brooklyn, NY 11201",
        f"{(clock.now() - timedelta(hours=1)).astimezone(NEW_YORK):%m/%d/%Y}",  # date of service
        "11 Office",  # place of service
        "90834",  # CPT from the 50-minute length
        "F41.1",
        "Z63.0",
        "Total fees: $150.00",
        "Total paid: $150.00",
    ]:
        assert expected in text, expected
    for word in ("late", "no-show", "cancel"):
        assert word not in text.lower()
    message = await EmailMessage.objects().where(EmailMessage.kind == "superbill_ready").first()
    assert message.to_address == practice.client.email
    assert "/portal/insurance/superbills" in message.text_body

    await superbills.sweep(now=clock.now(), settings=settings)  # the lost-job sweep makes no second one
    assert await Superbill.count() == 1


@pytest.mark.dates
async def test_monthly_superbill_lists_the_months_four_paid_sessions_and_their_total_not_the_fees(
    db, redis, settings, clock, queue
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    days = [LAST_MONTH.replace(day=day) for day in (1, 8, 15, 22)]
    for day, fee in zip(days, [15000, 15000, 18000, 15000], strict=True):
        await paid_session(practice, at_ten(day), fee_minor=fee)
    await paid_session(practice, at_ten(LAST_MONTH.replace(day=3)), fee_minor=7500, status="late_cancelled")
    await paid_session(practice, at_ten(LAST_MONTH.replace(day=4)), fee_minor=7500, status="no_show")
    await paid_session(practice, at_ten(LAST_MONTH - timedelta(days=1)))  # the month before
    await superbills.choose_frequency(
        practice.client.user.id,
        practice.client_id,
        rules.MONTHLY,
        now=clock.now(),
        actor=practice.clinician_actor,
        settings=settings,
    )
    key = f"month:{practice.client_id}:{LAST_MONTH:%Y-%m}"
    bill = await Superbill.objects().where(Superbill.key == key).first()
    assert bill.line_count == 4
    assert bill.total_fee_minor == 63000 and bill.total_paid_minor == 63000
    text = pdf_text(bill.pdf)
    assert f"{LAST_MONTH:%B %Y}" in text and "Total fees: $630.00" in text
    assert all(f"{day:%m/%d/%Y}" in text for day in days)
    assert f"{LAST_MONTH.replace(day=3):%m/%d/%Y}" not in text and "$75.00" not in text

    # The month-end cron makes this month's once, just after midnight in New York, never twice.
    await paid_session(practice, at_ten(THIS_MONTH))
    just_after = datetime(NEXT_MONTH.year, NEXT_MONTH.month, 1, 0, 30, tzinfo=NEW_YORK)
    jobs = await superbills.sweep(now=just_after, settings=settings)
    assert len(jobs) == 1
    this_month = (
        await Superbill.objects()
        .where(Superbill.key == f"month:{practice.client_id}:{THIS_MONTH:%Y-%m}")
        .first()
    )
    assert this_month.line_count == 1
    assert await superbills.sweep(now=just_after + timedelta(hours=1), settings=settings) == []


async def test_the_readiness_check_blocks_a_superbill_with_a_missing_npi_and_says_so(
    db, redis, settings, clock, queue, run_worker
):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings, npi="")
    missing = await superbills.readiness(practice.client_id, settings)
    assert missing == ["Your NPI, 10 digits (Account › Billing details)"]

    await mark(practice, "occurred", clock.now(), settings, queue)
    clock.advance(seconds=settings.charge_delay)
    await fast_forward(redis, settings)
    await run_worker()
    assert await Superbill.count() == 0

    await fill_billing_details(practice, clock.now(), settings)  # the NPI is added: the sweep catches up
    assert await superbills.readiness(practice.client_id, settings) == []
    await superbills.sweep(now=clock.now(), settings=settings)
    assert await Superbill.count() == 1


async def test_the_tax_id_is_sealed_in_the_database_and_shown_masked(db, redis, settings, clock, queue):
    practice = await make_practice(settings, clock.now(), queue)
    await fill_billing_details(practice, clock.now(), settings)
    stored = await PracticeBillingDetails.select(PracticeBillingDetails.tax_id).first()
    assert stored["tax_id"].startswith("sealed1:") and "3456789" not in stored["tax_id"]
    setup = await superbills.billing_setup(practice.clinician.user, settings)
    assert setup.tax_id_masked == "•••••6789"


def test_billing_codes_default_from_kind_and_length_and_npi_check_digit():
    assert billing_codes.default_service_code("intro", 15) == "90791"
    assert billing_codes.default_service_code("regular", 30) == "90832"
    assert billing_codes.default_service_code("regular", 45) == "90834"
    assert billing_codes.default_service_code("regular", 53) == "90837"
    assert billing_codes.default_service_code("regular", 10) == ""
    assert billing_codes.valid_npi(NPI) and not billing_codes.valid_npi("1234567890")
    assert billing_codes.parse_diagnosis_codes("f411, Z63.0 X99") == (["F41.1", "Z63.0"], ["X99"])
    assert ("F41.1", "Generalized anxiety disorder") in billing_codes.search_diagnoses("generalized anxiety")
    assert billing_codes.clean_tax_id("ein", "123456789") == "12-3456789"
    assert billing_codes.clean_tax_id("ssn", "123-45-6789") == "123-45-6789"
    assert billing_codes.clean_tax_id("ein", "12345") is None
