"""The shared web layer: CORS outside everything (a 500 included), one 500, JSON answers to refused preflights
and to bodies nested too deeply, and one `error_responses` in every router's OpenAPI."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from functions.chat.http.routes import router as chat_router
from functions.history.routes import router as history_router
from functions.session.routes import router as session_router
from tests.support.tokens import Tokens
from todo_common.web import Services, build_app, error_responses

ALICE = "user_alice"
ORIGIN = "https://todo.example.com"

boom_router = APIRouter()


@boom_router.get("/boom")
def boom() -> None:
    raise RuntimeError("secret internals")


@boom_router.get("/db-boom")
def db_boom() -> None:
    raise DBAPIError("SELECT secret", None, RuntimeError("driver internals"))


@pytest.fixture
def cors_client(services: Services) -> Iterator[TestClient]:
    configured = dataclasses.replace(services.settings, allowed_origins=(ORIGIN,))
    app = build_app("t", dataclasses.replace(services, settings=configured), [boom_router, history_router])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("path", ["/boom", "/db-boom"])
def test_a_500_carries_cors_headers_and_the_error_shape(cors_client: TestClient, path: str) -> None:
    response = cors_client.get(path, headers={"Origin": ORIGIN})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side; it has been logged."}
    }
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["x-request-id"]
    assert "internals" not in response.text and "Traceback" not in response.text


def test_errors_of_the_routes_carry_cors_headers(cors_client: TestClient) -> None:
    response = cors_client.get(f"/api/{ALICE}/conversations", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "www-authenticate" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, "origin"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "TRACE"}, "method"),
        (
            {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-evil"},
            "headers",
        ),
    ],
)
def test_a_refused_preflight_answers_the_error_shape(
    cors_client: TestClient, headers: dict[str, str], refused: str
) -> None:
    response = cors_client.options(f"/api/{ALICE}/conversations", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "cors_refused"
    assert refused in error["message"]


def test_a_browser_may_put_an_attachments_bytes_from_an_allowed_origin(cors_client: TestClient) -> None:
    response = cors_client.options(
        "/api/attachments/atc_1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert "PUT" in response.headers["access-control-allow-methods"]


def test_an_allowed_preflight_still_passes(cors_client: TestClient) -> None:
    response = cors_client.options(
        f"/api/{ALICE}/conversations",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_deeply_nested_json_is_a_documented_400(session_client: TestClient, tokens: Tokens) -> None:
    body = b"[" * 20_000 + b"]" * 20_000  # under the body limit, far over the parser's recursion limit
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    response = session_client.post(f"/api/{ALICE}/chatkit/session", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "json_too_deep"


def test_error_responses_names_the_error_shape_for_each_status() -> None:
    responses = error_responses(401, 503)
    assert set(responses) == {401, 503}
    assert responses[401]["description"] == "Unauthorized"


@pytest.mark.parametrize("router", [session_router, history_router])
def test_session_and_history_document_every_error_with_the_error_shape(services: Services, router: APIRouter) -> None:
    spec = build_app("t", services, [router]).openapi()
    for path in spec["paths"].values():
        for operation in path.values():
            for status in ("401", "403", "422", "500", "503"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def _plain_def_dependencies(dependant: Dependant) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        method = None if call is None or inspect.isfunction(call) else type(call).__call__  # a scheme object
        if not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(method)):
            found.append(getattr(call, "__qualname__", repr(call)))
        found += _plain_def_dependencies(sub)
    return found


@pytest.mark.parametrize("router", [chat_router, session_router, history_router], ids=["chat", "session", "history"])
def test_no_request_waits_on_the_thread_pool_for_its_caller(router: APIRouter) -> None:
    """Every dependency (who is asking, the services) is `async`: FastAPI would run a plain `def` one in its thread
    pool, a hop per request that costs more than the check itself."""
    for route in router.routes:
        assert isinstance(route, APIRoute)
        assert _plain_def_dependencies(route.dependant) == [], route.path
