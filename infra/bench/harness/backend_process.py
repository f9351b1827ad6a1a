"""The environment of the backend started in a process of its own for a benchmark (`tests.support.server` has
the free port and the readiness check)."""

from __future__ import annotations

import os
import secrets


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    """A development environment on `database_url` with fresh secrets and no rate limit worth the name; the Better
    Auth secret is also set in this process, so `infra.devtoken` mints tokens the server accepts."""
    secret = secrets.token_urlsafe(32)
    os.environ["BETTER_AUTH_SECRET"] = secret
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "BETTER_AUTH_SECRET": secret,
        "CHAT_TOKEN_SECRET": secrets.token_urlsafe(32),
        "CHAT_RATE_LIMIT_PER_MINUTE": "10000",
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
