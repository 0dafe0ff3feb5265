"""A practice's members (R12) through the real services and database: invitations with one-time links,
joining, resending, expiry, removal with an explicit choice for future sessions, reassigning and sharing
clients, switching practices, and what each member may see of a client."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from app.domain.members import ClientAccess, FutureSessions, MemberRole, MemberState, RemovalPlan
from app.models.tables import (
    AccountToken,
    Appointment,
    AuditEvent,
    Client,
    ClientAssignment,
    Clinician,
    EmailMessage,
    StatusChange,
)
from app.services import accounts, members, practices
from app.services.account_tokens import LinkState
from app.services.context import Actor
from app.services.errors import ClientNotFound, NotAllowed, PracticeNotFound
from app.services.queue import JobQueue
from tests.helpers import (
    PASSWORD,
    Person,
    actor_for,
    last_email_to,
    link_in,
    make_client,
    make_clinician,
    make_member,
)
from tests.report_data import add_appointment


@pytest.fixture
def queue(settings):
    return JobQueue(None, settings.queue_name)


async def invite(owner, settings, clock, queue, email, role="clinician", name="Noor Haddad"):
    return await members.invite_member(
        owner.user,
        members.NewMember(name, email, role),
        now=clock.now(),
        actor=actor_for(owner),
        settings=settings,
        queue=queue,
    )


async def join_token(address: str) -> str:
    return link_in((await last_email_to(address)).text_body, "/join/").removeprefix("/join/")


async def test_an_invited_clinician_sets_a_password_joins_and_gets_a_seat(db, settings, clock, queue):
    owner = await make_clinician(settings, clock.now())
    membership_id = await invite(owner, settings, clock, queue, "noor@example.test")
    message = await last_email_to("noor@example.test")
    assert message.kind == "member_invitation"
    assert "Calm Harbor" in message.subject and "as clinician" in message.text_body
    token = await join_token("noor@example.test")
    assert len(token) >= 43  # 32 random bytes, URL-safe
    stored = await AccountToken.select(AccountToken.token_hash).where(
        AccountToken.membership == membership_id
    )
    assert stored == [{"token_hash": hashlib.sha256(token.encode()).hexdigest()}]

    page = await members.open_join_link(token, now=clock.now())
    assert (page.state, page.practice_name, page.role_label, page.needs_password) == (
        LinkState.VALID,
        "Calm Harbor",
        "Clinician",
        True,
    )
    with pytest.raises(members.MemberError) as weak:
        await members.accept_invitation(token, "short", now=clock.now(), actor=Actor(), settings=settings)
    assert weak.value.field == "password"
    joined = await members.accept_invitation(
        token, PASSWORD, now=clock.now(), actor=Actor(), settings=settings
    )
    noor = joined.person
    assert (noor.practice_id, noor.member_role) == (owner.user.practice_id, "clinician")
    seat = await Clinician.objects().where(Clinician.id == noor.clinician_id).first()
    assert seat.practice == owner.user.practice_id and seat.booking_slug
    assert (
        await members.accept_invitation(token, PASSWORD, now=clock.now(), actor=Actor(), settings=settings)
        is None
    )

    listed = {m.email: m for m in await members.list_members(owner.user, now=clock.now())}
    assert listed["noor@example.test"].state is MemberState.ACTIVE
    assert listed["maya@example.test"].role is MemberRole.OWNER and not listed["maya@example.test"].can_remove


async def test_a_resend_kills_the_earlier_link_and_an_unused_link_expires_after_7_days(
    db, settings, clock, queue
):
    owner = await make_clinician(settings, clock.now())
    membership_id = await invite(owner, settings, clock, queue, "desk@example.test", role="front_desk")
    first = await join_token("desk@example.test")
    await members.resend_invitation(
        owner.user, membership_id, now=clock.now(), actor=actor_for(owner), settings=settings, queue=queue
    )
    second = await join_token("desk@example.test")
    assert first != second
    assert (await members.open_join_link(first, now=clock.now())).state is LinkState.USED
    assert (
        await members.accept_invitation(first, PASSWORD, now=clock.now(), actor=Actor(), settings=settings)
        is None
    )

    clock.advance(days=7, seconds=1)
    assert (await members.open_join_link(second, now=clock.now())).state is LinkState.EXPIRED
    [desk] = [
        m for m in await members.list_members(owner.user, now=clock.now()) if m.role is MemberRole.FRONT_DESK
    ]
    assert desk.state is MemberState.INVITATION_EXPIRED and desk.can_resend
    await members.resend_invitation(
        owner.user, membership_id, now=clock.now(), actor=actor_for(owner), settings=settings, queue=queue
    )
    joined = await members.accept_invitation(
        await join_token("desk@example.test"), PASSWORD, now=clock.now(), actor=Actor(), settings=settings
    )
    desk = joined.person
    assert (desk.member_role, desk.own_clinician_id) == ("front_desk", None)  # no seat of their own
    assert desk.clinician_id == owner.user.clinician_id  # they work in the (only) clinician's calendar
    assert not desk.sees_clinical_details
    with pytest.raises(members.MemberError):
        await members.resend_invitation(
            owner.user, membership_id, now=clock.now(), actor=actor_for(owner), settings=settings, queue=queue
        )


async def test_someone_with_a_login_joins_with_their_password_then_switches_between_practices(
    db, settings, clock, queue, redis
):
    owner = await make_clinician(settings, clock.now())
    jordan = await make_clinician(settings, clock.now(), email="jordan@example.test", practice="Northside")
    await invite(owner, settings, clock, queue, "jordan@example.test", role="front_desk", name="Jordan")
    token = await join_token("jordan@example.test")
    assert not (await members.open_join_link(token, now=clock.now())).needs_password
    with pytest.raises(members.MemberError):
        await members.accept_invitation(
            token, "not my password", now=clock.now(), actor=Actor(), settings=settings
        )
    joined = await members.accept_invitation(
        token, PASSWORD, now=clock.now(), actor=Actor(), settings=settings
    )
    assert joined.person is None  # they sign in as usual, two-step sign-in included
    assert joined.practice_name == "Calm Harbor"

    at_home = await accounts.current_user(jordan.user.id)
    assert at_home.practice_id == jordan.user.practice_id and at_home.member_role == "owner"
    assert {name for _, name in at_home.practices} == {"Calm Harbor", "Northside"}
    at_maya = await accounts.current_user(jordan.user.id, owner.user.practice_id)
    assert (at_maya.member_role, at_maya.own_clinician_id, at_maya.clinician_id, at_maya.practice_name) == (
        "front_desk",
        None,
        owner.user.clinician_id,
        "Calm Harbor",
    )

    from app.clock import FrozenClock
    from app.services.sessions import SessionStore

    store = SessionStore(redis, FrozenClock(clock.now()), settings)
    _, session = await store.create(jordan.user.id, "clinician")
    await practices.switch_practice(
        store, session, at_home, owner.user.practice_id, now=clock.now(), actor=actor_for(Person(at_home))
    )
    assert session.practice_id == owner.user.practice_id
    stranger = await make_clinician(settings, clock.now(), email="x@example.test", practice="Elsewhere")
    with pytest.raises(PracticeNotFound):
        await practices.switch_practice(
            store, session, at_home, stranger.user.practice_id, now=clock.now(), actor=Actor()
        )


async def test_invitations_the_rules_refuse(db, settings, clock, queue):
    owner = await make_clinician(settings, clock.now())
    other = await make_clinician(settings, clock.now(), email="other@example.test", practice="Other")
    await make_client(settings, clock.now(), owner, email="client@example.test")
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )

    async def refused(email, role="clinician", by=owner):
        with pytest.raises(members.MemberError) as caught:
            await invite(by, settings, clock, queue, email, role=role)
        return caught.value.message

    assert "client's portal login" in await refused("client@example.test")
    assert "already a member" in await refused("noor@example.test")
    assert "already a member" in await refused("maya@example.test", role="front_desk")
    assert "clinician in another practice" in await refused("other@example.test")
    assert "Choose clinician or front desk" in await refused("new@example.test", role="owner")
    with pytest.raises(NotAllowed):
        await invite(noor, settings, clock, queue, "new@example.test")
    with pytest.raises(NotAllowed):
        await members.list_members(noor.user, now=clock.now())
    assert await EmailMessage.count().where(EmailMessage.to_address == "new@example.test") == 0
    await invite(other, settings, clock, queue, "noor2@example.test")  # another owner invites in their own


async def group(settings, clock):
    """Maya owns Calm Harbor with Noor (clinician) and Sky (front desk); Alex is Noor's client."""
    owner = await make_clinician(settings, clock.now())
    noor = await make_member(
        settings, clock.now(), owner, email="noor@example.test", name="Noor", role="clinician"
    )
    desk = await make_member(
        settings, clock.now(), owner, email="sky@example.test", name="Sky", role="front_desk"
    )
    _, alex = await make_client(settings, clock.now(), noor)
    return owner, noor, desk, alex


async def test_removing_a_clinician_reassigns_their_future_sessions_and_clients_by_choice(
    db, settings, clock, queue
):
    owner, noor, desk, alex = await group(settings, clock)
    past = await add_appointment(
        noor.user.clinician_id, alex, clock.now() - timedelta(days=7), status="occurred"
    )
    future = await add_appointment(noor.user.clinician_id, alex, clock.now() + timedelta(days=2))
    [membership] = [m for m in await members.list_members(owner.user, now=clock.now()) if m.name == "Noor"]

    async def remove(plan):
        return await members.remove_member(
            owner.user,
            membership.membership_id,
            plan,
            now=clock.now(),
            actor=actor_for(owner),
            settings=settings,
            queue=queue,
        )

    with pytest.raises(members.MemberError, match="Choose what happens"):
        await remove(RemovalPlan(None))
    with pytest.raises(members.MemberError, match="Choose a clinician"):
        await remove(RemovalPlan(FutureSessions.REASSIGN, noor.user.clinician_id))
    assert await accounts.current_user(noor.user.id) is not None  # nothing changed yet

    assert await remove(RemovalPlan(FutureSessions.REASSIGN, owner.user.clinician_id)) == 1
    sessions = {
        row["id"]: row["clinician"] for row in await Appointment.select(Appointment.id, Appointment.clinician)
    }
    assert sessions == {past: noor.user.clinician_id, future: owner.user.clinician_id}
    client = await Client.objects().where(Client.id == alex).first()
    assert client.clinician == owner.user.clinician_id
    history = await practices.assignment_history(owner.user, alex)
    assert [a.clinician_name for a in history] == ["Noor", "Maya Chen"]
    assert history[0].ended_at == clock.now() and history[1].ended_at is None
    assert await accounts.current_user(noor.user.id) is None  # removed from their only practice: signed out
    listed = {m.name: m.state for m in await members.list_members(owner.user, now=clock.now())}
    assert listed["Noor"] is MemberState.REMOVED
    removal = await AuditEvent.objects().where(AuditEvent.action == "member_removed").first()
    assert (removal.actor_role, removal.practice_id, removal.detail) == (
        "owner",
        owner.user.practice_id,
        "reassign:1",
    )


async def test_removing_a_clinician_can_cancel_their_future_sessions_instead(db, settings, clock, queue):
    owner, noor, desk, alex = await group(settings, clock)
    future = await add_appointment(noor.user.clinician_id, alex, clock.now() + timedelta(days=2))
    [membership] = [m for m in await members.list_members(owner.user, now=clock.now()) if m.name == "Noor"]
    await members.remove_member(
        owner.user,
        membership.membership_id,
        RemovalPlan(FutureSessions.CANCEL),
        now=clock.now(),
        actor=actor_for(owner),
        settings=settings,
        queue=queue,
    )
    row = await Appointment.objects().where(Appointment.id == future).first()
    assert (row.status, row.clinician) == ("cancelled", noor.user.clinician_id)
    change = await StatusChange.objects().where(StatusChange.appointment == future).first()
    assert (change.from_status, change.to_status, change.changed_by) == (
        "scheduled",
        "cancelled",
        owner.user.id,
    )
    # the front desk has no sessions: removing them needs no choice
    [sky] = [m for m in await members.list_members(owner.user, now=clock.now()) if m.name == "Sky"]
    await members.remove_member(
        owner.user,
        sky.membership_id,
        RemovalPlan(None),
        now=clock.now(),
        actor=actor_for(owner),
        settings=settings,
        queue=queue,
    )
    assert await accounts.current_user(desk.user.id) is None


async def test_what_each_member_sees_of_a_client(db, settings, clock):
    owner, noor, desk, alex = await group(settings, clock)
    lee = await make_member(
        settings, clock.now(), owner, email="lee@example.test", name="Lee", role="clinician"
    )
    stranger = await make_clinician(settings, clock.now(), email="x@example.test", practice="Elsewhere")

    async def access(person):
        try:
            return (await practices.client_for(person.user, alex)).access
        except ClientNotFound:
            return None

    assert {
        "owner": await access(owner),
        "assigned clinician": await access(noor),
        "colleague": await access(lee),
        "front desk": await access(desk),
        "another practice": await access(stranger),
    } == {
        "owner": ClientAccess.FULL,
        "assigned clinician": ClientAccess.FULL,
        "colleague": None,
        "front desk": ClientAccess.BOOKING,
        "another practice": None,
    }

    with pytest.raises(ClientNotFound):  # a colleague can't share themselves in
        await practices.share_client(
            lee.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(lee)
        )
    with pytest.raises(NotAllowed):
        await practices.share_client(
            desk.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(desk)
        )
    assert await practices.share_client(
        noor.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(noor)
    )
    assert await access(lee) is ClientAccess.FULL
    assert await practices.unshare_client(
        owner.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(owner)
    )
    assert await access(lee) is None

    with pytest.raises(NotAllowed):
        await practices.reassign_client(
            desk.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(desk)
        )
    with pytest.raises(PracticeNotFound):
        await practices.reassign_client(
            owner.user, alex, stranger.user.clinician_id, now=clock.now(), actor=actor_for(owner)
        )
    assert await practices.reassign_client(
        owner.user, alex, lee.user.clinician_id, now=clock.now(), actor=actor_for(owner)
    )
    assert await access(noor) is None and await access(lee) is ClientAccess.FULL
    assert await ClientAssignment.count().where(ClientAssignment.client == alex) == 2
    event = await AuditEvent.objects().where(AuditEvent.action == "client_reassigned").first()
    assert (event.actor_id, event.actor_role, event.practice_id) == (
        owner.user.id,
        "owner",
        owner.user.practice_id,
    )
