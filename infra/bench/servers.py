"""Starting the backend in a process of its own for a benchmark: its environment, a free port, readiness."""

from __future__ import annotations

import os
import secrets
import socket
import time

import httpx


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
