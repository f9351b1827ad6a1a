"""Better Auth's key set over a real local JWKS server: keys live a bounded time, a removed key stops verifying,
fetches never follow redirects, and an outage is throttled instead of queueing every request."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Iterator

import pytest

from tests.support.jwks import JwksServer, SigningKey
from tests.support.tokens import Tokens
from todo_common.auth import JwksKeys, TokenVerifier
from todo_common.errors import ApiError
from todo_common.settings import ConfigurationError, Settings

ALICE = "user_alice"
LIFETIME = 0.6
MIN_REFRESH = 0.3


@pytest.fixture
def server() -> Iterator[JwksServer]:
    private = JwksServer()  # its own keys: removing one must not touch the suite's shared server
    yield private
    private._httpd.shutdown()


def verifier_for(settings: Settings, server: JwksServer) -> TokenVerifier:
    keys = JwksKeys(f"{server.url}/api/auth/jwks", lifetime_seconds=LIFETIME, min_refresh_seconds=MIN_REFRESH)
    return TokenVerifier(settings, keys)


def status_of(verifier: TokenVerifier, token: str) -> int:
    try:
        verifier.verify(token)
    except ApiError as exc:
        return exc.status
    return 200


def test_keys_are_refetched_after_their_lifetime(settings: Settings, server: JwksServer) -> None:
    tokens = Tokens(settings, server)
    check = verifier_for(settings, server)
    for _ in range(3):
        assert status_of(check, tokens.eddsa(ALICE)) == 200
    assert server.fetches == 1
    time.sleep(LIFETIME + 0.1)
    assert status_of(check, tokens.eddsa(ALICE)) == 200
    assert server.fetches == 2


def test_a_removed_key_stops_verifying_within_the_lifetime(settings: Settings, server: JwksServer) -> None:
    tokens = Tokens(settings, server)
    check = verifier_for(settings, server)
    old = server.current
    assert status_of(check, tokens.eddsa(ALICE, key=old)) == 200

    new = server.rotate("key-2")
    server.remove(old.kid)
    time.sleep(MIN_REFRESH + 0.05)
    assert status_of(check, tokens.eddsa(ALICE, key=new)) == 200  # unknown kid: refetched, rotation works
    time.sleep(LIFETIME + 0.1)
    assert status_of(check, tokens.eddsa(ALICE, key=old)) == 401
    assert status_of(check, tokens.eddsa(ALICE, key=new)) == 200


def test_a_token_verified_before_is_refused_once_its_key_is_removed(settings: Settings, server: JwksServer) -> None:
    tokens = Tokens(settings, server)
    check = verifier_for(settings, server)
    old = server.current
    token = tokens.eddsa(ALICE, key=old)  # one string, verified again and again: the remembered answer
    assert [status_of(check, token) for _ in range(3)] == [200, 200, 200]

    server.rotate("key-2")
    server.remove(old.kid)
    time.sleep(LIFETIME + 0.1)
    assert status_of(check, token) == 401


def test_a_token_verified_before_is_refused_once_its_kid_names_another_key(
    settings: Settings, server: JwksServer
) -> None:
    tokens = Tokens(settings, server)
    check = verifier_for(settings, server)
    token = tokens.eddsa(ALICE)
    assert [status_of(check, token) for _ in range(3)] == [200, 200, 200]

    server.keys = [SigningKey(server.current.kid)]  # the same kid, republished with another key
    time.sleep(LIFETIME + 0.1)
    assert status_of(check, token) == 401


def test_fetches_never_follow_redirects(settings: Settings, server: JwksServer) -> None:
    server.redirect_to = "/elsewhere/jwks"
    check = verifier_for(settings, server)
    assert status_of(check, Tokens(settings, server).eddsa(ALICE)) == 503
    assert "/elsewhere/jwks" not in server.paths


def test_an_outage_is_fetched_once_per_interval_not_once_per_request(settings: Settings, server: JwksServer) -> None:
    tokens = Tokens(settings, server)
    check = verifier_for(settings, server)
    assert status_of(check, tokens.eddsa(ALICE)) == 200
    server.down = True
    strangers = [tokens.eddsa(ALICE, key=SigningKey(f"unknown-{n}")) for n in range(4)]
    time.sleep(MIN_REFRESH + 0.05)
    before = server.fetches
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda token: status_of(check, token), strangers))
    assert statuses == [503, 503, 503, 503]
    assert server.fetches == before + 1
    assert time.monotonic() - started < 2
    assert status_of(check, tokens.eddsa(ALICE)) == 200  # the cached set still serves known keys

    time.sleep(LIFETIME + 0.1)  # the cached set is gone too: every request needs a fetch
    before = server.fetches
    assert [status_of(check, tokens.eddsa(ALICE)) for _ in range(4)] == [503, 503, 503, 503]
    assert server.fetches == before + 1

    server.down = False
    time.sleep(MIN_REFRESH + 0.05)
    assert status_of(check, tokens.eddsa(ALICE)) == 200


def test_the_key_lifetime_is_a_setting(settings: Settings) -> None:
    environ = {"BETTER_AUTH_URL": "http://auth.test", "CHAT_TOKEN_SECRET": "x" * 40}
    assert Settings.from_environ(environ).jwks_cache_seconds == 300
    assert Settings.from_environ({**environ, "JWKS_CACHE_SECONDS": "60"}).jwks_cache_seconds == 60
    with pytest.raises(ConfigurationError, match="JWKS_CACHE_SECONDS"):
        Settings.from_environ({**environ, "JWKS_CACHE_SECONDS": "0"})


PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://u:p@db.example/app",
    "BETTER_AUTH_SECRET": "b" * 40,
    "CHAT_TOKEN_SECRET": "c" * 40,
}


def test_production_refuses_shared_secret_tokens_without_issuer_and_audience() -> None:
    with pytest.raises(ConfigurationError, match="JWT_ISSUER and JWT_AUDIENCE"):
        Settings.from_environ(PRODUCTION)
    with pytest.raises(ConfigurationError, match="JWT_ISSUER and JWT_AUDIENCE"):
        Settings.from_environ({**PRODUCTION, "JWT_ISSUER": "https://app.example"})
    configured = Settings.from_environ(
        {**PRODUCTION, "JWT_ISSUER": "https://app.example", "JWT_AUDIENCE": "https://app.example"}
    )
    assert (configured.jwt_issuer, configured.jwt_audience) == ("https://app.example", "https://app.example")


def test_shared_secret_tokens_are_checked_against_the_configured_issuer_and_audience(
    settings: Settings, jwks: JwksServer
) -> None:
    secret_only = dataclasses.replace(
        settings, better_auth_url=None, jwt_issuer="https://app.example", jwt_audience="https://app.example"
    )
    check = TokenVerifier(secret_only)
    tokens = Tokens(secret_only, jwks)
    assert status_of(check, tokens.hs256(ALICE)) == 200
    assert status_of(check, tokens.hs256(ALICE, iss="https://evil.example")) == 401
    assert status_of(check, tokens.hs256(ALICE, aud="https://evil.example")) == 401
    assert status_of(check, tokens.hs256(ALICE, iss=None)) == 401
