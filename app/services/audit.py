"""The audit log: one append-only row per sensitive action (who, what, which record, when, outcome).

Never put clinical text or card data in ``detail``: it is for short codes (a status pair, a reason code).
"""

from __future__ import annotations

from datetime import datetime

from app.models.tables import AuditEvent
from app.services.context import Actor


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
            actor_role=actor.role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            client_id=client_id,
            clinician_id=clinician_id if clinician_id is not None else actor.clinician_id,
            outcome=outcome,
            ip=actor.ip[:64],
            user_agent=actor.user_agent[:255],
            detail=detail[:255],
        )
    )
