"""Bad input gets a clear 4xx in the one error shape; nothing stored changes; nothing unexpected leaks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from functions.history.routes import router as history_router
from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services, build_app

ALICE = "user_alice"


def assert_error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": 0}, 422, "validation_error"),
        ({"limit": 101}, 422, "validation_error"),
        ({"limit": "abc"}, 422, "validation_error"),
        ({"cursor": "%%%garbage"}, 400, "invalid_cursor"),
        ({"cursor": "eyJ4IjoxfQ"}, 400, "invalid_cursor"),
        ({"q": ""}, 422, "validation_error"),
    ],
)
def test_bad_query_parameters(
    history_client: TestClient, tokens: Tokens, params: dict[str, str | int], status: int, code: str
) -> None:
    assert_error(
        history_client.get(f"/api/{ALICE}/conversations", params=params, headers=tokens.headers(ALICE)), status, code
    )


def test_a_message_cursor_is_bound_to_its_order(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, messages=3)
    url = f"/api/{ALICE}/conversations/{conversation.id}/messages"
    cursor = history_client.get(url, params={"limit": 1}, headers=tokens.headers(ALICE)).json()["next_cursor"]
    response = history_client.get(url, params={"cursor": cursor, "order": "desc"}, headers=tokens.headers(ALICE))
    assert_error(response, 400, "invalid_cursor")


def test_malformed_json_and_wrong_types(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE)
    url = f"/api/{ALICE}/conversations/{conversation.id}"
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    assert_error(history_client.patch(url, content=b'{"title": ', headers=headers), 400, "malformed_json")
    assert_error(history_client.patch(url, json={"title": 5}, headers=headers), 422, "validation_error")
    assert_error(
        history_client.patch(url, json={"title": "ok", "user_id": "x"}, headers=headers), 422, "validation_error"
    )
    assert history_client.get(url, headers=headers).json()["title"] == "Groceries"


def test_oversized_bodies_are_413_with_or_without_content_length(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE)
    url = f"/api/{ALICE}/conversations/{conversation.id}"
    big = b'{"title": "' + b"x" * 70_000 + b'"}'
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    assert_error(history_client.patch(url, content=big, headers=headers), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield big[:40_000]
        yield big[40_000:]

    assert_error(history_client.patch(url, content=chunks(), headers=headers), 413, "payload_too_large")
    assert history_client.get(url, headers=headers).json()["title"] == "Groceries"


def test_unknown_routes_and_methods(history_client: TestClient, tokens: Tokens) -> None:
    assert_error(history_client.get("/nope"), 404, "not_found")
    assert_error(
        history_client.put(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE)), 405, "method_not_allowed"
    )


def test_an_unexpected_failure_is_a_plain_500(services: Services) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(build_app("t", services, [router]), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.text


def test_database_unavailable_is_503(services: Services, tokens: Tokens) -> None:
    down = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    app = build_app("history", dataclasses.replace(services, database=down), [history_router])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE))
    assert_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "2"


def test_cors_allows_only_the_configured_origins(services: Services) -> None:
    configured = dataclasses.replace(services.settings, allowed_origins=("https://todo.example.com",))
    app = build_app("history", dataclasses.replace(services, settings=configured), [history_router])
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with TestClient(app) as client:
        allowed = client.options(
            f"/api/{ALICE}/conversations", headers={**preflight, "Origin": "https://todo.example.com"}
        )
        other = client.options(f"/api/{ALICE}/conversations", headers={**preflight, "Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://todo.example.com"
    assert "access-control-allow-origin" not in other.headers
