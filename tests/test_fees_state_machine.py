"""The charging state machine again, with a fee policy the client agreed to: status changes now include
Late cancelled and No-show (which owe fees), and clinicians also refund.

Invariants after every step, for every appointment: one charge row at most; the processor took money at
most once; a charge that is processing or paid is of the kind the appointment's status owes (a session
charge for Occurred, a late-cancel fee for Late cancelled, a no-show fee for No-show); every charge status
change follows TRANSITIONS (inherited).
"""

from __future__ import annotations

import contextlib
import uuid

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from app.domain import fees as fee_rules
from app.domain.statuses import ChargeStatus as C
from app.models.db import transaction
from app.models.tables import Appointment, Charge, Clinician, Practice, SandboxPayment
from app.payments.sandbox import SandboxGateway
from app.services import charges, fees
from app.services.appointments import StatusChangeRefused
from app.services.context import Actor
from tests.charging_support import mark
from tests.test_charging_state_machine import APPOINTMENT, SETTINGS, ChargingMachine

STATUSES = st.sampled_from(["occurred", "late_cancelled", "no_show", "scheduled", "cancelled"])


class FeeChargingMachine(ChargingMachine):
    @initialize()
    def practice(self) -> None:
        super().practice()

        async def policy_agreed():
            clinician = await Clinician.objects().where(
                Clinician.id == self.practice.clinician.user.clinician_id
            )
            practice_id = clinician[0].practice
            await Practice.update(
                {Practice.late_cancel_fee_minor: 7500, Practice.no_show_fee_percent: 50}
            ).where(Practice.id == practice_id)
            practice = await Practice.objects().where(Practice.id == practice_id).first()
            async with transaction():
                await fees.record_agreement(
                    self.practice.client_id,
                    practice,
                    now=self.clock.now(),
                    address="203.0.113.9",
                    via="invitation",
                    actor=Actor(user_id=self.practice.client.user.id, role="client"),
                )

        self.run(policy_agreed())

    @rule(index=APPOINTMENT, status=STATUSES)
    def change_status(self, index: int, status: str) -> None:
        with contextlib.suppress(StatusChangeRefused):
            self.run(mark(self._on(index), status, self.clock.now(), SETTINGS, self.queue))

    @rule(index=APPOINTMENT, whole=st.booleans())
    def clinician_refunds(self, index: int, whole: bool) -> None:
        charge = self.run(self._charge(index))
        if charge is None or charge.status not in (C.SUCCEEDED, C.PARTIALLY_REFUNDED):
            return
        left = charge.amount_minor - charge.refunded_minor
        with contextlib.suppress(charges.ChargeActionRefused, charges.ChargeNotFound):
            self.run(
                charges.refund_charge(
                    self.appointments[index],
                    left if whole else max(1, left // 2),
                    uuid.uuid4().hex,
                    clinician_id=self.practice.clinician.user.clinician_id,
                    now=self.clock.now(),
                    actor=self.practice.clinician_actor,
                    gateway=SandboxGateway(),
                )
            )

    @invariant()
    def at_most_one_charge_and_only_for_occurred_sessions(self) -> None:
        """Replaces the session-only check: paid or processing means of the kind the status owes."""

        async def check():
            for appointment_id in getattr(self, "appointments", []):
                rows = await Charge.objects().where(Charge.appointment == appointment_id)
                assert len(rows) <= 1
                if not rows:
                    continue
                charge = rows[0]
                taken = await SandboxPayment.count().where(
                    (SandboxPayment.kind == "payment")
                    & (SandboxPayment.status == "succeeded")
                    & SandboxPayment.idempotency_key.like(f"charge:{charge.id}:%")
                )
                assert taken <= 1, f"charged {taken} times"
                appointment = await Appointment.objects().where(Appointment.id == appointment_id).first()
                if charge.status in (C.PROCESSING, C.SUCCEEDED):
                    owed = fee_rules.kind_for_status(appointment.status)
                    assert charge.kind == owed, (charge.kind, charge.status, appointment.status)

        self.run(check())


FeeChargingMachine.TestCase.settings = ChargingMachine.TestCase.settings
test_fee_charging_state_machine = FeeChargingMachine.TestCase
