"""Accounts: clinician sign-up, sign-in with throttling, password reset and change.

Answers never reveal whether an e-mail address has an account (R2): the same page, the same
work (a dummy hash for unknown addresses), and throttles keyed on the address string itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from app.config import Settings
from app.domain import members as member_rules
from app.domain import sign_in_throttle as throttle_rules
from app.domain import two_factor as two_factor_rules
from app.domain.accounts import Role
from app.domain.members import MemberRole
from app.domain.practice import slugify
from app.domain.validation import normalize_email
from app.models.db import transaction
from app.models.tables import Client, Clinician, Membership, Practice, User
from app.services import account_tokens, audit, email, throttle
from app.services.account_tokens import Purpose
from app.services.context import Actor, CurrentUser
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.queue import JobQueue, email_job


@dataclass(frozen=True)
class SignIn:
    user: CurrentUser | None
    throttled: bool = False
    needs_code: int | None = None
    wait_seconds: int = 0
    throttled_by: str = ""  # 'address' (this email from here), 'network' (any email from here), 'account'


@dataclass(frozen=True)
class NewClinician:
    practice_name: str
    name: str
    email: str
    password: str
    time_zone: str


CURRENT_USER_SQL = (
    "SELECT u.id, u.email, u.name, u.role, u.time_zone, m.practice AS practice_id, m.role AS member_role, "
    "m.clinician AS clinician_id, p.name AS practice_name "
    'FROM app_user u LEFT JOIN membership m ON m."user" = u.id AND m.accepted_at IS NOT NULL '
    "AND m.removed_at IS NULL LEFT JOIN practice p ON p.id = m.practice "
    "WHERE u.id = {} AND u.is_active = {} ORDER BY m.id"
)


COLLEAGUES_SQL = (
    'SELECT m.clinician, u.name FROM membership m JOIN app_user u ON u.id = m."user" '
    "WHERE m.practice = {} AND m.clinician IS NOT NULL AND m.accepted_at IS NOT NULL "
    "AND m.removed_at IS NULL ORDER BY u.name, m.clinician"
)


async def current_user(
    user_id: int, practice_id: int | None = None, clinician_id: int | None = None
) -> CurrentUser | None:
    """The active user and, for a practice member, the practice they work in now (``practice_id`` if
    they still belong to it, else their first) with their role and seat there, and whose calendar they
    work in (``clinician_id`` if their role may and it is a colleague's now); or None.

    One query for a clinician (every signed-in request asks), two for the owner and the front desk.
    A member removed from every practice is nobody."""
    rows = await User.raw(CURRENT_USER_SQL, user_id, True)
    if not rows:
        return None
    person = rows[0]
    who = {key: person[key] for key in ("id", "email", "name", "role", "time_zone")}
    if person["role"] == Role.CLIENT:
        return CurrentUser(**who)
    memberships = {row["practice_id"]: row for row in rows if row["practice_id"] is not None}
    chosen = member_rules.current_practice(list(memberships), practice_id)
    if chosen is None:
        return None
    here = memberships[chosen]
    own_seat, role = here["clinician_id"], here["member_role"]
    colleagues: tuple[tuple[int, str], ...] = ()
    working_in = own_seat
    if member_rules.may(role, member_rules.Ability.SEE_EVERY_CALENDAR):
        colleagues = tuple((r["clinician"], r["name"]) for r in await User.raw(COLLEAGUES_SQL, chosen))
        working_in = member_rules.calendar_to_work_in(
            own_seat, [seat for seat, _ in colleagues], clinician_id
        )
    return CurrentUser(
        **who,
        clinician_id=working_in,
        practice_name=here["practice_name"],
        practice_id=chosen,
        member_role=role,
        practices=tuple((row["practice_id"], row["practice_name"]) for row in memberships.values()),
        own_clinician_id=own_seat,
        colleagues=colleagues,
    )


async def unique_booking_slug(practice_name: str) -> str:
    """A booking page address no practice and no clinician uses yet (they share ``/book/<slug>``)."""
    base = slugify(practice_name)
    slug, n = base, 1
    while await Clinician.exists().where(Clinician.booking_slug == slug) or await Practice.exists().where(
        Practice.booking_slug == slug
    ):
        n += 1
        slug = f"{base}-{n}"
    return slug


async def create_clinician(data: NewClinician, *, now: datetime, settings: Settings, active: bool) -> int:
    """Insert a clinician user, their practice of one, their seat in it and their owner membership
    (inside the caller's transaction); returns the user id."""
    password_hash = await hash_password(data.password, settings.password_hash_profile)
    user_rows = await User.insert(
        User(
            email=normalize_email(data.email),
            name=data.name,
            role=Role.CLINICIAN.value,
            password_hash=password_hash,
            password_changed_at=now,
            time_zone=data.time_zone,
            is_active=active,
            created_at=now,
        )
    ).returning(User.id)
    user_id = user_rows[0]["id"]
    slug = await unique_booking_slug(data.practice_name)
    practice_rows = await Practice.insert(
        Practice(
            name=data.practice_name,
            booking_slug=slug,
            time_zone=data.time_zone,
            insurance_email=normalize_email(data.email),
            created_at=now,
        )
    ).returning(Practice.id)
    practice_id = practice_rows[0]["id"]
    clinician_rows = await Clinician.insert(
        Clinician(
            user=user_id,
            practice=practice_id,
            practice_name=data.practice_name,
            time_zone=data.time_zone,
            insurance_email=normalize_email(data.email),
            booking_slug=slug,
            created_at=now,
        )
    ).returning(Clinician.id)
    await Membership.insert(
        Membership(
            practice=practice_id,
            user=user_id,
            role=MemberRole.OWNER.value,
            clinician=clinician_rows[0]["id"],
            invited_at=now,
            accepted_at=now,
        )
    )
    return user_id


async def sign_up_clinician(
    data: NewClinician, *, now: datetime, settings: Settings, actor: Actor, queue: JobQueue
) -> None:
    """Start a practice. Always ends with "check your email": a confirmation link for a new address,
    a "you already have an account" note for a known one."""
    address = normalize_email(data.email)
    async with transaction():
        existing = await User.select(User.id, User.is_active).where(User.email == address).first()
        if existing is None:
            user_id = await create_clinician(data, now=now, settings=settings, active=False)
            token = await account_tokens.issue(user_id, Purpose.SIGNUP, now)
            message_id = await email.queue_email(
                to=address,
                subject="Confirm your Stillwater practice",
                template="signup_confirm",
                context={"name": data.name, "link": f"{settings.base_url}/signup/confirm/{token}"},
                now=now,
                settings=settings,
            )
            await audit.user_event("account_signup", user_id, actor=actor, at=now)
        else:
            # Same work as the new-account branch, so timing does not tell the two apart.
            await hash_password(data.password, settings.password_hash_profile)
            message_id = await email.queue_email(
                to=address,
                subject="You already have a Stillwater account",
                template="signup_existing",
                context={
                    "login_link": f"{settings.base_url}/login",
                    "reset_link": f"{settings.base_url}/password/forgot",
                },
                now=now,
                settings=settings,
            )
    await queue.enqueue_all([email_job(message_id)])


async def confirm_sign_up(token: str, *, now: datetime, actor: Actor) -> CurrentUser | None:
    async with transaction():
        row = await account_tokens.claim(token, Purpose.SIGNUP, now)
        if row is None:
            return None
        await User.update({User.is_active: True, User.last_login_at: now}).where(User.id == row.user)
        await audit.user_event("account_confirmed", row.user, actor=actor, at=now)
    return await current_user(row.user)


async def _sign_in_wait(
    redis: Redis, settings: Settings, address: str, ip: str, *, trusted: bool
) -> tuple[int, str]:
    """How long this attempt must wait, and why ('network', 'address' or 'account'); (0, '') to go on."""
    if await throttle.count(redis, "login-ip", ip) >= settings.login_attempts_per_ip:
        return await throttle.seconds_left(redis, "login-ip", ip), "network"
    if wait := await throttle.seconds_left(redis, "login-wait", f"{address}|{ip}"):
        return wait, "address"
    if not trusted:
        pace = throttle_rules.account_pace(await throttle.count(redis, "login-account", address))
        if pace and (wait := await throttle.take_turn(redis, "login-account-turn", address, pace)):
            return wait, "account"
    return 0, ""


async def _count_wrong_password(redis: Redis, settings: Settings, address: str, ip: str) -> None:
    pair = f"{address}|{ip}"
    failures = await throttle.hit(
        redis, "login-pair", pair, window_seconds=throttle_rules.ADDRESS_MEMORY_SECONDS
    )
    await throttle.hit(redis, "login-account", address, window_seconds=settings.login_window_seconds)
    await throttle.hit(redis, "login-ip", ip, window_seconds=settings.login_window_seconds)
    if wait := throttle_rules.address_wait(failures, free=settings.login_attempts_per_account):
        await throttle.hold(redis, "login-wait", pair, wait)


async def _sign_in_refused(
    action: str, row, actor: Actor, now: datetime, *, outcome: str, detail: str
) -> None:
    """Audit a refused sign-in in its own transaction, under the account's id when the address has one."""
    async with transaction():
        who = Actor(row["id"] if row else None, "", None, actor.ip, actor.user_agent)
        await audit.record(action, actor=who, at=now, outcome=outcome, detail=detail)


async def sign_in(
    email_address: str,
    password: str,
    *,
    redis: Redis,
    settings: Settings,
    now: datetime,
    actor: Actor,
    trust_token: str | None = None,
) -> SignIn:
    """Check a password, throttled per email and source address (progressive waits), per address
    (every email) and per account (slowed, never locked; a trusted browser is not slowed; see
    ``app.domain.sign_in_throttle``). Failures look the same for every cause.

    With two-factor sign-in on (and this browser not trusted) a right password is only the first
    step: the result names the user whose code is needed instead of signing them in.
    """
    address = normalize_email(email_address)
    row = (
        await User.select(
            User.id, User.password_hash, User.is_active, User.totp_enabled_at, User.password_changed_at
        )
        .where(User.email == address)
        .first()
    )
    trusted = bool(
        row
        and row["totp_enabled_at"] is not None
        and two_factor_rules.trusted(
            trust_token,
            settings.secret_key,
            row["id"],
            now,
            password_changed_at=row["password_changed_at"],
            enabled_at=row["totp_enabled_at"],
        )
    )
    wait, reason = await _sign_in_wait(redis, settings, address, actor.ip, trusted=trusted)
    if wait:
        await verify_password(None, password, settings.password_hash_profile)
        await _sign_in_refused("login_throttled", row, actor, now, outcome="denied", detail=reason)
        return SignIn(None, throttled=True, wait_seconds=wait, throttled_by=reason)

    stored = row["password_hash"] if row and row["is_active"] else None
    if not await verify_password(stored, password, settings.password_hash_profile):
        await _count_wrong_password(redis, settings, address, actor.ip)
        detail = "" if row else "unknown_account"
        await _sign_in_refused("login_failed", row, actor, now, outcome="failure", detail=detail)
        return SignIn(None)

    user_id = row["id"]
    await throttle.clear(redis, "login-pair", f"{address}|{actor.ip}")
    if needs_rehash(stored, settings.password_hash_profile):
        async with transaction():
            await User.update(
                {User.password_hash: await hash_password(password, settings.password_hash_profile)}
            ).where(User.id == user_id)
    if row["totp_enabled_at"] is not None and not trusted:
        async with transaction():
            await audit.user_event(
                "login_password_ok",
                user_id,
                actor=Actor(user_id, "", None, actor.ip, actor.user_agent),
                at=now,
                detail="code_required",
            )
        return SignIn(None, needs_code=user_id)
    detail = "trusted_browser" if row["totp_enabled_at"] is not None else ""
    return SignIn(await finish_sign_in(user_id, now=now, actor=actor, detail=detail))


async def finish_sign_in(
    user_id: int, *, now: datetime, actor: Actor, detail: str = ""
) -> CurrentUser | None:
    """Record a completed sign-in (after the password, and the code when one is needed)."""
    async with transaction():
        await User.update({User.last_login_at: now}).where(User.id == user_id)
        user = await current_user(user_id)
        await audit.user_event(
            "login_succeeded",
            user_id,
            actor=Actor(
                user_id,
                user.role if user else "",
                user.clinician_id if user else None,
                actor.ip,
                actor.user_agent,
            ),
            at=now,
            detail=detail,
        )
    return user


async def request_password_reset(
    email_address: str, *, redis: Redis, settings: Settings, now: datetime, actor: Actor, queue: JobQueue
) -> None:
    """E-mail a reset link if the address belongs to an active account. The caller shows the same
    page either way."""
    address = normalize_email(email_address)
    if not await throttle.allow(redis, "reset-account", address, limit=5, window_seconds=3600):
        return
    if not await throttle.allow(redis, "reset-ip", actor.ip, limit=30, window_seconds=3600):
        return
    async with transaction():
        row = (
            await User.select(User.id, User.name)
            .where(
                (User.email == address) & (User.is_active == True)  # noqa: E712
            )
            .first()
        )
        if row is None:
            await audit.record(
                "password_reset_requested", actor=actor, at=now, outcome="failure", detail="unknown_account"
            )
            return
        token = await account_tokens.issue(row["id"], Purpose.PASSWORD_RESET, now)
        practice = await Client.select(Client.clinician).where(Client.user == row["id"]).first()
        message_id = await email.queue_email(
            to=address,
            subject="Reset your Stillwater password",
            template="password_reset",
            context={"name": row["name"], "link": f"{settings.base_url}/password/reset/{token}"},
            now=now,
            settings=settings,
            reply_to=await email.practice_address(practice["clinician"]) if practice else "",
        )
        await audit.user_event("password_reset_requested", row["id"], actor=actor, at=now)
    await queue.enqueue_all([email_job(message_id)])


async def set_password(user_id: int, password: str, *, settings: Settings, now: datetime) -> None:
    """Store a new password hash (inside the caller's transaction)."""
    await User.update(
        {
            User.password_hash: await hash_password(password, settings.password_hash_profile),
            User.password_changed_at: now,
        }
    ).where(User.id == user_id)


async def reset_password(
    token: str, password: str, *, settings: Settings, now: datetime, actor: Actor
) -> int | None:
    """Use a reset link once; returns the user id whose password changed, or None if the link is dead."""
    async with transaction():
        row = await account_tokens.claim(token, Purpose.PASSWORD_RESET, now)
        if row is None:
            return None
        await set_password(row.user, password, settings=settings, now=now)
        await audit.user_event(
            "password_reset", row.user, actor=Actor(row.user, "", None, actor.ip, actor.user_agent), at=now
        )
    return row.user


async def change_password(
    user_id: int, current: str, new: str, *, settings: Settings, now: datetime, actor: Actor
) -> bool:
    """Change a signed-in user's password after checking the current one."""
    row = await User.select(User.password_hash).where(User.id == user_id).first()
    if row is None or not await verify_password(
        row["password_hash"], current, settings.password_hash_profile
    ):
        async with transaction():
            await audit.user_event("password_change", user_id, actor=actor, at=now, outcome="failure")
        return False
    async with transaction():
        await set_password(user_id, new, settings=settings, now=now)
        await audit.user_event("password_change", user_id, actor=actor, at=now)
    return True


async def record_session_end(user_id: int, how: str, *, now: datetime, actor: Actor | None = None) -> None:
    """Audit a sign-out (``how``: ``logout``, ``timeout_idle``, ``timeout_absolute``)."""
    async with transaction():
        await audit.user_event(
            "logout" if how == "logout" else "session_timed_out",
            user_id,
            actor=actor or Actor(user_id=user_id),
            at=now,
            detail=how,
        )
