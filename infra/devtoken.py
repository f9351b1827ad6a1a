"""Development sign-in: secrets kept under `.data/` and Better Auth-style HS256 tokens for local users.

`make token USER=mallory` (or `.venv/bin/python -m infra.devtoken [USER_ID]`) prints a token for USER_ID (default:
the demo user). Only for local use: the secrets are random per checkout and production refuses them anyway
(APP_ENV=production needs real ones)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

import jwt

DEMO_USER = "demo-user"
SECRETS_FILE = Path(".data/dev-secrets.env")
DEV_TOKEN_HOURS = 12


def load_dev_environment() -> None:
    """Fill the environment with the local defaults and this checkout's own random secrets."""
    if not SECRETS_FILE.exists():
        SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRETS_FILE.write_text(
            f"BETTER_AUTH_SECRET={secrets.token_urlsafe(32)}\nCHAT_TOKEN_SECRET={secrets.token_urlsafe(32)}\n"
        )
        SECRETS_FILE.chmod(0o600)
    for line in SECRETS_FILE.read_text().splitlines():
        name, _, value = line.partition("=")
        if name and value:
            os.environ.setdefault(name.strip(), value.strip())
    os.environ.setdefault("APP_ENV", "development")


def dev_token(user_id: str = DEMO_USER, *, hours: int = DEV_TOKEN_HOURS) -> str:
    secret = os.environ["BETTER_AUTH_SECRET"]
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + hours * 3600, "name": user_id}
    issuer = os.environ.get("JWT_ISSUER") or os.environ.get("BETTER_AUTH_URL")
    audience = os.environ.get("JWT_AUDIENCE") or os.environ.get("BETTER_AUTH_URL")
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.devtoken",
        description="Print a development Better Auth token (HS256, signed with this checkout's .data/dev-secrets.env).",
        epilog="Open the dev page as http://127.0.0.1:8000/?token=<token> to act as that user.",
    )
    parser.add_argument("user_id", nargs="?", default=DEMO_USER, help=f"the token's subject (default: {DEMO_USER})")
    parser.add_argument("--hours", type=int, default=DEV_TOKEN_HOURS, help=f"lifetime (default: {DEV_TOKEN_HOURS})")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.user_id.startswith("-") or not args.user_id.strip():
        parser.error(f"not a user id: {args.user_id!r}")
    load_dev_environment()
    print(dev_token(args.user_id, hours=args.hours))


if __name__ == "__main__":
    main()
