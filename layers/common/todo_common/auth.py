"""Bearer token verification: Better Auth tokens (EdDSA through JWKS, or HS256 with the shared secret) and the chat
tokens minted by the session function.

Which key checks a token is decided by what the token claims to be (a `kid` means a JWKS key, the chat issuer
means a chat token, anything else the Better Auth secret); the algorithm is then fixed by that key's type, never
read from the token header. The user id the code trusts is the verified `sub`, nothing else.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt import PyJWK

from todo_common.errors import ApiError, unauthorized
from todo_common.settings import CHAT_TOKEN_ISSUER, Settings

TokenKind = Literal["better_auth", "chat"]
ALL_TOKEN_KINDS: frozenset[TokenKind] = frozenset({"better_auth", "chat"})
_ASYMMETRIC_ALGORITHMS = {"OKP": ["EdDSA"], "EC": ["ES256"], "RSA": ["RS256"]}
_REQUIRED_CLAIMS = ["exp", "iat", "sub"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    token_kind: TokenKind
    expires_at: int


class JwksKeys:
    """Better Auth's public keys, fetched once per container and again only for an unknown `kid`
    (at most once every `min_refresh_seconds`, so unknown ids cannot make us hammer the auth server)."""

    def __init__(self, url: str, *, timeout: float = 3.0, min_refresh_seconds: float = 30.0) -> None:
        self.url = url
        self._timeout = timeout
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, kid: str) -> PyJWK | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self._min_refresh:
                self._keys = self._fetch()
                self._fetched_at = time.monotonic()
        return self._keys.get(kid)

    def _fetch(self) -> dict[str, PyJWK]:
        request = urllib.request.Request(  # noqa: S310 - the configured BETTER_AUTH_URL
            self.url, headers={"Accept": "application/json", "User-Agent": "todo-chat"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - configured https URL
                document = json.load(response)
        except (OSError, ValueError) as exc:
            raise ApiError(503, "auth_unavailable", "The sign-in service's keys cannot be fetched right now.") from exc
        keys: dict[str, PyJWK] = {}
        for data in document.get("keys", []):
            kid = data.get("kid")
            if not kid or data.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = PyJWK(data)
            except jwt.PyJWTError:
                continue
        return keys


class TokenVerifier:
    def __init__(self, settings: Settings, jwks: JwksKeys | None = None) -> None:
        self._settings = settings
        self._jwks = jwks or (JwksKeys(settings.jwks_url) if settings.jwks_url else None)
        self._leeway = settings.jwt_leeway_seconds

    def verify(self, token: str, accept: frozenset[TokenKind] = ALL_TOKEN_KINDS) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise unauthorized("The bearer token is malformed.") from exc
        if not isinstance(unverified, dict):
            raise unauthorized("The bearer token is malformed.")

        if unverified.get("iss") == CHAT_TOKEN_ISSUER and "kid" not in header:
            kind: TokenKind = "chat"
            claims = self._verify_chat_token(token)
        else:
            kind = "better_auth"
            claims = self._verify_better_auth_token(token, header)
        if kind not in accept:
            raise unauthorized("This kind of token is not accepted here.")

        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise unauthorized("The bearer token has no usable subject.")
        return Principal(user_id=subject, token_kind=kind, expires_at=int(claims["exp"]))

    def _verify_chat_token(self, token: str) -> dict[str, Any]:
        secret = self._settings.chat_token_secret
        if not secret:
            raise unauthorized("Chat tokens are not accepted by this deployment.")
        return self._decode(
            token, secret, ["HS256"], issuer=CHAT_TOKEN_ISSUER, audience=self._settings.chat_token_audience
        )

    def _verify_better_auth_token(self, token: str, header: dict[str, Any]) -> dict[str, Any]:
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
            return self._decode(token, jwk.key, algorithms, issuer=issuer, audience=audience)
        secret = self._settings.better_auth_secret
        if not secret:
            raise unauthorized("The bearer token's signing key is unknown.")
        return self._decode(token, secret, ["HS256"], issuer=issuer, audience=audience)

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
        except jwt.PyJWTError as exc:
            raise unauthorized("The bearer token is invalid.") from exc


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
