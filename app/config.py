"""Settings read from the environment. The names are stable (scripts depend on them): see the README."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from app.clock import parse_instant

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"
DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside debug
STRIPE_JS = "https://js.stripe.com/v3/"


class ConfigError(RuntimeError):
    """Raised when the environment asks for something unsafe or impossible."""


def default_database_url() -> str:
    return f"sqlite:///{VAR_DIR / 'stillwater.sqlite'}"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: os._Environ[str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds.") from None


def _instant(env: os._Environ[str], name: str) -> datetime | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be an ISO 8601 instant with an offset, e.g. 2027-03-14T06:30Z."
        ) from None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = DEV_SECRET
    debug: bool = True
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str = ""
    email_webhook_token: str = ""
    email_from: str = "Stillwater <no-reply@stillwater.test>"
    payment_gateway: str = "sandbox"
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    stripe_publishable_key: str = ""
    stripe_js_url: str = STRIPE_JS
    stripe_webhook_secret: str = ""
    # A Twilio-compatible text provider (blank URL: texts are written but not sent; see README).
    text_provider_url: str = ""
    text_account_sid: str = ""
    text_auth_token: str = ""
    text_from: str = ""
    charge_delay: int = 172800
    charge_lease: int = 120
    demo_password: str = "stillwater-demo"  # noqa: S105 - documented demo default
    clinician_idle_timeout: int = 15 * 60
    client_idle_timeout: int = 30 * 60
    session_absolute_timeout: int = 12 * 60 * 60
    password_hash_profile: str = "strong"  # noqa: S105 - a profile name
    use_db_pool: bool = True
    login_attempts_per_account: int = 5
    login_attempts_per_ip: int = 30
    login_window_seconds: int = 15 * 60
    queue_name: str = "stillwater:queue"
    data_keys: tuple[str, ...] = ()
    clock_start: datetime | None = None
    metrics_token: str = ""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("DATABASE_URL") or default_database_url(),
            "redis_url": env.get("REDIS_URL") or cls.redis_url,
            "secret_key": env.get("SECRET_KEY") or DEV_SECRET,
            "debug": _bool(env.get("DEBUG"), default=False),
            "base_url": (env.get("BASE_URL") or cls.base_url).rstrip("/"),
            "smtp_url": env.get("SMTP_URL", ""),
            "email_webhook_token": env.get("EMAIL_WEBHOOK_TOKEN", ""),
            "email_from": env.get("EMAIL_FROM") or cls.email_from,
            "payment_gateway": env.get("PAYMENT_GATEWAY") or "sandbox",
            "stripe_api_key": env.get("STRIPE_API_KEY", ""),
            "stripe_api_base": env.get("STRIPE_API_BASE", ""),
            "stripe_publishable_key": env.get("STRIPE_PUBLISHABLE_KEY", ""),
            "stripe_js_url": env.get("STRIPE_JS_URL") or STRIPE_JS,
            "stripe_webhook_secret": env.get("STRIPE_WEBHOOK_SECRET", ""),
            "text_provider_url": env.get("TEXT_PROVIDER_URL", ""),
            "text_account_sid": env.get("TEXT_ACCOUNT_SID", ""),
            "text_auth_token": env.get("TEXT_AUTH_TOKEN", ""),
            "text_from": env.get("TEXT_FROM", ""),
            "charge_delay": _int(env, "CHARGE_DELAY", cls.charge_delay),
            "charge_lease": _int(env, "CHARGE_LEASE", cls.charge_lease),
            "demo_password": env.get("DEMO_PASSWORD") or cls.demo_password,
            "password_hash_profile": env.get("PASSWORD_HASH_PROFILE") or "strong",
            "use_db_pool": _bool(env.get("USE_DB_POOL"), default=True),
            "clinician_idle_timeout": _int(env, "CLINICIAN_IDLE_TIMEOUT", cls.clinician_idle_timeout),
            "client_idle_timeout": _int(env, "CLIENT_IDLE_TIMEOUT", cls.client_idle_timeout),
            "session_absolute_timeout": _int(env, "SESSION_MAX_AGE", cls.session_absolute_timeout),
            "data_keys": tuple(key.strip() for key in env.get("DATA_KEYS", "").split(",") if key.strip()),
            "clock_start": _instant(env, "CLOCK_START"),
            "metrics_token": env.get("METRICS_TOKEN", ""),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def secure_cookies(self) -> bool:
        return not self.debug

    def check(self) -> None:
        """Refuse settings that would be unsafe in production."""
        if not self.debug and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "outside debug (DEBUG=1 allows the development default)."
            )
        if self.clock_start and not self.debug:
            raise ConfigError("CLOCK_START (running the app at another date) is for debug and tests only.")
        if self.payment_gateway not in {"sandbox", "stripe"}:
            raise ConfigError("PAYMENT_GATEWAY must be 'sandbox' or 'stripe'.")
        if self.payment_gateway == "stripe" and not self.stripe_api_key:
            raise ConfigError("PAYMENT_GATEWAY=stripe needs STRIPE_API_KEY.")
        if self.payment_gateway == "stripe" and not self.stripe_publishable_key:
            raise ConfigError("PAYMENT_GATEWAY=stripe needs STRIPE_PUBLISHABLE_KEY (the card form uses it).")
        if self.stripe_js_url != STRIPE_JS and not self.debug:
            raise ConfigError("STRIPE_JS_URL (a stand-in for Stripe.js) is for debug and tests only.")
        for name, value in (
            ("CLINICIAN_IDLE_TIMEOUT", self.clinician_idle_timeout),
            ("CLIENT_IDLE_TIMEOUT", self.client_idle_timeout),
            ("SESSION_MAX_AGE", self.session_absolute_timeout),
        ):
            if value < 120:
                raise ConfigError(f"{name} must be at least 120 seconds (the warning comes a minute before).")
        if self.session_absolute_timeout < max(self.clinician_idle_timeout, self.client_idle_timeout):
            raise ConfigError("SESSION_MAX_AGE must not be shorter than the idle timeouts.")
        if self.metrics_token and len(self.metrics_token) < 24:
            raise ConfigError("METRICS_TOKEN must be at least 24 characters (or unset: no /metrics).")
        if self.charge_delay < 0:
            raise ConfigError("CHARGE_DELAY must be a number of seconds, 0 or more.")
        for key in self.data_keys:
            try:
                if len(base64.urlsafe_b64decode(key.encode())) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    "DATA_KEYS must be Fernet keys (32 bytes, URL-safe base64), separated by commas."
                ) from None
