"""Real tokens of every kind the backend meets, signed with real keys."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from tests.support.jwks import JwksServer, SigningKey
from todo_common.auth import mint_chat_token
from todo_common.settings import Settings


@dataclass
class Tokens:
    settings: Settings
    jwks: JwksServer

    def claims(self, user_id: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "iat": now,
            "exp": now + 600,
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "email": f"{user_id}@example.test",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def hs256(self, user_id: str, *, secret: str | None = None, **overrides: Any) -> str:
        key = secret or self.settings.better_auth_secret
        assert key
        return jwt.encode(self.claims(user_id, **overrides), key, algorithm="HS256")

    def eddsa(self, user_id: str, *, key: SigningKey | None = None, **overrides: Any) -> str:
        signing = key or self.jwks.current
        return jwt.encode(
            self.claims(user_id, **overrides), signing.private_key, algorithm="EdDSA", headers={"kid": signing.kid}
        )

    def chat(self, user_id: str) -> str:
        return mint_chat_token(self.settings, user_id)[0]

    def headers(self, user_id: str, kind: str = "eddsa") -> dict[str, str]:
        token = {"eddsa": self.eddsa, "hs256": self.hs256, "chat": self.chat}[kind](user_id)
        return {"Authorization": f"Bearer {token}"}
