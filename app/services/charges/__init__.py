"""Charging (R4 in docs/rules.md): the charge after a session marked Occurred — at most once, ever.

- The status service calls ``on_status_change`` inside its transaction. Marking Occurred creates or
  re-activates the charge (generation + 1, due = now + CHARGE_DELAY) and returns a deferred job with
  an id unique to that scheduling. Changing the status away cancels a charge that has not reached
  the gateway; one that has (processing, paid) refuses the change until it is refunded.
- ``run_charge`` (the job, and the sweep) claims the charge with one conditional UPDATE (still
  scheduled, this generation, due, appointment still Occurred), commits, then talks to the gateway
  with the key stored by the claim, then records the outcome with another conditional UPDATE.
- A charge left in processing (crash, lost response, outage) is resumed only after its lease
  expired, and always from the gateway's record of the stored reference/key, never as a new charge.
- The database is the schedule; arq jobs are only a wake-up call. ``sweep`` queues the job again for
  every due charge whose job was lost, so all workers share a catch-up.

The package follows those steps: ``scheduling``, ``processing`` (the job and the sweep), ``actions``
(retry, waive, refund) and ``views`` (what screens and e-mails show); ``common`` holds the job itself.
"""

from app.services.charges.actions import refund_charge, retry_charge, retry_failed_for_user, waive_charge
from app.services.charges.common import CHARGE_JOB, STALE_JOB, charge_job
from app.services.charges.confirmation import (
    awaiting_confirmation,
    cancel_stale_payment,
    confirmation_page,
    confirmed_by_cardholder,
    remind_unconfirmed,
)
from app.services.charges.processing import (
    _claim,
    card_on_file,
    run_charge,
    settle_from_gateway,
    settle_refunds_of,
    sweep,
)
from app.services.charges.scheduling import amount_for, cancel_pending_for_client, on_status_change
from app.services.charges.views import (
    ChargeView,
    for_client_user,
    panel_for_clinician,
    receipt_for_client,
    receipt_for_clinician,
)
from app.services.errors import ChargeActionRefused, ChargeNotFound

__all__ = [
    "CHARGE_JOB",
    "STALE_JOB",
    "ChargeActionRefused",
    "ChargeNotFound",
    "ChargeView",
    "_claim",  # the tests claim a charge by hand to stand for a worker that dies after claiming
    "amount_for",
    "awaiting_confirmation",
    "cancel_pending_for_client",
    "cancel_stale_payment",
    "card_on_file",
    "charge_job",
    "confirmation_page",
    "confirmed_by_cardholder",
    "for_client_user",
    "on_status_change",
    "panel_for_clinician",
    "receipt_for_client",
    "receipt_for_clinician",
    "refund_charge",
    "remind_unconfirmed",
    "retry_charge",
    "retry_failed_for_user",
    "run_charge",
    "settle_from_gateway",
    "settle_refunds_of",
    "sweep",
    "waive_charge",
]
