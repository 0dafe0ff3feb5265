"""Test helpers shared across areas: people to sign in as, CSRF-aware form posts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import httpx

from app.config import Settings
from app.domain.accounts import Role
from app.models.db import transaction
from app.models.tables import Client, EmailMessage, User
from app.services.accounts import NewClinician, create_clinician, current_user
from app.services.context import Actor, CurrentUser
from app.services.passwords import hash_password
from app.services.practices import start_assignment
from app.services.queue import JobQueue

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    user: CurrentUser
    password: str = PASSWORD

    @property
    def email(self) -> str:
        return self.user.email


async def make_clinician(
    settings: Settings,
    now: datetime,
    *,
    email: str = "maya@example.test",
    name: str = "Maya Chen",
    practice: str = "Calm Harbor",
    time_zone: str = "America/New_York",
) -> Person:
    async with transaction():
        user_id = await create_clinician(
            NewClinician(practice, name, email, PASSWORD, time_zone), now=now, settings=settings, active=True
        )
    return Person(await current_user(user_id))


async def make_client(
    settings: Settings,
    now: datetime,
    clinician: Person,
    *,
    email: str = "alex@example.test",
    name: str = "Alex Rivera",
    with_password: bool = True,
) -> tuple[Person, int]:
    """A client user and their client record with ``clinician``; returns (person, client id)."""
    password_hash = await hash_password(PASSWORD, "fast") if with_password else None
    async with transaction():
        rows = await User.insert(
            User(
                email=email,
                name=name,
                role=Role.CLIENT.value,
                password_hash=password_hash,
                time_zone=clinician.user.time_zone,
                created_at=now,
            )
        ).returning(User.id)
        user_id = rows[0]["id"]
        client_rows = await Client.insert(
            Client(
                clinician=clinician.user.clinician_id,
                practice=clinician.user.practice_id,
                user=user_id,
                name=name,
                email=email,
                created_at=now,
            )
        ).returning(Client.id)
        await start_assignment(client_rows[0]["id"], clinician.user.clinician_id, now=now, assigned_by=None)
    return Person(await current_user(user_id)), client_rows[0]["id"]


def browser_at(app, address: str) -> httpx.AsyncClient:
    """A browser on another network: the app sees ``address`` as the source of its requests."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url="http://testserver.local"
    )


def csrf_from(client) -> str:
    return client.cookies.get("csrftoken") or ""


async def ensure_csrf(client) -> str:
    if not csrf_from(client):
        await client.get("/login")
    return csrf_from(client)


async def post_form(client, url: str, data: dict[str, str] | None = None, *, htmx: bool = False, **kwargs):
    """POST a form the way a browser does: with the CSRF field (and the htmx header when asked)."""
    token = await ensure_csrf(client)
    headers = kwargs.pop("headers", {})
    payload = dict(data or {})
    if htmx:
        headers = {"HX-Request": "true", "x-csrftoken": token, **headers}
    else:
        payload.setdefault("_csrf_token", token)
    return await client.post(url, data=payload, headers=headers, **kwargs)


async def sign_in(client, person: Person):
    response = await post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.status_code in (200, 303), response.text
    return response


async def last_email_to(address: str) -> EmailMessage | None:
    return (
        await EmailMessage.objects()
        .where(EmailMessage.to_address == address)
        .order_by(EmailMessage.id, ascending=False)
        .first()
    )


def link_in(text: str, path_prefix: str) -> str:
    """The first link in ``text`` whose path starts with ``path_prefix`` (as a path)."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s\"<]*)", text)
    assert match, f"no link to {path_prefix} in: {text[:500]}"
    return match.group(1)


def actor_for(person: Person) -> Actor:
    """The actor a signed-in person is when they act in their current practice."""
    user = person.user
    return Actor(
        user_id=user.id,
        role=user.role,
        clinician_id=user.clinician_id,
        practice_id=user.practice_id,
        member_role=user.member_role,
    )


async def make_member(
    settings: Settings, now: datetime, owner: Person, *, email: str, name: str, role: str
) -> Person:
    """Someone the owner invited (``role``: clinician or front_desk) who accepted with a new password."""
    from app.services import members

    await members.invite_member(
        owner.user,
        members.NewMember(name, email, role),
        now=now,
        actor=actor_for(owner),
        settings=settings,
        queue=JobQueue(None, settings.queue_name),
    )
    token = link_in((await last_email_to(email)).text_body, "/join/").removeprefix("/join/")
    joined = await members.accept_invitation(token, PASSWORD, now=now, actor=Actor(), settings=settings)
    return Person(joined.person)
