"""Authentication as FastAPI dependencies: the bearer token, its verified principal, the path's user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from todo_common.auth import ALL_TOKEN_KINDS, Principal, TokenKind
from todo_common.errors import forbidden, unauthorized
from todo_common.services import get_services

# Declared for the OpenAPI documents (security schemes and each route's requirement); the header itself is read
# by `bearer_token`, so a missing or malformed one is our 401, not FastAPI's 403.
better_auth_bearer = HTTPBearer(
    scheme_name="betterAuth",
    bearerFormat="JWT",
    description="A Better Auth JWT (EdDSA through its JWKS, or HS256 with the shared secret).",
    auto_error=False,
)
chat_token_bearer = HTTPBearer(
    scheme_name="chatToken",
    bearerFormat="JWT",
    description="A short-lived chat token from POST /api/{user_id}/chatkit/session.",
    auto_error=False,
)
BetterAuthScheme = Annotated[HTTPAuthorizationCredentials | None, Security(better_auth_bearer)]
ChatTokenScheme = Annotated[HTTPAuthorizationCredentials | None, Security(chat_token_bearer)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return token.strip()


def authenticate(request: Request, accept: frozenset[TokenKind] = ALL_TOKEN_KINDS) -> Principal:
    return get_services(request).verifier.verify(bearer_token(request), accept)


def require_path_user(principal: Principal, user_id: str) -> None:
    if principal.user_id != user_id:
        raise forbidden()


# The two dependencies below are `async` though they do no I/O of their own, so FastAPI runs them inline instead of
# hopping to its thread pool (a hop costs more than a remembered token's check). A Lambda container serves one
# request at a time; only a JWKS fetch (a new key, at most once per key lifetime) waits on the network.
async def current_user(request: Request, user_id: str, _a: BetterAuthScheme, _c: ChatTokenScheme) -> Principal:
    """The verified caller (either kind of token), who must be the `{user_id}` of the path (else 403)."""
    principal = authenticate(request)
    require_path_user(principal, user_id)
    return principal


async def current_better_auth_user(request: Request, user_id: str, _a: BetterAuthScheme) -> Principal:
    """As `current_user`, but only a Better Auth token will do (a chat token cannot mint another)."""
    principal = authenticate(request, frozenset({"better_auth"}))
    require_path_user(principal, user_id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
BetterAuthUser = Annotated[Principal, Depends(current_better_auth_user)]
