"""Property-based fuzzing of each function's OpenAPI (schemathesis): no 5xx, and every error in the one shape."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from agents.testing import ScriptedModel, assistant_message
from hypothesis import HealthCheck, given, settings

from functions.history.routes import router as history_router
from functions.session.routes import router as session_router
from tests.support.chat import chat_app
from tests.support.tokens import Tokens
from todo_common.web import Services, build_app

pytestmark = pytest.mark.long

ALICE = "user_alice"
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def session_schema(services: Services) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", build_app("session", services, [session_router]))


@pytest.fixture
def history_schema(services: Services) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", build_app("history", services, [history_router]))


@pytest.fixture
def chat_schema(services: Services) -> Any:
    model = ScriptedModel([[assistant_message("ok")]] * 500)
    return schemathesis.openapi.from_asgi("/openapi.json", chat_app(services, model, rate_limit_per_minute=10_000))


def fuzz(schema: Any, tokens: Tokens) -> int:
    """Run every operation of the schema on generated input; returns how many operations were fuzzed."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case: Any) -> None:
            check(case, tokens)

        run()
    return len(operations)


def check(case: Any, tokens: Tokens) -> None:
    """Call as the signed-in user (the path's user is theirs); whatever the input, no 5xx and errors in shape."""
    if "user_id" in (case.path_parameters or {}):
        case.path_parameters["user_id"] = ALICE
    kind = "hs256" if case.path.endswith("/chatkit/session") else "chat"
    case.headers = {**(case.headers or {}), **tokens.headers(ALICE, kind)}
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)


def test_session_api(session_schema: Any, tokens: Tokens) -> None:
    assert fuzz(session_schema, tokens) == 1


def test_history_api(history_schema: Any, tokens: Tokens) -> None:
    assert fuzz(history_schema, tokens) == 6


def test_chat_api(chat_schema: Any, tokens: Tokens) -> None:
    assert fuzz(chat_schema, tokens) == 6  # chat, follow, stop, thread stop, chatkit, tasks/search
