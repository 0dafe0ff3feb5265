"""Two-factor sign-in with an authenticator app (TOTP), recovery codes and trusted browsers.

- Enrolment: a new secret waits in Redis (15 minutes) until the person proves, with their password
  and a code from the app, that the app has it; only then is it stored on the user, sealed (see
  ``sealing``), with ten recovery codes, shown once and kept as argon2 hashes.
- Sign-in: after the right password, a short-lived "pending code" entry in Redis (not a session)
  remembers who is half-way in. The code step is throttled per account and per IP like the
  password step, refuses a code already used in its window and accepts one step of clock skew.
- Turning it off needs the password and a current code (or a recovery code).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import segno
from redis.asyncio import Redis

from app.config import Settings
from app.domain import two_factor as rules
from app.domain.members import Ability
from app.domain.validation import FieldProblem
from app.models.db import transaction
from app.models.tables import Clinician, Practice, RecoveryCode, User
from app.services import accounts, audit, practices, sealing, throttle
from app.services.context import Actor, CurrentUser
from app.services.passwords import hash_password, verify_password
from app.services.tokens import new_token, token_hash

log = logging.getLogger("stillwater.two_factor")

PENDING_PREFIX = "sw:2fa-pending:"
ENROL_PREFIX = "sw:2fa-enrol:"
PENDING_SECONDS = 5 * 60
ENROL_SECONDS = 15 * 60


class TwoFactorError(FieldProblem):
    """A two-factor change was refused; ``field`` names the form field the message belongs to."""


@dataclass(frozen=True)
class Status:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int
    required: bool


@dataclass(frozen=True)
class Enrolment:
    secret: str
    grouped_secret: str
    qr_data_uri: str


@dataclass(frozen=True)
class CodeResult:
    """The outcome of the code step: the signed-in user, or why not."""

    user: CurrentUser | None = None
    throttled: bool = False
    expired: bool = False
    next_path: str = ""


async def status(user: CurrentUser) -> Status:
    row = await User.select(User.totp_enabled_at).where(User.id == user.id).first()
    left = await RecoveryCode.count().where((RecoveryCode.user == user.id) & RecoveryCode.used_at.is_null())
    return Status(
        enabled=row["totp_enabled_at"] is not None,
        enabled_at=row["totp_enabled_at"],
        recovery_codes_left=left,
        required=await required_for(user),
    )


async def required_for(user: CurrentUser) -> bool:
    """True when the practice setting requires two-factor sign-in for this member's account (their seat's
    setting; the practice's for the front desk, who has no seat)."""
    if user.own_clinician_id is not None:
        row = (
            await Clinician.select(Clinician.require_two_factor)
            .where(Clinician.id == user.own_clinician_id)
            .first()
        )
    elif user.practice_id is not None:
        row = (
            await Practice.select(Practice.require_two_factor).where(Practice.id == user.practice_id).first()
        )
    else:
        return False
    return bool(row and row["require_two_factor"])


async def must_enrol(user: CurrentUser) -> bool:
    """A clinician whose practice requires two-factor sign-in but who has not set it up yet."""
    if not await required_for(user):
        return False
    row = await User.select(User.totp_enabled_at).where(User.id == user.id).first()
    return row["totp_enabled_at"] is None


async def begin_enrolment(redis: Redis, user: CurrentUser) -> Enrolment:
    """The secret waiting to be confirmed (kept for 15 minutes, so a reload shows the same one)."""
    key = f"{ENROL_PREFIX}{user.id}"
    raw = await redis.get(key)
    secret = raw.decode() if isinstance(raw, bytes) else raw
    if not secret:
        secret = rules.new_secret()
        await redis.set(key, secret, ex=ENROL_SECONDS)
    qr = segno.make(rules.provisioning_uri(secret, user.email), error="m")
    return Enrolment(secret, rules.grouped(secret), qr.svg_data_uri(scale=5, border=2))


async def _check_password(user_id: int, password: str, settings: Settings) -> bool:
    row = await User.select(User.password_hash).where(User.id == user_id).first()
    return await verify_password(
        row["password_hash"] if row else None, password, settings.password_hash_profile
    )


async def _hashed_recovery_codes(settings: Settings) -> list[tuple[str, str]]:
    """Ten new codes with their hashes (computed outside any transaction: hashing is slow)."""
    return [
        (code, await hash_password(code, settings.password_hash_profile))
        for code in rules.new_recovery_codes()
    ]


async def _replace_recovery_codes(user_id: int, hashed: list[tuple[str, str]], *, now: datetime) -> list[str]:
    """Swap the user's recovery codes for ``hashed`` (inside the caller's transaction)."""
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    await RecoveryCode.insert(
        *[
            RecoveryCode(user=user_id, prefix=code[:4], code_hash=digest, created_at=now)
            for code, digest in hashed
        ]
    )
    return [code for code, _ in hashed]


async def complete_enrolment(
    redis: Redis,
    user: CurrentUser,
    password: str,
    code: str,
    *,
    settings: Settings,
    now: datetime,
    actor: Actor,
) -> list[str]:
    """Turn two-factor sign-in on once the password and a code from the app check out.

    Returns the ten recovery codes (the only time they exist in clear). Raises ``TwoFactorError``.
    """
    raw = await redis.get(f"{ENROL_PREFIX}{user.id}")
    secret = raw.decode() if isinstance(raw, bytes) else raw
    if not secret:
        raise TwoFactorError("code", "This set-up expired. Scan the new QR code and try again.")
    if not await _check_password(user.id, password, settings):
        await _audit_failure("two_factor_enable", user, now=now, actor=actor, detail="wrong_password")
        raise TwoFactorError("password", "That isn't your current password.")
    step = rules.matching_step(secret, code, now)
    if step is None:
        await _audit_failure("two_factor_enable", user, now=now, actor=actor, detail="wrong_code")
        raise TwoFactorError("code", "That code doesn't match. Enter the 6-digit code your app shows now.")
    hashed = await _hashed_recovery_codes(settings)
    async with transaction():
        await User.update(
            {
                User.totp_secret: sealing.seal(secret, settings),
                User.totp_enabled_at: now,
                User.totp_last_step: step,
            }
        ).where(User.id == user.id)
        codes = await _replace_recovery_codes(user.id, hashed, now=now)
        await audit.user_event("two_factor_enabled", user.id, actor=actor, at=now)
    await redis.delete(f"{ENROL_PREFIX}{user.id}")
    return codes


async def _audit_failure(action: str, user: CurrentUser, *, now: datetime, actor: Actor, detail: str) -> None:
    async with transaction():
        await audit.user_event(action, user.id, actor=actor, at=now, outcome="failure", detail=detail)


async def _use_code(user_id: int, code: str, *, now: datetime, settings: Settings) -> str | None:
    """Spend a TOTP code (once per step) or a recovery code (once ever), inside the caller's
    transaction. Returns ``"app"``, ``"recovery_code"`` or None."""
    row = await User.select(User.totp_secret, User.totp_last_step).where(User.id == user_id).first()
    if row is None or not row["totp_secret"]:
        return None
    if rules.looks_like_totp(code):
        try:
            secret = sealing.unseal(row["totp_secret"], settings)
        except sealing.CannotOpen:
            # DATA_KEYS (or SECRET_KEY, when it derives the key) changed: recovery codes still work.
            log.warning("user %s: the two-step secret can't be opened with the configured keys", user_id)
            return None
        step = rules.matching_step(secret, code, now, after_step=row["totp_last_step"])
        if step is None:
            return None
        spent: dict = {User.totp_last_step: step}
        if not sealing.is_sealed(row["totp_secret"]):
            spent[User.totp_secret] = sealing.seal(secret, settings)  # stored before sealing existed
        last = User.totp_last_step
        claimed = (
            await User.update(spent)
            .where((User.id == user_id) & (last.is_null() | (last < step)))
            .returning(User.id)
        )
        return "app" if claimed else None
    prefix = rules.recovery_prefix(code)
    if prefix is None:
        return None
    candidate = (
        await RecoveryCode.select(RecoveryCode.id, RecoveryCode.code_hash)
        .where(
            (RecoveryCode.user == user_id) & (RecoveryCode.prefix == prefix) & RecoveryCode.used_at.is_null()
        )
        .first()
    )
    if candidate is None or not await verify_password(
        candidate["code_hash"], rules.canonical_recovery(code), settings.password_hash_profile
    ):
        return None
    claimed = (
        await RecoveryCode.update({RecoveryCode.used_at: now})
        .where((RecoveryCode.id == candidate["id"]) & RecoveryCode.used_at.is_null())
        .returning(RecoveryCode.id)
    )
    return "recovery_code" if claimed else None


async def start_pending(redis: Redis, user_id: int, next_path: str, *, now: datetime) -> str:
    """Remember, for five minutes, that ``user_id`` gave the right password; returns the browser's token."""
    token = new_token()
    value = {"user_id": user_id, "next": next_path, "expires": now.timestamp() + PENDING_SECONDS}
    await redis.set(f"{PENDING_PREFIX}{token_hash(token)}", json.dumps(value), ex=PENDING_SECONDS + 60)
    return token


async def _pending(redis: Redis, token: str | None, now: datetime) -> dict | None:
    if not token or len(token) > 128:
        return None
    raw = await redis.get(f"{PENDING_PREFIX}{token_hash(token)}")
    if raw is None:
        return None
    value = json.loads(raw)
    if now.timestamp() >= value["expires"]:
        await redis.delete(f"{PENDING_PREFIX}{token_hash(token)}")
        return None
    return value


async def pending_exists(redis: Redis, token: str | None, *, now: datetime) -> bool:
    return await _pending(redis, token, now) is not None


async def verify_sign_in_code(
    redis: Redis, token: str | None, code: str, *, settings: Settings, now: datetime, actor: Actor
) -> CodeResult:
    """The second sign-in step. Throttled per account and per IP with the password step's limits."""
    pending = await _pending(redis, token, now)
    if pending is None:
        return CodeResult(expired=True)
    user_id = pending["user_id"]
    window = settings.login_window_seconds
    subject = str(user_id)
    who = Actor(user_id, "", None, actor.ip, actor.user_agent)
    if (
        await throttle.count(redis, "code-account", subject) >= settings.login_attempts_per_account
        or await throttle.count(redis, "code-ip", actor.ip) >= settings.login_attempts_per_ip
    ):
        async with transaction():
            await audit.user_event(
                "login_throttled", user_id, actor=who, at=now, outcome="denied", detail="code_step"
            )
        return CodeResult(throttled=True)
    async with transaction():
        method = await _use_code(user_id, code, now=now, settings=settings)
        if method == "recovery_code":
            await audit.user_event("recovery_code_used", user_id, actor=who, at=now)
    if method is None:
        await throttle.hit(redis, "code-account", subject, window_seconds=window)
        await throttle.hit(redis, "code-ip", actor.ip, window_seconds=window)
        async with transaction():
            await audit.user_event("login_code_failed", user_id, actor=who, at=now, outcome="failure")
        return CodeResult()
    await throttle.clear(redis, "code-account", subject)
    await redis.delete(f"{PENDING_PREFIX}{token_hash(token or '')}")
    user = await accounts.finish_sign_in(user_id, now=now, actor=actor, detail=method)
    return CodeResult(user=user, next_path=pending["next"])


async def trust_browser(user_id: int, *, settings: Settings, now: datetime) -> str:
    """A token for the "trust this browser for 30 days" cookie."""
    row = await User.select(User.password_changed_at, User.totp_enabled_at).where(User.id == user_id).first()
    return rules.trust_token(
        settings.secret_key,
        user_id,
        now,
        password_changed_at=row["password_changed_at"],
        enabled_at=row["totp_enabled_at"],
    )


async def regenerate_recovery_codes(
    user: CurrentUser, code: str, *, settings: Settings, now: datetime, actor: Actor
) -> list[str]:
    """Ten fresh recovery codes (the old ones stop working), after a current code from the app."""
    hashed = await _hashed_recovery_codes(settings)
    async with transaction():
        method = (
            await _use_code(user.id, code, now=now, settings=settings)
            if rules.looks_like_totp(code)
            else None
        )
        if method is not None:
            codes = await _replace_recovery_codes(user.id, hashed, now=now)
            await audit.user_event("recovery_codes_regenerated", user.id, actor=actor, at=now)
    if method is None:
        await _audit_failure("recovery_codes_regenerated", user, now=now, actor=actor, detail="wrong_code")
        raise TwoFactorError("code", "That code doesn't match. Enter the 6-digit code your app shows now.")
    return codes


async def disable(
    user: CurrentUser, password: str, code: str, *, settings: Settings, now: datetime, actor: Actor
) -> None:
    """Turn two-factor sign-in off: needs the password and a current code (or a recovery code)."""
    if await required_for(user):
        raise TwoFactorError(
            "form", "Your practice requires two-step sign-in. Turn that requirement off first."
        )
    if not await _check_password(user.id, password, settings):
        await _audit_failure("two_factor_disable", user, now=now, actor=actor, detail="wrong_password")
        raise TwoFactorError("password", "That isn't your current password.")
    async with transaction():
        method = await _use_code(user.id, code, now=now, settings=settings)
        if method is not None:
            await User.update(
                {User.totp_secret: None, User.totp_enabled_at: None, User.totp_last_step: None}
            ).where(User.id == user.id)
            await RecoveryCode.delete().where(RecoveryCode.user == user.id)
            await audit.user_event("two_factor_disabled", user.id, actor=actor, at=now)
    if method is None:
        await _audit_failure("two_factor_disable", user, now=now, actor=actor, detail="wrong_code")
        raise TwoFactorError("code", "That code doesn't match. Enter the code your app shows now.")


async def set_required(user: CurrentUser, required: bool, *, now: datetime, actor: Actor) -> None:
    """The practice setting: require two-factor sign-in for the clinician account (the owner's to set)."""
    practices.require(user, Ability.CHANGE_PRACTICE_SETTINGS)
    if user.own_clinician_id is None:
        return
    async with transaction():
        await Clinician.update({Clinician.require_two_factor: required}).where(
            Clinician.id == user.own_clinician_id
        )
        await practices.keep_practice_in_step(user.own_clinician_id)
        await audit.practice_event(
            "two_factor_requirement_changed",
            user.own_clinician_id,
            actor=actor,
            at=now,
            detail="required" if required else "optional",
        )
