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
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class User(Table, tablename="app_user"):
    """A person who can sign in: a clinician or a client."""

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


class Clinician(Table):
    """A therapist and their (solo) practice: defaults for booking and billing."""

    user = ForeignKey(references=User, null=False, unique=True)
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
    created_at = Timestamptz()


class WorkingHours(Table):
    """One bookable range on a weekday (0 = Monday), in minutes from local midnight."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
    weekday = Integer()
    start_minute = Integer()
    end_minute = Integer()


class Client(Table):
    """A clinician's client record; linked to a client ``User`` once an account exists."""

    clinician = ForeignKey(references=Clinician, null=False, index=True)
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
    reminders_off = Boolean(default=False)  # the client asked for no session reminders
    created_at = Timestamptz()


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
    confirmed_at = Timestamptz(null=True, default=None)  # the client confirmed from a reminder's link
    checked_in_at = Timestamptz(null=True, default=None)  # the client checked in on the day (issue 19b)


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


class Charge(Table):
    """The one charge of an appointment (unique per appointment; R4).

    ``generation`` increases each time the appointment is (re)marked Occurred, so a job
    scheduled for an earlier marking can recognise itself as stale.
    """

    appointment = ForeignKey(references=Appointment, null=False, unique=True)
    client = ForeignKey(references=Client, null=False, index=True)
    clinician = ForeignKey(references=Clinician, null=False, index=True)
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
    refunded_minor = Integer(default=0)
    waived_by = Integer(null=True, default=None)
    waived_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Refund(Table):
    """A full or partial refund of a succeeded charge, with its own idempotency key."""

    charge = ForeignKey(references=Charge, null=False, index=True)
    amount_minor = Integer()
    idempotency_key = Varchar(length=120, unique=True)
    status = Varchar(length=20, default="pending")
    gateway_reference = Varchar(length=120, null=True, default=None)
    created_at = Timestamptz()
    created_by = Integer(null=True, default=None)


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
    outcome = Varchar(length=16, default="success")
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=255, default="")
    detail = Varchar(length=255, default="")


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
    Clinician,
    WorkingHours,
    Client,
    InsurancePolicy,
    InsuranceChange,
    AppointmentSeries,
    Appointment,
    StatusChange,
    PaymentMethod,
    Charge,
    Refund,
    SandboxPayment,
    AccountToken,
    ChecklistItem,
    EmailMessage,
    Reminder,
    UndeliverableAddress,
    RecoveryCode,
    AuditEvent,
    PracticeDocument,
    DocumentVersion,
    DocumentSignature,
    IntakeQuestion,
    IntakeResponse,
]

COMPOSITE_UNIQUE_INDEXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "client_clinician_email_uniq": ("client", ("clinician", "email")),
    "checklist_item_client_item_uniq": ("checklist_item", ("client", "item")),
    "document_version_number_uniq": ("document_version", ("document", "number")),
    "document_signature_client_version_uniq": ("document_signature", ("client", "version")),
    "reminder_once_uniq": ("reminder", ("appointment", "hours_before", "starts_at")),
}
