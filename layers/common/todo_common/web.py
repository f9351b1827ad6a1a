"""The web pieces every function shares, under the names the functions import: the services and app factory
(`services`, `application`), the auth dependencies (`dependencies`) and the ASGI layers (`middleware`)."""

from todo_common.application import build_app
from todo_common.dependencies import (
    BetterAuthUser,
    CurrentUser,
    authenticate,
    bearer_token,
    current_better_auth_user,
    current_user,
    require_path_user,
)
from todo_common.errors import error_responses
from todo_common.middleware import BodyLimitMiddleware, JsonCorsMiddleware, RequestContextMiddleware
from todo_common.services import Services, ServicesDep, get_services

__all__ = [
    "BetterAuthUser",
    "BodyLimitMiddleware",
    "CurrentUser",
    "JsonCorsMiddleware",
    "RequestContextMiddleware",
    "Services",
    "ServicesDep",
    "authenticate",
    "bearer_token",
    "build_app",
    "current_better_auth_user",
    "current_user",
    "error_responses",
    "get_services",
    "require_path_user",
]
