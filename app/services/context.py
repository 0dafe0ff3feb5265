"""Who is acting, from where: passed from the web layer (or a job) into services for auditing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    role: str = ""
    clinician_id: int | None = None
    ip: str = ""
    user_agent: str = ""
    practice_id: int | None = None
    member_role: str = ""  # owner, clinician or front_desk when a practice member acts

    @classmethod
    def system(cls) -> Actor:
        return cls(role="system")


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person, loaded once per request by the session middleware.

    For a practice member: the practice they work in now (``practice_id``, switched between when they
    belong to several, listed in ``practices`` as (id, name)), their role in it, their own clinician seat
    there (``own_clinician_id``; None for the front desk) and the clinician whose calendar and clients
    they work in now (``clinician_id``): their own, or for the owner and the front desk a colleague's they
    switched to (the front desk starts in the first clinician's)."""

    id: int
    email: str
    name: str
    role: str
    time_zone: str
    clinician_id: int | None = None
    practice_name: str = ""
    practice_id: int | None = None
    member_role: str = ""
    practices: tuple[tuple[int, str], ...] = ()
    own_clinician_id: int | None = None
    colleagues: tuple[tuple[int, str], ...] = ()  # (seat, name) whose calendars they may switch to

    @property
    def is_member(self) -> bool:
        return self.role == "clinician" and self.practice_id is not None

    @property
    def is_clinician(self) -> bool:
        """A member working in a clinician's calendar: their own, or (owner, front desk) a colleague's."""
        return self.is_member and self.clinician_id is not None

    @property
    def sees_clinical_details(self) -> bool:
        """Insurance, notes, charges: everyone but the front desk (R12)."""
        return self.is_member and self.member_role != "front_desk"

    @property
    def works_for_colleague(self) -> bool:
        return self.clinician_id is not None and self.clinician_id != self.own_clinician_id

    @property
    def is_client(self) -> bool:
        return self.role == "client"
