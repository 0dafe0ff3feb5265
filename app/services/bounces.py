"""Hard bounces and spam complaints reported by the email provider: the address gets no more email.

A recorded address (``UndeliverableAddress``) stays blocked; mail to it waits in the outbox marked as
suppressed. A client whose address changes gets email again at the new one; a clinician who knows the
mailbox works again (it was full, the client fixed it) lifts the block with ``forget``.
"""

from __future__ import annotations

from datetime import datetime

from app.domain.email_events import Undeliverable
from app.models.db import transaction
from app.models.tables import Client, EmailMessage, UndeliverableAddress
from app.services import audit
from app.services.context import Actor
from app.services.email import SUPPRESSED, header_value


async def record_undeliverable(events: list[Undeliverable], *, now: datetime) -> int:
    """Record each address once (audited on every client record that uses it); returns how many were new."""
    recorded = 0
    for event in events:
        async with transaction():
            rows = (
                await UndeliverableAddress.insert(
                    UndeliverableAddress(
                        address=event.address,
                        reason=event.reason.value,
                        detail=header_value(event.detail)[:255],
                        recorded_at=now,
                    )
                )
                .on_conflict(action="DO NOTHING")
                .returning(UndeliverableAddress.id)
            )
            if not rows:
                continue
            recorded += 1
            await EmailMessage.update(
                {EmailMessage.suppressed_at: now, EmailMessage.last_error: SUPPRESSED}
            ).where(
                (EmailMessage.to_address == event.address)
                & EmailMessage.sent_at.is_null()
                & EmailMessage.suppressed_at.is_null()
            )
            for row in await Client.select(Client.id, Client.clinician).where(Client.email == event.address):
                await audit.record(
                    "email_undeliverable",
                    actor=Actor.system(),
                    at=now,
                    object_type="client",
                    object_id=row["id"],
                    client_id=row["id"],
                    clinician_id=row["clinician"],
                    detail=event.reason.value,
                )
    return recorded


async def undeliverable_address(address: str) -> UndeliverableAddress | None:
    """Why ``address`` gets no email (for the client's page), or None when it does."""
    return await UndeliverableAddress.objects().where(UndeliverableAddress.address == address).first()


async def forget(address: str) -> UndeliverableAddress | None:
    """Lift the block on ``address`` (caller's transaction): new mail to it is sent again; messages kept
    as suppressed stay unsent. Returns what was recorded, or None when it was not blocked."""
    rows = (
        await UndeliverableAddress.delete()
        .where(UndeliverableAddress.address == address)
        .returning(*UndeliverableAddress.all_columns())
    )
    return UndeliverableAddress(**rows[0]) if rows else None
