"""The one settings object of a container, read from the environment and validated once at start.

Every value may also come from AWS Secrets Manager: `NAME_SECRET_ARN` (`NAME_ARN` for names ending in `_SECRET`)
is read through Powertools Parameters when `NAME` itself is not set. Values are read once per container, at
start; the database URL is read again (Parameters' cache, `SECRETS_MAX_AGE_SECONDS`) whenever a new connection
is opened, and fresh on an authentication failure, so a rotated database password works in a warm container.
Problems are collected and reported together, so a misconfigured deployment fails its first start with one clear
message instead of a 500 later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Environment = Literal["development", "test", "production"]

DEFAULT_SQLITE_URL = "sqlite:///.data/todo-chat.db"
MIN_SECRET_LENGTH = 32
CHAT_TOKEN_ISSUER = "todo-chat/session"
DEFAULT_CHAT_TOKEN_AUDIENCE = "todo-chat/chat"

DEFAULT_SECRETS_MAX_AGE_SECONDS = 300
DEFAULT_CHAT_MODEL = "gpt-5-mini"

SecretReader = Callable[[str], str]
UrlSource = Callable[[bool], str]
"""Gives a URL again; with True, skipping any cache."""


class ConfigurationError(RuntimeError):
    """The environment does not describe a usable deployment."""


@dataclass(frozen=True)
class Settings:
    environment: Environment = "development"
    database_url: str = DEFAULT_SQLITE_URL
    better_auth_secret: str | None = None
    better_auth_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 30
    jwks_cache_seconds: int = 300
    chat_token_secret: str | None = None
    chat_token_audience: str = DEFAULT_CHAT_TOKEN_AUDIENCE
    chat_token_ttl_seconds: int = 900
    chat_base_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_request_bytes: int = 64 * 1024
    dictation: bool = False  # whether the chat function has a speech-to-text provider (the session tells ChatKit)
    attachments: bool = True  # whether ChatKit's composer offers attachments (the session tells ChatKit)
    attachments_bucket: str | None = None  # S3 bucket of the attachments' files; None: a local folder
    offered_models: tuple[str, ...] = (
        DEFAULT_CHAT_MODEL,
    )  # what the chat function lets a composer pick, default first
    log_level: str = "INFO"
    service_name: str = "todo-chat"

    @property
    def jwks_url(self) -> str | None:
        return f"{self.better_auth_url.rstrip('/')}/api/auth/jwks" if self.better_auth_url else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        read_secret: SecretReader | None = None,
    ) -> Settings:
        """Build and validate the settings; raise `ConfigurationError` listing every problem found."""
        source = EnvironmentSource(os.environ if environ is None else environ, read_secret or read_aws_secret)
        problems: list[str] = []

        environment = source.get("APP_ENV") or "development"
        if environment not in ("development", "test", "production"):
            problems.append(f"APP_ENV must be development, test or production, not {environment!r}")
            environment = "production"

        better_auth_url = source.get("BETTER_AUTH_URL")
        bucket = (source.get("CHAT_ATTACHMENTS_BUCKET") or "").strip() or None
        settings = cls(
            environment=environment,  # type: ignore[arg-type]
            database_url=normalize_database_url(source.get("DATABASE_URL") or DEFAULT_SQLITE_URL),
            better_auth_secret=source.get("BETTER_AUTH_SECRET"),
            better_auth_url=better_auth_url,
            jwt_issuer=source.get("JWT_ISSUER") or better_auth_url,
            jwt_audience=source.get("JWT_AUDIENCE") or better_auth_url,
            jwt_leeway_seconds=source.get_int("JWT_LEEWAY_SECONDS", 30, minimum=0, maximum=300),
            jwks_cache_seconds=source.get_int("JWKS_CACHE_SECONDS", 300, minimum=1, maximum=86400),
            chat_token_secret=source.get("CHAT_TOKEN_SECRET"),
            chat_token_audience=source.get("CHAT_TOKEN_AUDIENCE") or DEFAULT_CHAT_TOKEN_AUDIENCE,
            chat_token_ttl_seconds=source.get_int("CHAT_TOKEN_TTL_SECONDS", 900, minimum=60, maximum=86400),
            chat_base_url=(source.get("CHAT_BASE_URL") or "").rstrip("/") or None,
            allowed_origins=tuple(
                o.strip().rstrip("/") for o in (source.get("ALLOWED_ORIGINS") or "").split(",") if o.strip()
            ),
            max_request_bytes=source.get_int("MAX_REQUEST_BYTES", 64 * 1024, minimum=1024, maximum=6 * 1024 * 1024),
            # Only whether a key is configured: the session function never reads the chat function's secret.
            dictation=source.get_bool(
                "CHAT_DICTATION",
                bool(source.environ.get("OPENAI_API_KEY") or source.environ.get("OPENAI_API_KEY_SECRET_ARN")),
            ),
            attachments=_attachments(source, bucket),
            attachments_bucket=bucket,
            offered_models=allowed_models(*chat_models(source)),
            log_level=(source.get("LOG_LEVEL") or "INFO").upper(),
            service_name=source.get("POWERTOOLS_SERVICE_NAME") or "todo-chat",
        )
        source.get_int("SECRETS_MAX_AGE_SECONDS", DEFAULT_SECRETS_MAX_AGE_SECONDS, minimum=0, maximum=86400)
        problems.extend(source.problems)
        problems.extend(settings._problems())
        if problems:
            raise ConfigurationError("Invalid configuration:\n  - " + "\n  - ".join(problems))
        return settings

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if not self.database_url.startswith(("sqlite", "postgresql+psycopg://")):
            problems.append("DATABASE_URL must be a postgresql:// (psycopg 3) or sqlite:/// URL")
        if not self.better_auth_secret and not self.better_auth_url:
            problems.append("set BETTER_AUTH_URL (EdDSA tokens through JWKS) or BETTER_AUTH_SECRET (HS256 tokens)")
        if not self.chat_token_secret:
            problems.append(
                "set CHAT_TOKEN_SECRET (or CHAT_TOKEN_SECRET_ARN): it signs the chat tokens of the session function"
            )
        if self.environment == "production":
            problems += self._production_problems()
        return problems

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        if self.is_sqlite:
            problems.append("production needs a PostgreSQL DATABASE_URL, not the local SQLite file")
        for name, value in (
            ("BETTER_AUTH_SECRET", self.better_auth_secret),
            ("CHAT_TOKEN_SECRET", self.chat_token_secret),
        ):
            if value is not None and len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name} is too short for production (at least {MIN_SECRET_LENGTH} characters)")
        if self.chat_token_secret and self.chat_token_secret == self.better_auth_secret:
            problems.append("CHAT_TOKEN_SECRET must differ from BETTER_AUTH_SECRET")
        if self.better_auth_secret and not (self.jwt_issuer and self.jwt_audience):
            problems.append(
                "BETTER_AUTH_SECRET tokens need JWT_ISSUER and JWT_AUDIENCE (or BETTER_AUTH_URL) in production"
            )
        if self.better_auth_url and not self.better_auth_url.startswith("https://"):
            problems.append("BETTER_AUTH_URL must use https in production")
        if "*" in self.allowed_origins:
            problems.append("ALLOWED_ORIGINS may not be '*' in production: list the frontend origins")
        return problems


def normalize_database_url(url: str) -> str:
    """Accept the URL forms hosting providers hand out (Neon gives `postgresql://`) and select psycopg 3."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_arn_name(name: str) -> str:
    """`BETTER_AUTH_SECRET` → `BETTER_AUTH_SECRET_ARN`; `DATABASE_URL` → `DATABASE_URL_SECRET_ARN`."""
    return f"{name}_ARN" if name.endswith("_SECRET") else f"{name}_SECRET_ARN"


def chat_models(source: EnvironmentSource) -> tuple[str, tuple[str, ...]]:
    """The chat function's model (`CHAT_MODEL`) and the others a ChatKit composer may pick (`CHAT_MODELS`, a comma
    list), read where both the chat and the session function read them."""
    others = tuple(m.strip() for m in (source.get("CHAT_MODELS") or "").split(",") if m.strip())
    return source.get("CHAT_MODEL") or DEFAULT_CHAT_MODEL, others


def allowed_models(chat_model: str, others: Iterable[str]) -> tuple[str, ...]:
    """The models a user may pick, each once: the chat model first (the default), then the others in their order."""
    return tuple(dict.fromkeys((chat_model, *others)))


class EnvironmentSource:
    """Environment variables, each optionally replaced by the Secrets Manager secret named in `NAME_SECRET_ARN`."""

    def __init__(self, environ: Mapping[str, str], read_secret: SecretReader) -> None:
        self.environ = environ
        self._read_secret = read_secret
        self.problems: list[str] = []

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name, "").strip()
        if value:
            return value
        arn_name = secret_arn_name(name)
        arn = self.environ.get(arn_name, "").strip()
        if not arn:
            return default
        try:
            secret = self._read_secret(arn).strip()
        except Exception as exc:  # noqa: BLE001 - reported with every other problem, at start
            self.problems.append(f"{arn_name}: cannot read secret {arn}: {type(exc).__name__}: {exc}")
            return default
        if not secret:
            self.problems.append(f"{arn_name}: secret {arn} is empty")
        return secret or default

    def get_bool(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        return default if raw is None else raw.lower() in ("1", "true", "yes")

    def get_int(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be an integer, not {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name} must be between {minimum} and {maximum}, not {value}")
            return default
        return value


def secrets_max_age(environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get("SECRETS_MAX_AGE_SECONDS", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_SECRETS_MAX_AGE_SECONDS


def read_aws_secret(arn: str, *, force_fetch: bool = False, max_age: int | None = None) -> str:
    # Imported here: Parameters pulls in boto3 (~150 ms), which a container without secret ARNs never needs.
    from aws_lambda_powertools.utilities import parameters

    value: object = parameters.get_secret(
        arn, max_age=secrets_max_age() if max_age is None else max_age, force_fetch=force_fetch
    )
    return value.decode() if isinstance(value, bytes) else str(value)


def database_url_source(environ: Mapping[str, str] | None = None) -> UrlSource | None:
    """`DATABASE_URL` read again from its secret, when that is where it comes from (else None: it cannot change)."""
    source = os.environ if environ is None else environ
    arn = source.get(secret_arn_name("DATABASE_URL"), "").strip()
    if source.get("DATABASE_URL", "").strip() or not arn:
        return None
    max_age = secrets_max_age(source)

    def read(force: bool) -> str:
        return read_aws_secret(arn, force_fetch=force, max_age=max_age).strip()

    return read


def _attachments(source: EnvironmentSource, bucket: str | None) -> bool:
    """Whether users may attach files: on by default where a store can keep them (a local folder; on Lambda, whose
    disk is read-only and whose upload links would point at the function itself, only the S3 bucket)."""
    no_store = bool(source.get("AWS_LAMBDA_FUNCTION_NAME")) and bucket is None
    wanted = source.get_bool("CHAT_ATTACHMENTS", not no_store)
    if wanted and no_store:
        source.problems.append("CHAT_ATTACHMENTS on Lambda needs CHAT_ATTACHMENTS_BUCKET (an S3 bucket for the files)")
    return wanted
