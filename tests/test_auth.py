"""Token verification: real EdDSA keys through a local JWKS endpoint, HS256 tokens, chat tokens, and attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from tests.support.jwks import JwksServer, SigningKey
from tests.support.tokens import Tokens
from todo_common.auth import JwksKeys, TokenVerifier
from todo_common.errors import ApiError
from todo_common.settings import Settings

ALICE = "user_alice"


def verifier(settings: Settings, jwks: JwksServer) -> TokenVerifier:
    return TokenVerifier(settings, JwksKeys(f"{jwks.url}/api/auth/jwks", min_refresh_seconds=0.2))


def refused(verifier: TokenVerifier, token: str, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        verifier.verify(token, **kwargs)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    return caught.value


def test_good_tokens_of_every_kind(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = verifier(settings, jwks)
    assert check.verify(tokens.eddsa(ALICE)).user_id == ALICE
    assert check.verify(tokens.hs256(ALICE)).token_kind == "better_auth"
    chat = check.verify(tokens.chat(ALICE))
    assert (chat.user_id, chat.token_kind) == (ALICE, "chat")


def test_keys_are_fetched_once_and_again_for_a_new_kid(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = verifier(settings, jwks)
    before = jwks.fetches
    for _ in range(3):
        check.verify(tokens.eddsa(ALICE))
    assert jwks.fetches == before + 1
    rotated = jwks.rotate(f"key-{time.monotonic_ns()}")
    time.sleep(0.25)
    assert check.verify(tokens.eddsa(ALICE, key=rotated)).user_id == ALICE
    assert jwks.fetches == before + 2


def test_unknown_kids_do_not_hammer_the_auth_server(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = TokenVerifier(settings, JwksKeys(f"{jwks.url}/api/auth/jwks", min_refresh_seconds=60))
    check.verify(tokens.eddsa(ALICE))
    before = jwks.fetches
    stranger = SigningKey("never-published")
    for _ in range(5):
        refused(check, tokens.eddsa(ALICE, key=stranger))
    assert jwks.fetches == before


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_attacks_are_refused(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = verifier(settings, jwks)
    claims = tokens.claims(ALICE)
    public_pem = jwks.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = tokens.eddsa(ALICE)
    header, _payload, signature = good.split(".")
    attacks = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg none with kid": f"{_b64({'alg': 'none', 'kid': jwks.current.kid})}.{_b64(claims)}.",
        "hs256 signed with the public key": _hs256_with_key(claims, public_pem, jwks.current.kid),
        "hs256 signed with the public key, no kid": _hs256_with_key(claims, public_pem, None),
        "wrong key": tokens.eddsa(ALICE, key=SigningKey(jwks.current.kid)),
        "wrong secret": tokens.hs256(ALICE, secret="another-secret-of-at-least-32-characters"),
        "expired": tokens.hs256(ALICE, exp=int(time.time()) - 3600),
        "not yet valid": tokens.hs256(ALICE, nbf=int(time.time()) + 3600),
        "no sub": tokens.hs256(ALICE, sub=None),
        "no exp": tokens.hs256(ALICE, exp=None),
        "no iat": tokens.hs256(ALICE, iat=None),
        "wrong iss": tokens.hs256(ALICE, iss="https://evil.example"),
        "wrong aud": tokens.hs256(ALICE, aud="https://evil.example"),
        "tampered payload": f"{header}.{_b64({**claims, 'sub': 'user_bob'})}.{signature}",
        "garbage": "not.a.token",
        "chat token with the wrong audience": jwt.encode(
            {**tokens.claims(ALICE), "iss": "todo-chat/session", "aud": "elsewhere"},
            settings.chat_token_secret or "",
            algorithm="HS256",
        ),
        "chat token signed with the Better Auth secret": jwt.encode(
            {**tokens.claims(ALICE), "iss": "todo-chat/session", "aud": settings.chat_token_audience},
            settings.better_auth_secret or "",
            algorithm="HS256",
        ),
    }
    for name, token in attacks.items():
        error = refused(check, token)
        assert error.code == "unauthorized", name


def _hs256_with_key(claims: dict[str, Any], key: bytes, kid: str | None) -> str:
    """Algorithm confusion: an HS256 token whose HMAC key is the server's public key (PyJWT refuses to make one)."""
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def test_a_chat_token_cannot_mint_another(session_client: TestClient, tokens: Tokens) -> None:
    response = session_client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE, "chat"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z"])
def test_missing_or_malformed_authorization_is_401(history_client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = history_client.get(f"/api/{ALICE}/conversations", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert set(response.json()["error"]) == {"code", "message"}
