"""Tables for the whole domain.

Conventions:
(Rule numbers are the sections of docs/rules.md.)
- money is an integer amount in minor units plus a three-letter currency code (R10);
- every timestamp is a ``Timestamptz`` in UTC (R9);
- e-mail addresses are stored lower-cased, so ``unique=True`` means unique regardless of case;
- composite unique indexes are created by raw SQL in migrations (Piccolo's ``Unique`` constraint
  DDL does not run on SQLite); see ``COMPOSITE_UNIQUE_INDEXES``;
- status and kind columns hold the string values defined in ``app.domain``.
"""

from piccolo.columns import (
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class User(Table, tablename="app_user"):
    """A person who can sign in. ``role`` is the door they use (R1): ``clinician`` for a member of a
    practice (whatever their role in it, see ``Membership``), ``client`` for the portal."""

    email = Varchar(length=254, unique=True)
    name = Varchar(length=200, default="")
    role = Varchar(length=16, index=True)
    password_hash = Varchar(length=255, null=True, default=None)
    password_changed_at = Timestamptz(null=True, default=None)
    time_zone = Varchar(length=64, default="UTC")
    phone = Varchar(length=40, default="")
    is_active = Boolean(default=True)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    totp_secret = Varchar(length=200, null=True, default=None)
    totp_enabled_at = Timestamptz(null=True, default=None)
    totp_last_step = Integer(null=True, default=None)


class Practice(Table):
    """A practice (R12): one or more clinicians under one name, booking page and set of policies.

    A solo clinician is a practice of one. Its settings are one record, here: the owner changes them
    and every colleague's seat follows (``Clinician`` still mirrors them for the code that reads them
    there; ``app.services.practices.keep_practice_in_step`` keeps the mirror).
    """

    name = Varchar(length=200)
    booking_slug = Varchar(length=80, unique=True)
    time_zone = Varchar(length=64, default="UTC")
    currency = Varchar(length=3, default="USD")
    insurance_email = Varchar(length=254, default="")
    booking_enabled = Boolean(default=True)
    new_clients_may_book = Boolean(default=True)
    min_notice_hours = Integer(default=24)
    horizon_days = Integer(default=60)
    intro_session_minutes = Integer(default=15)
    intro_fee_minor = Integer(default=0)
    cancellation_window_hours = Integer(default=48)
    max_fee_minor = Integer(default=200000)
    require_two_factor = Boolean(default=False)
    reminder_hours = Varchar(length=40, default="48, 2")  # hours before a session; blank: no reminders
    # the fee policy (R4): each fee an amount or, when the percent is set, a share of the session fee
    late_cancel_fee_minor = Integer(default=0)
    late_cancel_fee_percent = Integer(null=True, default=None)
    no_show_fee_minor = Integer(default=0)
    no_show_fee_percent = Integer(null=True, default=None)
    free_late_cancels = Integer(default=0)
    fee_policy_note = Text(default="")  # the owner's own words, part of the text clients agree to
    fee_free_reschedule = Boolean(default=True)  # a late canceller may move to a same-week slot instead
    created_at = Timestamptz()


class Clinician(Table):
    """A therapist's seat in a practice: their hours, fees, buffers and personal booking page.

    A person holds at most one seat (``user`` stays unique: SQLite can't drop a column constraint
    without rebuilding the table); in another practice they may be its owner or front desk."""

    user = ForeignKey(references=User, null=False, unique=True)
    practice = ForeignKey(references=Practice, null=True, index=True)
    practice_name = Varchar(length=200)
    time_zone = Varchar(length=64, default="UTC")
    currency = Varchar(length=3, default="USD")
    default_fee_minor = Integer(default=15000)
    default_session_minutes = Integer(default=50)
    insurance_email = Varchar(length=254, default="")
    licence_type = Varchar(length=120, default="")
    booking_slug = Varchar(length=80, unique=True)
    booking_enabled = Boolean(default=True)
    new_clients_may_book = Boolean(default=True)
    buffer_minutes = Integer(default=10)
    min_notice_hours = Integer(default=24)
    horizon_days = Integer(default=60)
    intro_session_minutes = Integer(default=15)
    intro_fee_minor = Integer(default=0)
    cancellation_window_hours = Integer(default=48)
    max_fee_minor = Integer(default=200000)
    require_two_factor = Boolean(default=False)
    calendar_feed_enabled = Boolean(default=False)
    reminder_hours = Varchar(length=40, default="48, 2")  # hours before a session; blank: no reminders
    video_link = Varchar(length=500, default="")  # the practice's video room, shown at check-in
    evening_summary = Boolean(default=True)  # an email each evening: tomorrow's sessions and charges
    created_at = Timestamptz()


class Membership(Table):
    """A person's place in a practice: owner, clinician or front desk (``app.domain.practices.MemberRole``).

    Invited until ``accepted_at``; removed from ``removed_at`` on (the row stays, for the history).
    An owner or clinician has a ``clinician`` seat in this practice; a front-desk member has none.
    """

    practice = ForeignKey(references=Practice, null=False, index=True)
    user = ForeignKey(references=User, null=False, index=True)
    role = Varchar(length=16)
    clinician = ForeignKey(references=Clinician, null=True, on_delete=OnDelete.set_null)
    invited_at = Timestamptz()
    invited_by = Integer(null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)
    removed_at = Timestamptz(null=True, default=None)
    removed_by = Integer(null=True, default=None)


class WorkingHours(Table):
    """One bookable range on a weekday (0 = Monday), in minutes from local midnight."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    weekday = Integer()
    start_minute = Integer()
    end_minute = Integer()


class Client(Table):
    """A practice's client record, with its assigned clinician (``clinician``); linked to a client
    ``User`` once an account exists. One record per address per practice."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    practice = ForeignKey(references=Practice, null=True, index=True)
    user = ForeignKey(references=User, null=True, index=True, on_delete=OnDelete.set_null)
    name = Varchar(length=200)
    email = Varchar(length=254, index=True)
    phone = Varchar(length=40, default="")
    billing_type = Varchar(length=16, default="self_pay")
    coverage_status = Varchar(length=32, default="not_discussed")
    coverage_note = Text(default="")
    coverage_updated_at = Timestamptz(null=True, default=None)
    coverage_updated_by = Integer(null=True, default=None)
    internal_note = Text(default="")
    archived_at = Timestamptz(null=True, default=None)
    calendar_feed_key = Varchar(length=64, default="")
    date_of_birth = Date(null=True, default=None)
    reminders_off = Boolean(default=False)  # the client asked for no session reminders
    texts_opt_in_at = Timestamptz(null=True, default=None)  # when they agreed to texts; None: no texts
    texts_consent = Varchar(length=255, default="")  # the wording they agreed to
    # why no late-cancel or no-show fee is ever charged to this client (a plan that forbids them); "" = none
    fee_exemption = Varchar(length=200, default="")
    created_at = Timestamptz()


class ClientAssignment(Table):
    """Who a client was assigned to and when: the open row (``ended_at`` empty) is the current one."""

    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    assigned_by = Integer(null=True, default=None)


class ClientShare(Table):
    """A client shared with a colleague in the same practice, who may then see them (R12)."""

    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
    shared_at = Timestamptz()
    shared_by = Integer(null=True, default=None)


class InsurancePolicy(Table):
    """A client's insurance details (R6) and their answers to the coverage self-check."""

    client = ForeignKey(references=Client, null=False, unique=True)
    payer = Varchar(length=200, default="")
    member_id = Varchar(length=80, default="")
    group_number = Varchar(length=80, default="")
    subscriber_name = Varchar(length=200, default="")
    subscriber_relationship = Varchar(length=32, default="self")
    copay_minor = Integer(null=True, default=None)
    plan_notes = Text(default="")
    self_check = Text(default="")
    self_check_updated_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
    updated_by = Integer(null=True, default=None)


class InsuranceChange(Table):
    """History of who changed which insurance field, from what, to what."""

    client = ForeignKey(references=Client, null=False, index=True)
    changed_by = Integer(null=True, default=None)
    changed_at = Timestamptz()
    field = Varchar(length=64)
    old_value = Text(default="")
    new_value = Text(default="")


class AppointmentSeries(Table):
    """The rule behind a recurring series; each occurrence is its own appointment (R5)."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    client = ForeignKey(references=Client, null=False, index=True)
    interval_weeks = Integer(default=1)
    occurrences = Integer(default=6)
    local_start_time = Varchar(length=5)
    time_zone = Varchar(length=64)
    duration_minutes = Integer()
    fee_minor = Integer()
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)


class Appointment(Table):
    """One session at a time, with its own status and (at most one) charge."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    client = ForeignKey(references=Client, null=False, index=True)
    series = ForeignKey(references=AppointmentSeries, null=True, on_delete=OnDelete.set_null)
    series_index = Integer(null=True, default=None)
    changed_from_series = Boolean(default=False)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz(index=True)
    duration_minutes = Integer()
    fee_minor = Integer()
    currency = Varchar(length=3, default="USD")
    kind = Varchar(length=16, default="regular")
    status = Varchar(length=20, default="scheduled", index=True)
    status_changed_at = Timestamptz(null=True, default=None)
    booked_via = Varchar(length=16, default="clinician")
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)
    sequence = Integer(default=0)  # iCalendar SEQUENCE: one more at each move or cancellation
    service_code = Varchar(length=8, default="")  # CPT; empty: the default from kind and length
    place_of_service = Varchar(length=2, default="")  # empty: the practice's usual place
    confirmed_at = Timestamptz(null=True, default=None)  # the client confirmed from a reminder's link
    checked_in_at = Timestamptz(null=True, default=None)  # the client checked in on the day (R3)


class StatusChange(Table):
    """The status history of an appointment: who, from, to, when (R3)."""

    appointment = ForeignKey(references=Appointment, null=False, index=True)
    from_status = Varchar(length=20)
    to_status = Varchar(length=20)
    changed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    changed_at = Timestamptz()


class PaymentMethod(Table):
    """A saved card: only the gateway's references, brand, last four and expiry are kept."""

    user = ForeignKey(references=User, null=False, index=True)
    gateway = Varchar(length=16)
    customer_ref = Varchar(length=120, default="")
    method_ref = Varchar(length=120)
    brand = Varchar(length=20)
    last4 = Varchar(length=4)
    exp_month = Integer()
    exp_year = Integer()
    created_at = Timestamptz()
    removed_at = Timestamptz(null=True, default=None)
    # The client's authorisation to charge it later: the text's version, when and from which address.
    authorisation_version = Varchar(length=20, default="")
    authorised_at = Timestamptz(null=True, default=None)
    authorised_ip = Varchar(length=45, default="")
    # When the client was warned this card is about to expire (cleared when the bank sends a new expiry).
    expiry_warned_at = Timestamptz(null=True, default=None)


class Charge(Table):
    """The one charge of an appointment (unique per appointment; R4).

    ``generation`` increases each time the appointment is (re)marked Occurred, so a job
    scheduled for an earlier marking can recognise itself as stale.
    """

    appointment = ForeignKey(references=Appointment, null=False, unique=True)
    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
    kind = Varchar(length=20, default="session", index=True)
    amount_minor = Integer()
    currency = Varchar(length=3, default="USD")
    status = Varchar(length=20, default="scheduled", index=True)
    due_at = Timestamptz(index=True)
    generation = Integer(default=1)
    attempt_no = Integer(default=0)
    idempotency_key = Varchar(length=120, null=True, default=None)
    gateway_reference = Varchar(length=120, null=True, default=None)
    payment_method = ForeignKey(references=PaymentMethod, null=True, on_delete=OnDelete.set_null)
    failure_code = Varchar(length=64, default="")
    failure_message = Varchar(length=255, default="")
    processing_started_at = Timestamptz(null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    succeeded_at = Timestamptz(null=True, default=None)
    # when the client was reminded to confirm the payment with their bank (3-D Secure), once
    confirmation_reminded_at = Timestamptz(null=True, default=None)
    refunded_minor = Integer(default=0)
    waived_by = Integer(null=True, default=None)
    waived_at = Timestamptz(null=True, default=None)
    waive_reason = Varchar(length=200, default="")  # why a fee was waived (R4)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class FeeAgreement(Table):
    """A client's agreement to a version of the practice's fee policy: the words seen, when, from where."""

    client = ForeignKey(references=Client, null=False, index=True)
    practice = ForeignKey(references=Practice, null=False, index=True)
    version = Varchar(length=16)
    text = Text()
    agreed_at = Timestamptz()
    address = Varchar(length=64, default="")
    via = Varchar(length=20, default="")


class Refund(Table):
    """A full or partial refund of a succeeded charge, with its own idempotency key."""

    charge = ForeignKey(references=Charge, null=False, index=True)
    amount_minor = Integer()
    idempotency_key = Varchar(length=120, unique=True)
    status = Varchar(length=20, default="pending")
    gateway_reference = Varchar(length=120, null=True, default=None)
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)


class Dispute(Table):
    """A cardholder's dispute of a paid charge (Stripe's ``charge.dispute.*``), kept by Stripe's id.

    While one of a client's disputes has no ``charging_resumed_at``, that client is not charged
    automatically; the practice owner resumes it (audited)."""

    charge = ForeignKey(references=Charge, null=False, index=True)
    client = ForeignKey(references=Client, null=False, index=True)
    gateway_reference = Varchar(length=120, unique=True)
    amount_minor = Integer()
    currency = Varchar(length=3, default="USD")
    reason = Varchar(length=64, default="")
    status = Varchar(length=32, default="")
    respond_by = Timestamptz(null=True, default=None)
    opened_at = Timestamptz()
    updated_at = Timestamptz()
    charging_resumed_at = Timestamptz(null=True, default=None)
    charging_resumed_by = Integer(null=True, default=None)


class StripeEvent(Table):
    """A webhook event from Stripe, stored once by its id when it arrives and processed by a job."""

    event_id = Varchar(length=255, unique=True)
    kind = Varchar(length=100)
    account = Varchar(length=255, default="")  # the connected account it concerns, if any
    payload = Text()
    received_at = Timestamptz()
    processed_at = Timestamptz(null=True, default=None, index=True)
    outcome = Varchar(length=100, default="")


class SandboxPayment(Table):
    """The sandbox gateway's own records (test mode only): payments, confirmations, refunds, customers.

    Kept in the database so every process sees the same card processor and a repeated idempotency
    key gets the stored answer, across restarts. Holds no card data, only test behaviour codes.
    """

    idempotency_key = Varchar(length=160, unique=True)
    kind = Varchar(length=16)
    reference = Varchar(length=120, index=True)
    amount_minor = Integer(default=0)
    currency = Varchar(length=3, default="USD")
    method_ref = Varchar(length=120, default="")
    status = Varchar(length=20, default="pending")
    failure_code = Varchar(length=64, default="")
    created_at = Timestamptz()


class AccountToken(Table):
    """A one-time link (invitation or password reset). Only the SHA-256 of the token is stored."""

    user = ForeignKey(references=User, null=False, index=True)
    purpose = Varchar(length=16)
    token_hash = Varchar(length=64, unique=True)
    client = ForeignKey(references=Client, null=True, on_delete=OnDelete.set_null)
    membership = ForeignKey(references=Membership, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    opened_at = Timestamptz(null=True, default=None)
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_by = Integer(null=True, default=None)


class ChecklistItem(Table):
    """The recorded part of the first-meeting checklist (R7); derived items are not stored."""

    client = ForeignKey(references=Client, null=False, index=True)
    item = Varchar(length=32)
    not_applicable = Boolean(default=False)
    reason = Text(default="")
    recorded_by = Integer(null=True, default=None)
    recorded_at = Timestamptz()


class EmailMessage(Table):
    """The outbox: written in the same transaction as the action that causes the e-mail."""

    to_address = Varchar(length=254, index=True)
    subject = Varchar(length=255)
    text_body = Text()
    html_body = Text(default="")
    kind = Varchar(length=32, default="")
    attachments = Text(default="")
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Varchar(length=255, default="")
    reply_to = Varchar(length=254, default="")
    suppressed_at = Timestamptz(null=True, default=None)  # not sent: the address bounces
    message_id = Varchar(length=255, default="")  # made when queued, so every attempt sends the same one


class Reminder(Table):
    """A session reminder written to the outbox: at most one per (appointment, hours before, start
    time), by a composite unique index, so a moved session is reminded again for its new time only."""

    appointment = ForeignKey(references=Appointment, null=False, index=True)
    hours_before = Integer()
    starts_at = Timestamptz()
    email_message = ForeignKey(references=EmailMessage, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class TextMessage(Table):
    """A text to a client (a session reminder), sent by the text sweep from ``send_after`` (quiet hours
    push it to the morning). At most one per reminder (unique); ``status``: queued, sending, sent,
    failed or stopped (the client replied STOP, or opted out, before it went)."""

    reminder = ForeignKey(references=Reminder, null=True, unique=True, on_delete=OnDelete.set_null)
    client = ForeignKey(references=Client, null=False, index=True)
    phone = Varchar(length=40)  # where it goes
    body = Varchar(length=160)
    status = Varchar(length=12, default="queued", index=True)
    send_after = Timestamptz(index=True)
    provider_id = Varchar(length=64, default="")
    error = Varchar(length=255, default="")
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class EveningSummary(Table):
    """The clinician's evening summary of one day (their local date): at most one, by a composite unique
    index, so two sweeps or a retried one send it once."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    day = Date()
    email_message = ForeignKey(references=EmailMessage, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class UndeliverableAddress(Table):
    """An address that hard-bounced or complained (from the provider's webhook): no email goes to it."""

    address = Varchar(length=254, unique=True)
    reason = Varchar(length=16)
    detail = Varchar(length=255, default="")
    recorded_at = Timestamptz()


class RecoveryCode(Table):
    """A single-use two-factor recovery code. ``prefix`` (the first group) finds the row; the whole
    code is kept only as an argon2 hash."""

    user = ForeignKey(references=User, null=False, index=True)
    prefix = Varchar(length=8)
    code_hash = Varchar(length=255)
    created_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class AuditEvent(Table):
    """Append-only record of sensitive actions: who, what, which record, when, outcome. No clinical text."""

    at = Timestamptz(index=True)
    actor_id = Integer(null=True, default=None, index=True)
    actor_role = Varchar(length=16, default="")
    action = Varchar(length=64, index=True)
    object_type = Varchar(length=32, default="")
    object_id = Integer(null=True, default=None)
    client_id = Integer(null=True, default=None, index=True)
    clinician_id = Integer(null=True, default=None, index=True)
    practice_id = Integer(null=True, default=None, index=True)
    outcome = Varchar(length=16, default="success")
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")
    detail = Varchar(length=255, default="")


class ImportBatch(Table):
    """One file brought in from another system (R13): what it is, how far it got, and whether it
    was undone. The file's text is kept until the import finishes, so a restarted worker carries on."""

    practice = ForeignKey(references=Practice, null=False, index=True)
    kind = Varchar(length=16)  # clients or sessions
    status = Varchar(length=16, default="queued", index=True)  # queued, running, done, failed, undone
    file_name = Varchar(length=200, default="")
    content = Text(default="")
    mapping = Text(default="")  # JSON: field -> column heading (clients); decisions (sessions)
    on_existing = Varchar(length=8, default="skip")  # skip or update a client matched by email
    total_rows = Integer(default=0)
    done_rows = Integer(default=0)
    created_count = Integer(default=0)
    updated_count = Integer(default=0)
    skipped_count = Integer(default=0)
    error = Varchar(length=255, default="")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    heartbeat_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    invited_at = Timestamptz(null=True, default=None)
    undone_at = Timestamptz(null=True, default=None)


class ImportedRecord(Table):
    """A record an import made or changed, so the batch can be undone; ``previous`` holds the changed
    client's earlier values (JSON) when the import updated rather than created it."""

    batch = ForeignKey(references=ImportBatch, null=False, index=True)
    row_number = Integer(default=0)
    action = Varchar(length=8)  # created or updated (a client), booked (a session)
    client = ForeignKey(references=Client, null=True, index=True, on_delete=OnDelete.set_null)
    user_created = Integer(null=True, default=None)  # the login made for a new client
    appointment = ForeignKey(references=Appointment, null=True, index=True, on_delete=OnDelete.set_null)
    series = ForeignKey(references=AppointmentSeries, null=True, on_delete=OnDelete.set_null)
    previous = Text(default="")


class ProviderDetails(Table):
    """A clinician's own billing identity for superbills (R15): licence number and individual NPI."""

    clinician = ForeignKey(references=Clinician, null=False, unique=True)
    licence_number = Varchar(length=60, default="")
    npi = Varchar(length=10, default="")
    updated_at = Timestamptz()


class PracticeBillingDetails(Table):
    """The practice as insurers know it (R15). ``tax_id`` (EIN or SSN) is sealed (``sealing``)."""

    practice = ForeignKey(references=Practice, null=False, unique=True)
    legal_name = Varchar(length=200, default="")
    tax_id_kind = Varchar(length=3, default="ein")
    tax_id = Varchar(length=300, default="")
    group_npi = Varchar(length=10, default="")
    address = Text(default="")
    phone = Varchar(length=40, default="")
    place_of_service = Varchar(length=2, default="11")
    updated_at = Timestamptz()


class ServiceFee(Table):
    """A practice's default fee for a service type (CPT code, R15): a session given that code while
    still scheduled takes this fee."""

    practice = ForeignKey(references=Practice, null=False, index=True)
    service_code = Varchar(length=8)
    fee_minor = Integer()
    updated_at = Timestamptz()


class ClientBillingDetails(Table):
    """What a superbill needs about the client (R15): birth date, address, diagnosis codes (ICD-10,
    primary first) with the client's consent to share them, and how often they want superbills.
    ``estimate_requested_at``: a self-pay client asked for a Good Faith Estimate not yet issued."""

    client = ForeignKey(references=Client, null=False, unique=True)
    date_of_birth = Date(null=True, default=None)
    address = Text(default="")
    diagnosis_codes = Varchar(length=200, default="")
    diagnosis_consent_at = Timestamptz(null=True, default=None)
    superbill_frequency = Varchar(length=16, default="per_session")
    estimate_requested_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class Superbill(Table):
    """An issued superbill PDF, for one session or one month. ``key`` makes issuing idempotent:
    ``session:<appointment id>`` or ``month:<client id>:<YYYY-MM>``."""

    key = Varchar(length=60, unique=True)
    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
    period = Varchar(length=40)
    line_count = Integer(default=0)
    total_fee_minor = Integer(default=0)
    total_paid_minor = Integer(default=0)
    currency = Varchar(length=3, default="USD")
    pdf = Bytea()
    issued_at = Timestamptz()
    regenerated_at = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)


class GoodFaithEstimate(Table):
    """A Good Faith Estimate given to a self-pay client (R16). A new version replaces the last one
    (``superseded_at``) when the fee or plan changes; ``plan`` is what it was made from. ``warned_at``:
    when the clinician was emailed that billing nears the estimate plus $400 (once per estimate)."""

    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
    version = Integer(default=1)
    reason = Varchar(length=32, default="new")
    plan = Text(default="")
    session_count = Integer(default=0)
    total_minor = Integer(default=0)
    currency = Varchar(length=3, default="USD")
    first_session_on = Date()
    last_session_on = Date()
    scheduled_on = Date()
    due_by = Date(null=True, default=None)
    issued_at = Timestamptz()
    superseded_at = Timestamptz(null=True, default=None)
    warned_at = Timestamptz(null=True, default=None)
    pdf = Bytea()


class PracticeDocument(Table):
    """A document the practice asks its clients to sign (consent, privacy notice, policies). Its text
    lives in ``DocumentVersion`` rows. ``clinician`` is the one link to the practice (its owner until
    practices have their own table)."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    title = Varchar(length=200)
    template = Varchar(length=32, default="")  # the starter template it began from, if any
    retired_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class DocumentVersion(Table):
    """One published text of a practice document. Never changed once published (the database refuses
    UPDATE and DELETE); an edit publishes the next number (R14)."""

    document = ForeignKey(references=PracticeDocument, null=False, index=True)
    number = Integer()
    title = Varchar(length=200)
    body = Text()
    text_hash = Varchar(length=64)
    needs_new_signature = Boolean(default=True)
    published_at = Timestamptz()
    published_by = Integer(null=True, default=None)


class DocumentSignature(Table):
    """A client's signature of one document version: the typed name, "I agree", when, from where and
    the hash of the exact text signed. Append-only; one per client and version (R14)."""

    client = ForeignKey(references=Client, null=False, index=True)
    document = ForeignKey(references=PracticeDocument, null=False, index=True)
    version = ForeignKey(references=DocumentVersion, null=False, index=True)
    signed_name = Varchar(length=200)
    agreed = Boolean(default=True)
    text_hash = Varchar(length=64)
    signed_at = Timestamptz()
    signed_by = Integer(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")


class IntakeQuestion(Table):
    """A question the practice adds to the standard intake questionnaire."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    label = Varchar(length=200)
    kind = Varchar(length=16, default="short")
    required = Boolean(default=False)
    retired_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class IntakeResponse(Table):
    """A client's submitted intake questionnaire, confirmed like a signature. ``answers`` is JSON of the
    questions as shown and the answers as given. Append-only: answering again adds a row (R14)."""

    client = ForeignKey(references=Client, null=False, index=True)
    answers = Text()
    text_hash = Varchar(length=64)
    signed_name = Varchar(length=200)
    submitted_at = Timestamptz()
    submitted_by = Integer(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")


ALL_TABLES: list[type[Table]] = [
    User,
    Practice,
    Clinician,
    Membership,
    WorkingHours,
    Client,
    ClientAssignment,
    ClientShare,
    InsurancePolicy,
    InsuranceChange,
    AppointmentSeries,
    Appointment,
    StatusChange,
    PaymentMethod,
    Charge,
    FeeAgreement,
    Refund,
    SandboxPayment,
    Dispute,
    StripeEvent,
    AccountToken,
    ChecklistItem,
    EmailMessage,
    Reminder,
    EveningSummary,
    TextMessage,
    UndeliverableAddress,
    RecoveryCode,
    AuditEvent,
    ImportBatch,
    ImportedRecord,
    ProviderDetails,
    PracticeBillingDetails,
    ServiceFee,
    ClientBillingDetails,
    Superbill,
    GoodFaithEstimate,
    PracticeDocument,
    DocumentVersion,
    DocumentSignature,
    IntakeQuestion,
    IntakeResponse,
]

COMPOSITE_UNIQUE_INDEXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "client_clinician_email_uniq": ("client", ("clinician", "email")),
    "checklist_item_client_item_uniq": ("checklist_item", ("client", "item")),
    "client_practice_email_uniq": ("client", ("practice", "email")),
    "membership_practice_user_uniq": ("membership", ("practice", "user")),
    "client_share_client_clinician_uniq": ("client_share", ("client", "clinician")),
    "service_fee_practice_code_uniq": ("service_fee", ("practice", "service_code")),
    "document_version_number_uniq": ("document_version", ("document", "number")),
    "document_signature_client_version_uniq": ("document_signature", ("client", "version")),
    "reminder_once_uniq": ("reminder", ("appointment", "hours_before", "starts_at")),
    "evening_summary_once_uniq": ("evening_summary", ("clinician", "day")),
}
