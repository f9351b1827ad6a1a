"""Bearer token verification: Better Auth tokens (EdDSA through JWKS, or HS256 with the shared secret) and the chat
tokens minted by the session function.

Which key checks a token is decided by what the token claims to be (a `kid` means a JWKS key, the chat issuer
means a chat token, anything else the Better Auth secret); the algorithm is then fixed by that key's type, never
read from the token header. The user id the code trusts is the verified `sub`, nothing else.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError

from todo_common.errors import ApiError, unauthorized
from todo_common.settings import CHAT_TOKEN_ISSUER, Settings

TokenKind = Literal["better_auth", "chat"]
ALL_TOKEN_KINDS: frozenset[TokenKind] = frozenset({"better_auth", "chat"})
_ASYMMETRIC_ALGORITHMS = {"OKP": ["EdDSA"], "EC": ["ES256"], "RSA": ["RS256"]}
_REQUIRED_CLAIMS = ["exp", "iat", "sub"]
REMEMBER_SECONDS = 60.0
REMEMBER_AT_MOST = 256


@dataclass(frozen=True)
class Principal:
    user_id: str
    token_kind: TokenKind
    expires_at: int


@dataclass(frozen=True)
class _Verified:
    """A token that passed every check, and the key that checked it (the secret, or the JWKS key object)."""

    principal: Principal
    key: object
    kid: str | None
    at: float


class JwksKeys:
    """Better Auth's public keys, through PyJWT's `PyJWKClient` (which never follows redirects).

    The fetched set lives `lifetime_seconds`, then is fetched again, so a key removed from the JWKS stops verifying
    within that lifetime. An unknown `kid` refetches at most once every `min_refresh_seconds`, and so does a failed
    fetch: during an outage one request tries, the others answer 503 at once instead of queueing on the lock."""

    def __init__(
        self,
        url: str,
        *,
        lifetime_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        timeout: float = 3.0,
    ) -> None:
        self.url = url
        self._client = _ThrottledJwksClient(url, lifetime_seconds, min_refresh_seconds, timeout)

    def get(self, kid: str) -> PyJWK | None:
        try:
            return self._client.get_signing_key(kid)
        except PyJWKClientConnectionError as exc:
            raise ApiError(503, "auth_unavailable", "The sign-in service's keys cannot be fetched right now.") from exc
        except jwt.PyJWKClientError:
            return None


class _ThrottledJwksClient(PyJWKClient):
    def __init__(self, url: str, lifetime: float, min_refresh: float, timeout: float) -> None:
        super().__init__(
            url,
            cache_jwk_set=True,
            lifespan=lifetime,
            cooldown_duration=min_refresh,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "todo-chat"},
        )
        self._min_refresh = min_refresh
        self._failed_at = float("-inf")

    def fetch_data(self) -> Any:
        if time.monotonic() - self._failed_at < self._min_refresh:
            raise PyJWKClientConnectionError("the last JWKS fetch failed moments ago")
        try:
            return super().fetch_data()
        except PyJWKClientConnectionError:
            self._failed_at = time.monotonic()
            raise
        except (ValueError, jwt.PyJWTError) as exc:  # not JSON, not a key set, no usable key: an outage too
            self._failed_at = time.monotonic()
            raise PyJWKClientConnectionError(f"the JWKS endpoint answered no usable key set: {exc}") from exc


class TokenVerifier:
    def __init__(self, settings: Settings, jwks: JwksKeys | None = None) -> None:
        self._settings = settings
        self._jwks = jwks or (
            JwksKeys(settings.jwks_url, lifetime_seconds=settings.jwks_cache_seconds) if settings.jwks_url else None
        )
        self._leeway = settings.jwt_leeway_seconds
        self._verified: dict[str, _Verified] = {}

    def verify(self, token: str, accept: frozenset[TokenKind] = ALL_TOKEN_KINDS) -> Principal:
        principal = self._remembered(token) or self._checked(token)
        if principal.token_kind not in accept:
            raise unauthorized("This kind of token is not accepted here.")
        return principal

    def _remembered(self, token: str) -> Principal | None:
        """The principal of this very token verified moments ago, if it would pass again: not expired, and its key
        still the one served (a JWKS key refetched or removed since then means a full check). A warm container
        sees the same token on every request of a session; this skips its signature and claims being checked
        again for up to `REMEMBER_SECONDS`, as API Gateway caches an authorizer's answer by token."""
        found = self._verified.get(token)
        if found is None:
            return None
        now = time.time()
        fresh = now - found.at < REMEMBER_SECONDS and found.principal.expires_at > now - self._leeway
        if fresh and (found.kid is None or (self._jwks is not None and self._jwks.get(found.kid) is found.key)):
            return found.principal
        self._verified.pop(token, None)
        return None

    def _checked(self, token: str) -> Principal:
        header, unverified = _unverified(token)
        if unverified.get("iss") == CHAT_TOKEN_ISSUER and "kid" not in header:
            kind: TokenKind = "chat"
            key, claims = self._verify_chat_token(token)
        else:
            kind = "better_auth"
            key, claims = self._verify_better_auth_token(token, header)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise unauthorized("The bearer token has no usable subject.")
        principal = Principal(user_id=subject, token_kind=kind, expires_at=int(claims["exp"]))
        if len(self._verified) >= REMEMBER_AT_MOST:
            self._verified.clear()
        kid = header.get("kid")
        self._verified[token] = _Verified(principal, key, kid if isinstance(kid, str) else None, time.time())
        return principal

    def _verify_chat_token(self, token: str) -> tuple[object, dict[str, Any]]:
        secret = self._settings.chat_token_secret
        if not secret:
            raise unauthorized("Chat tokens are not accepted by this deployment.")
        audience = self._settings.chat_token_audience
        return secret, self._decode(token, secret, ["HS256"], issuer=CHAT_TOKEN_ISSUER, audience=audience)

    def _verify_better_auth_token(self, token: str, header: dict[str, Any]) -> tuple[object, dict[str, Any]]:
        kid = header.get("kid")
        issuer, audience = self._settings.jwt_issuer, self._settings.jwt_audience
        if kid is not None:
            if self._jwks is None or not isinstance(kid, str):
                raise unauthorized("The bearer token's signing key is unknown.")
            jwk = self._jwks.get(kid)
            if jwk is None:
                raise unauthorized("The bearer token's signing key is unknown.")
            algorithms = _ASYMMETRIC_ALGORITHMS.get(str(jwk.key_type))
            if not algorithms:
                raise unauthorized("The bearer token's signing key is of an unsupported type.")
            return jwk, self._decode(token, jwk.key, algorithms, issuer=issuer, audience=audience)
        secret = self._settings.better_auth_secret
        if not secret:
            raise unauthorized("The bearer token's signing key is unknown.")
        return secret, self._decode(token, secret, ["HS256"], issuer=issuer, audience=audience)

    def _decode(
        self, token: str, key: Any, algorithms: list[str], *, issuer: str | None, audience: str | None
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"require": _REQUIRED_CLAIMS, "verify_aud": audience is not None}
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                leeway=self._leeway,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("The bearer token has expired.") from exc
        except jwt.InvalidSignatureError as exc:
            raise unauthorized("The bearer token is invalid.") from exc
        except jwt.DecodeError as exc:  # what the strict parse refused that `_unverified` let through
            raise unauthorized("The bearer token is malformed.") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("The bearer token is invalid.") from exc


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token's header and claims as it states them, read once and only to choose the key: `jwt.decode` then
    parses it strictly and checks the signature and every claim."""
    try:
        header, payload, _signature = token.split(".")
        parts = [json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, payload)]
    except (ValueError, RecursionError) as exc:  # binascii.Error, JSONDecodeError, UnicodeDecodeError: ValueErrors
        raise unauthorized("The bearer token is malformed.") from exc
    if not all(isinstance(part, dict) for part in parts):
        raise unauthorized("The bearer token is malformed.")
    return parts[0], parts[1]


def mint_chat_token(settings: Settings, user_id: str, *, now: int | None = None) -> tuple[str, int]:
    """A short-lived token that lets `user_id` (and only them) talk to the chat function."""
    if not settings.chat_token_secret:
        raise ApiError(503, "chat_tokens_unavailable", "Chat tokens are not configured on this deployment.")
    issued = int(time.time()) if now is None else now
    expires = issued + settings.chat_token_ttl_seconds
    claims = {
        "sub": user_id,
        "iss": CHAT_TOKEN_ISSUER,
        "aud": settings.chat_token_audience,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
    }
    return jwt.encode(claims, settings.chat_token_secret, algorithm="HS256"), expires
