"""Token verification: real EdDSA keys through a local JWKS endpoint, HS256 tokens, chat tokens, and attacks."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.support.attacks import attack_tokens
from tests.support.jwks import JwksServer, SigningKey
from tests.support.tokens import Tokens
from todo_common.auth import JwksKeys, TokenVerifier
from todo_common.errors import ApiError
from todo_common.settings import Settings

ALICE = "user_alice"


def jwks_keys(jwks: JwksServer) -> JwksKeys:
    return JwksKeys(f"{jwks.url}/api/auth/jwks", min_refresh_seconds=0.2)


def verifier(settings: Settings, jwks: JwksServer) -> TokenVerifier:
    return TokenVerifier(settings, jwks_keys(jwks))


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


def test_attacks_are_refused(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = verifier(settings, jwks)
    for name, token in attack_tokens(ALICE, settings, jwks, tokens).items():
        error = refused(check, token)
        assert error.code == "unauthorized", name


def test_a_token_verified_before_still_expires_on_time(settings: Settings, jwks: JwksServer, tokens: Tokens) -> None:
    check = TokenVerifier(dataclasses.replace(settings, jwt_leeway_seconds=0), jwks_keys(jwks))
    token = tokens.eddsa(ALICE, exp=int(time.time()) + 2)
    assert check.verify(token).user_id == ALICE
    assert check.verify(token).user_id == ALICE  # remembered
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.1)
    assert refused(check, token).message == "The bearer token has expired."


def test_a_token_verified_before_is_still_refused_where_its_kind_is_not(
    settings: Settings, jwks: JwksServer, tokens: Tokens
) -> None:
    check = verifier(settings, jwks)
    chat = tokens.chat(ALICE)
    assert check.verify(chat).token_kind == "chat"
    refused(check, chat, accept=frozenset({"better_auth"}))
    assert check.verify(chat).user_id == ALICE


def test_a_different_token_is_never_taken_for_a_remembered_one(
    settings: Settings, jwks: JwksServer, tokens: Tokens
) -> None:
    check = verifier(settings, jwks)
    token = tokens.hs256(ALICE)
    assert check.verify(token).user_id == ALICE
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    refused(check, forged)
    bob = tokens.hs256("user_bob", secret="another-secret-of-enough-length-0123456789")
    refused(check, bob)
    assert check.verify(token).user_id == ALICE


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
