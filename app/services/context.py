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

    @classmethod
    def system(cls) -> Actor:
        return cls(role="system")


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person, loaded once per request by the session middleware."""

    id: int
    email: str
    name: str
    role: str
    time_zone: str
    clinician_id: int | None = None
    practice_name: str = ""

    @property
    def is_clinician(self) -> bool:
        return self.role == "clinician"

    @property
    def is_client(self) -> bool:
        return self.role == "client"
