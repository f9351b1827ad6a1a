"""Settings: read once from the environment (or Secrets Manager through `*_SECRET_ARN`), validated at start."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from todo_common.settings import ConfigurationError, Settings

BASE = {"BETTER_AUTH_SECRET": "s" * 40, "CHAT_TOKEN_SECRET": "c" * 40}
PRODUCTION = {
    **BASE,
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://app:pw@ep-cool-123-pooler.neon.tech/app?sslmode=require",
    "BETTER_AUTH_URL": "https://todo.example.com",
}


def test_defaults_for_local_use() -> None:
    settings = Settings.from_environ(BASE)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.environment == "development"
    assert settings.jwks_url is None


def test_neon_urls_select_psycopg_and_auth_url_sets_issuer_and_audience() -> None:
    settings = Settings.from_environ(PRODUCTION)
    assert settings.database_url.startswith("postgresql+psycopg://app:pw@ep-cool-123-pooler.neon.tech/")
    assert settings.jwks_url == "https://todo.example.com/api/auth/jwks"
    assert settings.jwt_issuer == settings.jwt_audience == "https://todo.example.com"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({"APP_ENV": "staging", "CHAT_TOKEN_TTL_SECONDS": "soon", "DATABASE_URL": "mysql://x"})
    message = str(caught.value)
    for fragment in ("APP_ENV", "CHAT_TOKEN_TTL_SECONDS", "DATABASE_URL", "BETTER_AUTH_URL", "CHAT_TOKEN_SECRET"):
        assert fragment in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"BETTER_AUTH_SECRET": "short"}, "BETTER_AUTH_SECRET is too short"),
        ({"CHAT_TOKEN_SECRET": "short"}, "CHAT_TOKEN_SECRET is too short"),
        ({"DATABASE_URL": "sqlite:///prod.db"}, "PostgreSQL"),
        ({"BETTER_AUTH_URL": "http://todo.example.com"}, "https"),
        ({"ALLOWED_ORIGINS": "*"}, "ALLOWED_ORIGINS"),
        ({"CHAT_TOKEN_SECRET": "s" * 40}, "must differ"),
    ],
)
def test_production_refuses_unsafe_values(change: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ({**PRODUCTION, **change})


@pytest.fixture
def secrets() -> Iterator[dict[str, str]]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arns = {
            name: client.create_secret(Name=f"todo-chat/{name}", SecretString=value)["ARN"]
            for name, value in {
                "database": "postgresql://app:pw@db.example/app",
                "auth": "a" * 40,
                "chat": "b" * 40,
            }.items()
        }
        yield arns


def test_secret_arns_are_read_from_secrets_manager(secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings.from_environ(
        {
            "APP_ENV": "production",
            "BETTER_AUTH_URL": "https://todo.example.com",
            "DATABASE_URL_SECRET_ARN": secrets["database"],
            "BETTER_AUTH_SECRET_ARN": secrets["auth"],
            "CHAT_TOKEN_SECRET_ARN": secrets["chat"],
        }
    )
    assert settings.database_url == "postgresql+psycopg://app:pw@db.example/app"
    assert settings.better_auth_secret == "a" * 40
    assert settings.chat_token_secret == "b" * 40


def test_an_unreadable_secret_fails_at_start(secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    missing = secrets["auth"].replace("todo-chat/auth", "todo-chat/missing")
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_SECRET_ARN: cannot read secret"):
        Settings.from_environ({**BASE, "BETTER_AUTH_SECRET": "", "BETTER_AUTH_SECRET_ARN": missing})
