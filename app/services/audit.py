"""The audit log: one append-only row per sensitive action (who, what, which record, when, outcome).

Never put clinical text or card data in ``detail``: it is for short codes (a status pair, a reason code).
``ACTIONS`` names every action the audit trail page knows how to show; add yours there. A client record
view is one call: ``await audit.record_view(client_id, actor=..., at=now)`` (see ``record_view``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Required, TypedDict, Unpack

from app.models.tables import AuditEvent
from app.services.context import Actor

ACTIONS: dict[str, str] = {
    # signing in and out
    "login_succeeded": "Signed in",
    "login_password_ok": "Password accepted, code asked for",
    "login_failed": "Sign-in failed",
    "login_code_failed": "Wrong two-step code",
    "login_throttled": "Sign-in blocked (too many attempts)",
    "recovery_code_used": "Recovery code used",
    "logout": "Signed out",
    "session_timed_out": "Signed out automatically (inactivity or 12-hour limit)",
    "session_ended": "Signed out a device",
    "sessions_ended_elsewhere": "Signed out everywhere else",
    # account and security changes
    "account_signup": "Practice sign-up started",
    "account_confirmed": "Account confirmed",
    "password_change": "Password changed",
    "password_reset_requested": "Password reset requested",
    "password_reset": "Password reset",
    "two_factor_enabled": "Two-step sign-in turned on",
    "two_factor_enable": "Two-step set-up refused",
    "two_factor_disabled": "Two-step sign-in turned off",
    "two_factor_disable": "Turning off two-step refused",
    "recovery_codes_regenerated": "New recovery codes",
    "two_factor_requirement_changed": "Two-step requirement changed",
    # the practice and its members
    "member_invited": "Member invited",
    "member_invitation_resent": "Member invitation resent",
    "member_joined": "Member joined the practice",
    "member_removed": "Member removed",
    "practice_switched": "Switched practice",
    "client_reassigned": "Client reassigned to another clinician",
    "client_shared": "Client shared with a colleague",
    "client_unshared": "Client no longer shared with a colleague",
    # clients
    "client_created": "Client added",
    "client_viewed": "Client record viewed",
    "client_updated": "Client record changed",
    "client_contact_changed": "Client contact details changed",
    "client_archived": "Client archived",
    "client_restored": "Client restored",
    "invitation_sent": "Portal invitation sent",
    "invitation_accepted": "Portal invitation accepted",
    "email_undeliverable": "Email address bounced or reported spam; no more email goes to it",
    "email_block_lifted": "Email to a bounced address tried again",
    "insurance_updated": "Insurance details changed",
    # intake paperwork
    "document_published": "Practice document published",
    "document_retired": "Practice document no longer requested",
    "intake_question_added": "Intake question added",
    "intake_question_removed": "Intake question removed",
    "document_signed": "Document signed",
    "intake_submitted": "Intake questionnaire completed",
    "paperwork_requested": "Client reminded of forms to complete",
    "signed_copy_downloaded": "Signed copy downloaded",
    # sessions and charges
    "appointment_created": "Appointment booked",
    "appointment_status_changed": "Appointment status changed",
    "appointment_confirmed": "Session confirmed by the client from a reminder",
    "appointment_checked_in": "Client checked in for the session",
    "texts_stop": "Client replied STOP: no more texts",
    "texts_start": "Client replied START: texts again",
    "charge_scheduled": "Charge scheduled",
    "charge_cancelled": "Charge cancelled",
    "charge_succeeded": "Charge succeeded",
    "charge_failed": "Charge failed",
    "charge_refunded": "Charge refunded",
    "charge_waived": "Charge waived",
    "charge_disputed": "Payment disputed by the cardholder; automatic charging paused",
    "charging_resumed": "Automatic charging resumed after a dispute",
    "card_detached": "Saved card removed at Stripe; the client has no card on file",
    "card_expiry_warned": "Client warned their saved card expires soon",
    "reconcile_repaired": "Reconciliation recorded a payment Stripe took (safe repair)",
    "reconcile_flagged": "Reconciliation found a difference with Stripe to look at",
    "fee_policy_changed": "Late-cancel and no-show fee policy changed",
    "fee_policy_agreed": "Client agreed to the fee policy",
    "fee_not_charged": "No fee charged (grace, exemption or no agreement)",
    "fee_exemption_changed": "Client's fee exemption changed",
    # superbills and estimates
    "billing_details_changed": "Billing details changed (licence, NPI, tax ID, address, fees)",
    "client_billing_details_changed": "Client's billing details or diagnosis changed",
    "session_codes_changed": "Session's service code or place of service changed",
    "superbill_frequency_chosen": "Superbill frequency chosen",
    "superbill_issued": "Superbill issued",
    "superbill_regenerated": "Superbill made again",
    "superbill_sent": "Superbill sent again",
    "estimate_issued": "Good Faith Estimate issued",
    "estimate_requested": "Good Faith Estimate requested by the client",
    "estimate_warning_sent": "Clinician warned: billing near the estimate plus $400",
    # exports and the trail itself
    "records_exported": "Client records exported",
    "audit_viewed": "Audit trail viewed",
    "audit_exported": "Audit trail exported",
}


def label(action: str) -> str:
    """The audit trail's words for an action (its code when not listed)."""
    return ACTIONS.get(action, action.replace("_", " ").capitalize())


async def record_view(
    client_id: int, *, actor: Actor, at: datetime, what: str = "client", clinician_id: int | None = None
) -> None:
    """One line for "someone looked at this client's record" (``what``: which page, a short code)."""
    await client_event("client_viewed", client_id, clinician_id, actor=actor, at=at, detail=what)


async def record(
    action: str,
    *,
    actor: Actor,
    at: datetime,
    object_type: str = "",
    object_id: int | None = None,
    client_id: int | None = None,
    clinician_id: int | None = None,
    outcome: str = "success",
    detail: str = "",
) -> None:
    """Append one audit row. Call inside the transaction of the action it records."""
    await AuditEvent.insert(
        AuditEvent(
            at=at,
            actor_id=actor.user_id,
            actor_role=actor.member_role or actor.role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            client_id=client_id,
            clinician_id=clinician_id if clinician_id is not None else actor.clinician_id,
            practice_id=actor.practice_id,
            outcome=outcome,
            ip=actor.ip[:64],
            user_agent=actor.user_agent[:255],
            detail=detail[:255],
        )
    )


class How(TypedDict, total=False):
    """Who acted, when, and how it went: the keywords every one-line helper below passes to ``record``."""

    actor: Required[Actor]
    at: Required[datetime]
    detail: str
    outcome: str


async def client_event(
    action: str, client_id: int, clinician_id: int | None = None, **how: Unpack[How]
) -> None:
    """Something happened to a client's record (``clinician_id``: the practice; the actor's if None)."""
    await _about_client(action, "client", client_id, client_id, clinician_id, how)


async def appointment_event(
    action: str, appointment_id: int, client_id: int, clinician_id: int, **how: Unpack[How]
) -> None:
    """Something happened to one session of a client."""
    await _about_client(action, "appointment", appointment_id, client_id, clinician_id, how)


async def charge_event(
    action: str, charge_id: int, client_id: int, clinician_id: int, **how: Unpack[How]
) -> None:
    """Something happened to a session's charge."""
    await _about_client(action, "charge", charge_id, client_id, clinician_id, how)


async def _about_client(
    action: str, object_type: str, object_id: int, client_id: int, clinician_id: int | None, how: How
) -> None:
    """One row about a record that belongs to a client."""
    await record(
        action,
        object_type=object_type,
        object_id=object_id,
        client_id=client_id,
        clinician_id=clinician_id,
        **how,
    )


async def user_event(action: str, user_id: int, *, client_id: int | None = None, **how: Unpack[How]) -> None:
    """Something happened to a person's login (signing in, passwords, two-step, devices)."""
    await record(action, object_type="user", object_id=user_id, client_id=client_id, **how)


async def practice_event(action: str, clinician_id: int, **how: Unpack[How]) -> None:
    """A practice-wide setting changed."""
    await record(action, object_type="clinician", object_id=clinician_id, clinician_id=clinician_id, **how)
