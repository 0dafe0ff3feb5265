"""What the use cases raise when they refuse: a leaf module every service may import.

Every "not found" is a ``NotFound``: the web layer answers 404 for all of them, and another practice's
record looks exactly like one that does not exist.
"""

from __future__ import annotations

from app.domain.validation import FieldProblem


class NotFound(Exception):
    """No such record for the person asking (answer 404; never reveal another practice's data)."""


class ClientNotFound(NotFound):
    """No such client for this clinician."""


class AppointmentNotFound(NotFound):
    """No such appointment for this clinician."""


class ChargeNotFound(NotFound):
    """No charge (or appointment) for this clinician or client."""


class ExportNotFound(NotFound):
    """No such client for this person (another clinician's client looks the same as none)."""


class PracticeNotFound(NotFound):
    """No such practice, member or colleague for this person."""


class NotAllowed(Exception):
    """The member's role in the practice does not allow this (answer 403); ``message`` is for people."""

    def __init__(self, message: str = "Your role in this practice doesn't allow that.") -> None:
        super().__init__(message)
        self.message = message


class PaperworkNotFound(NotFound):
    """No such practice document, version or signed copy for this person."""


class PaperworkProblem(FieldProblem):
    """A document can't be published or signed, or an intake answer is refused; ``field`` says where."""


class ClientError(FieldProblem):
    """A client could not be added or invited; ``field`` names the form field the message belongs to."""


class StatusChangeRefused(Exception):
    """The status change breaks a rule; ``message`` is for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ChargeActionRefused(Exception):
    """A waive, retry or refund that the charge's state does not allow; ``message`` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
