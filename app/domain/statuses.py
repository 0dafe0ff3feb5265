"""The names of appointment and charge states, shared by every area (R3, R4).

State machines live beside them: ``app.domain.appointments`` (status transitions) and
``app.domain.charges`` (charge transitions). Stored values are the enum values.
"""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    OCCURRED = "occurred"
    CANCELLED = "cancelled"
    LATE_CANCELLED = "late_cancelled"
    NO_SHOW = "no_show"

    @property
    def label(self) -> str:
        return APPOINTMENT_STATUS_LABELS[self]


APPOINTMENT_STATUS_LABELS = {
    AppointmentStatus.SCHEDULED: "Scheduled",
    AppointmentStatus.OCCURRED: "Occurred",
    AppointmentStatus.CANCELLED: "Cancelled",
    AppointmentStatus.LATE_CANCELLED: "Late cancelled",
    AppointmentStatus.NO_SHOW: "No-show",
}


class ChargeStatus(StrEnum):
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    CANCELLED = "cancelled"
    WAIVED = "waived"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"

    @property
    def label(self) -> str:
        return CHARGE_STATUS_LABELS[self]


CHARGE_STATUS_LABELS = {
    ChargeStatus.SCHEDULED: "Scheduled",
    ChargeStatus.PROCESSING: "Processing",
    ChargeStatus.SUCCEEDED: "Paid",
    ChargeStatus.FAILED: "Failed",
    ChargeStatus.REQUIRES_ACTION: "Needs card authentication",
    ChargeStatus.CANCELLED: "Cancelled",
    ChargeStatus.WAIVED: "Waived",
    ChargeStatus.REFUNDED: "Refunded",
    ChargeStatus.PARTIALLY_REFUNDED: "Partly refunded",
}


class BillingType(StrEnum):
    SELF_PAY = "self_pay"
    INSURANCE = "insurance"


class CoverageStatus(StrEnum):
    NOT_DISCUSSED = "not_discussed"
    CHECKING = "checking"
    COVERED = "covered"
    NOT_COVERED = "not_covered"
    SELF_PAY = "self_pay"

    @property
    def label(self) -> str:
        return COVERAGE_STATUS_LABELS[self]


COVERAGE_STATUS_LABELS = {
    CoverageStatus.NOT_DISCUSSED: "Not discussed",
    CoverageStatus.CHECKING: "Client checking with insurer",
    CoverageStatus.COVERED: "Covered",
    CoverageStatus.NOT_COVERED: "Not covered",
    CoverageStatus.SELF_PAY: "Self-pay",
}


class ChargeKind(StrEnum):
    """What a charge is for: the session itself, or a fee for a late cancel or a no-show (R4)."""

    SESSION = "session"
    LATE_CANCEL_FEE = "late_cancel_fee"
    NO_SHOW_FEE = "no_show_fee"

    @property
    def label(self) -> str:
        return CHARGE_KIND_LABELS[self]


CHARGE_KIND_LABELS = {
    ChargeKind.SESSION: "Session",
    ChargeKind.LATE_CANCEL_FEE: "Late-cancel fee",
    ChargeKind.NO_SHOW_FEE: "No-show fee",
}
