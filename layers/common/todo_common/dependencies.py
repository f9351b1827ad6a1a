"""Authentication as FastAPI dependencies: the bearer token, its verified principal, the path's user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from todo_common.auth import ALL_TOKEN_KINDS, Principal, TokenKind
from todo_common.errors import forbidden, unauthorized
from todo_common.services import get_services

# The OpenAPI documents' security schemes. They are documented, never run as dependencies: FastAPI would solve each
# as a sub-dependency on every request (about a tenth of a history page's work) to parse the header that
# `bearer_token` reads anyway, a missing or malformed one being our 401.
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
ANY_TOKEN = (better_auth_bearer, chat_token_bearer)
# The schemes each authenticating dependency accepts (any one of them): `application` writes them into the OpenAPI
# operation of every route that depends on it.
DOCUMENTED_SECURITY: dict[Callable[..., Any], tuple[HTTPBearer, ...]] = {}
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def accepts(*schemes: HTTPBearer) -> Callable[[Dependency], Dependency]:
    """Records that the decorated dependency authenticates with any one of `schemes`, for the OpenAPI documents."""

    def record(dependency: Dependency) -> Dependency:
        DOCUMENTED_SECURITY[dependency] = schemes
        return dependency

    return record


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
@accepts(*ANY_TOKEN)
async def current_user(request: Request, user_id: str) -> Principal:
    """The verified caller (either kind of token), who must be the `{user_id}` of the path (else 403)."""
    principal = authenticate(request)
    require_path_user(principal, user_id)
    return principal


@accepts(better_auth_bearer)
async def current_better_auth_user(request: Request, user_id: str) -> Principal:
    """As `current_user`, but only a Better Auth token will do (a chat token cannot mint another)."""
    principal = authenticate(request, frozenset({"better_auth"}))
    require_path_user(principal, user_id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
BetterAuthUser = Annotated[Principal, Depends(current_better_auth_user)]
