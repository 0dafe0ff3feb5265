"""Import jobs (R13): a confirmed client list imported in the background, the paced invitations of
its new clients, and a sweep that queues again whatever a stopped worker or a flushed Redis left."""

from __future__ import annotations

from datetime import timedelta

from app.services import imports
from app.services.queue import JobQueue


async def run_import(ctx: dict, batch_id: int) -> str:
    """Carry on importing a batch from the last chunk that committed."""
    return await imports.run_client_import(batch_id, clock=ctx["clock"])


async def invite_imported(ctx: dict, batch_id: int) -> int:
    """Invite the next few new clients of a batch, and come back in a minute for the rest."""
    now = ctx["clock"].now()
    jobs, more = await imports.send_next_invitations(batch_id, now=now, settings=ctx["settings"])
    queue = JobQueue(ctx["redis"], ctx["settings"].queue_name)
    await queue.enqueue_all(jobs)
    if more:
        await queue.enqueue_all([imports.invite_job(batch_id, now + timedelta(minutes=1))])
    return len(jobs)


async def sweep_imports(ctx: dict) -> int:
    """Queue again the imports that stopped making progress and the invitations still to send."""
    jobs = await imports.stalled_work(now=ctx["clock"].now())
    await JobQueue(ctx["redis"], ctx["settings"].queue_name).enqueue_all(jobs)
    return len(jobs)
