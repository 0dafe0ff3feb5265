"""Reconciliation against the local Stripe stub: ``python -m app reconcile`` (a real process) and the
worker's nightly job compare Stripe's PaymentIntents with our charges by the charge id in their metadata.
A worker killed between Stripe's success and our record is repaired, never charged twice; a difference
that is not safe to repair is printed, flagged in the audit log and left to a person."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.domain import charges as rules
from app.domain.statuses import ChargeStatus as C
from app.models.tables import AuditEvent, Charge
from app.payments.base import GatewayUnavailable
from app.services import charges
from app.services.queue import JobQueue
from tests import test_stripe_webhooks as webhook_tests
from tests.charging_support import the_charge
from tests.conftest import DATABASE_URL, ROOT
from tests.test_stripe_webhooks import charged_practice, gateway

stub = webhook_tests.stub  # the local Stripe stub, and settings that point the app and workers at it
settings = webhook_tests.settings


def reconcile_command(stub, settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": settings.redis_url,
        "PAYMENT_GATEWAY": "stripe",
        "STRIPE_API_KEY": "sk_test_stub",
        "STRIPE_API_BASE": stub.url,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_stub",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", "reconcile", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def killed_after_stripe_took_the_money(stub, settings, clock):
    """Stripe charged the card; the worker never heard back (its lease then runs out)."""
    practice, queue = await charged_practice(stub, settings, clock)
    charge = await the_charge(practice.appointment_id)
    stub.lose_next.append("/confirm")
    with pytest.raises(GatewayUnavailable):
        await charges.run_charge(
            charge.id,
            charge.generation,
            now=clock.now(),
            settings=settings,
            gateway=gateway(stub),
            queue=queue,
        )
    assert (await the_charge(practice.appointment_id)).status == C.PROCESSING and stub.charges() == 1
    return practice


async def test_reconcile_repairs_a_payment_we_never_recorded_and_flags_what_is_not_safe(
    db, redis, settings, clock, stub
):
    practice = await killed_after_stripe_took_the_money(stub, settings, clock)
    done = reconcile_command(stub, settings, "--since", "2020-01-01")
    assert done.returncode == 0, done.stderr
    assert "repaired: pi_" in done.stdout and "Stripe succeeded, ours processing" in done.stdout
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.SUCCEEDED and stub.charges() == 1
    assert await AuditEvent.count().where(AuditEvent.action == "reconcile_repaired") == 1

    again = reconcile_command(stub, settings)
    assert again.returncode == 0 and "0 difference(s)" in again.stdout

    await Charge.update({Charge.status: C.FAILED}).where(Charge.id == charge.id)  # planted drift
    flagged = reconcile_command(stub, settings)
    assert flagged.returncode == 1 and "flagged: pi_" in flagged.stdout and "ours failed" in flagged.stdout
    assert (await the_charge(practice.appointment_id)).status == C.FAILED, "a person decides, not the tool"
    assert await AuditEvent.count().where(AuditEvent.action == "reconcile_flagged") == 1
    assert stub.charges() == 1


async def test_the_nightly_job_repairs_a_killed_worker_and_the_charge_job_then_does_nothing(
    db, redis, settings, clock, stub
):
    from workers.reconcile import reconcile_nightly

    practice = await killed_after_stripe_took_the_money(stub, settings, clock)
    ctx = {"settings": settings, "clock": clock, "redis": None, "gateway": gateway(stub)}
    assert await reconcile_nightly(ctx) == 1
    charge = await the_charge(practice.appointment_id)
    assert charge.status == C.SUCCEEDED
    outcome = await charges.sweep(
        now=clock.now(), settings=settings, gateway=gateway(stub), queue=JobQueue(None, settings.queue_name)
    )
    assert outcome["resumed"] == 0 and stub.charges() == 1
    assert await reconcile_nightly(ctx) == 0


def test_what_reconciliation_may_repair():
    act = rules.reconcile_action
    assert act(C.PROCESSING, True, "succeeded") == "repair"
    assert act(C.REQUIRES_ACTION, True, "succeeded") == "repair"
    assert act(C.SUCCEEDED, True, "succeeded") == act(C.REFUNDED, True, "succeeded") == "ok"
    assert act(C.FAILED, True, "succeeded") == act(C.WAIVED, True, "succeeded") == "flag"
    assert act(C.PROCESSING, False, "succeeded") == act(None, False, "succeeded") == "flag"
    assert act(C.SUCCEEDED, True, "failed") == "flag"
    assert act(C.FAILED, True, "failed") == act(C.PROCESSING, True, "pending") == "ok"
