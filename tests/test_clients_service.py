"""Adding a client creates one login per address and an invitation (R2)."""

from __future__ import annotations

import pytest

from app.models.tables import AccountToken, Client, EmailMessage, User
from app.services.clients import ClientError, NewClient, add_client
from app.services.context import Actor
from app.services.queue import JobQueue
from tests.helpers import make_clinician


async def test_adding_a_client_creates_a_login_and_an_invitation(db, redis, settings, clock, arq_pool):
    clinician = await make_clinician(settings, clock.now())
    actor = Actor(clinician.user.id, "clinician", clinician.user.clinician_id)
    queue = JobQueue(arq_pool, settings.queue_name)
    client_id = await add_client(
        clinician.user.clinician_id,
        NewClient("Alex Rivera", "Alex@Example.test"),
        invite=True,
        now=clock.now(),
        actor=actor,
        settings=settings,
        queue=queue,
    )
    user = await User.objects().where(User.email == "alex@example.test").first()
    assert user.role == "client" and user.password_hash is None
    assert (await Client.objects().where(Client.id == client_id).first()).user == user.id
    message = await EmailMessage.objects().first()
    assert "Calm Harbor invited you" in message.subject and "/invite/" in message.text_body
    assert await AccountToken.count().where(AccountToken.purpose == "invitation") == 1
    assert await arq_pool.zcard(settings.queue_name) == 1

    with pytest.raises(ClientError, match="already have a client"):
        await add_client(
            clinician.user.clinician_id,
            NewClient("Alex", "alex@example.test"),
            invite=True,
            now=clock.now(),
            actor=actor,
            settings=settings,
            queue=queue,
        )

    other = await make_clinician(settings, clock.now(), email="jordan@example.test", practice="Northside")
    await add_client(
        other.user.clinician_id,
        NewClient("Alex R", "alex@example.test"),
        invite=False,
        now=clock.now(),
        actor=actor,
        settings=settings,
        queue=queue,
    )
    assert await User.count().where(User.email == "alex@example.test") == 1
    assert await Client.count().where(Client.email == "alex@example.test") == 2

    with pytest.raises(ClientError, match="clinician account"):
        await add_client(
            other.user.clinician_id,
            NewClient("Maya", clinician.email),
            invite=True,
            now=clock.now(),
            actor=actor,
            settings=settings,
            queue=queue,
        )
