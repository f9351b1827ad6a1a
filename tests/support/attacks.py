"""Forged, broken and misused tokens: what an attacker would send instead of a valid bearer token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from tests.support.jwks import JwksServer, SigningKey
from tests.support.tokens import Tokens
from todo_common.settings import CHAT_TOKEN_ISSUER, Settings


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def hs256_with_key(claims: dict[str, Any], key: bytes, kid: str | None) -> str:
    """Algorithm confusion: an HS256 token whose HMAC key is the server's public key (PyJWT refuses to make one)."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64(header)}.{b64(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def attack_tokens(user_id: str, settings: Settings, jwks: JwksServer, tokens: Tokens) -> dict[str, str]:
    claims = tokens.claims(user_id)
    public_pem = jwks.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, _payload, signature = tokens.eddsa(user_id).split(".")
    chat_claims = {**claims, "iss": CHAT_TOKEN_ISSUER, "aud": settings.chat_token_audience}
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "alg none with kid": f"{b64({'alg': 'none', 'kid': jwks.current.kid})}.{b64(claims)}.",
        "hs256 signed with the public key": hs256_with_key(claims, public_pem, jwks.current.kid),
        "hs256 signed with the public key, no kid": hs256_with_key(claims, public_pem, None),
        "wrong key": tokens.eddsa(user_id, key=SigningKey(jwks.current.kid)),
        "unknown kid": tokens.eddsa(user_id, key=SigningKey("unknown-kid")),
        "wrong secret": tokens.hs256(user_id, secret="another-secret-of-at-least-32-characters"),
        "expired": tokens.hs256(user_id, exp=int(time.time()) - 3600),
        "not yet valid": tokens.hs256(user_id, nbf=int(time.time()) + 3600),
        "no sub": tokens.hs256(user_id, sub=None),
        "no exp": tokens.hs256(user_id, exp=None),
        "no iat": tokens.hs256(user_id, iat=None),
        "wrong iss": tokens.hs256(user_id, iss="https://evil.example"),
        "wrong aud": tokens.hs256(user_id, aud="https://evil.example"),
        "tampered payload": f"{header}.{b64({**claims, 'sub': 'someone_else'})}.{signature}",
        "garbage": "not.a.token",
        "chat token with the wrong audience": jwt.encode(
            {**chat_claims, "aud": "elsewhere"}, settings.chat_token_secret or "", algorithm="HS256"
        ),
        "chat token signed with the Better Auth secret": jwt.encode(
            chat_claims, settings.better_auth_secret or "", algorithm="HS256"
        ),
        "expired chat token": jwt.encode(
            {**chat_claims, "exp": int(time.time()) - 3600}, settings.chat_token_secret or "", algorithm="HS256"
        ),
    }
