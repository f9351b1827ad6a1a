"""The JSON log lines themselves: one per event, the request's own correlation id under concurrency, Lambda's
request id and cold start on every function, and no token anywhere."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
import socket
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from aws_lambda_powertools import Logger
from fastapi import APIRouter

from infra.devtoken import DEMO_USER
from tests.support.lambda_context import LambdaContext
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common import middleware
from todo_common.logs import configure_logging
from todo_common.web import Services, build_app

ALICE = "user_alice"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def fresh_logger(stream: io.StringIO) -> Logger:
    return configure_logging(f"logs-test-{uuid.uuid4().hex[:8]}", "INFO", stream=stream)


def test_each_event_is_one_line(stream: io.StringIO) -> None:
    logger = fresh_logger(stream)
    logger.info("from powertools")
    logging.getLogger("functions.chat.turn.engine").warning("from a module logger")
    logging.getLogger("uvicorn.error").warning("from uvicorn")
    messages = [line["message"] for line in lines(stream)]  # uvicorn too: JSON through the same handler
    assert messages == ["from powertools", "from a module logger", "from uvicorn"]


def test_tokens_are_redacted_from_messages_and_arguments(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = fresh_logger(stream)
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "level", logging.INFO)  # servers of other tests lower it
    logger.info("GET /?token=eyJsecret.part.two HTTP/1.1")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4", "GET", "/?x=1&token=abc.def", "1.1", 200
    )
    logging.getLogger("functions.x").info("header was %s", "Bearer abc.def.ghi")
    text = stream.getvalue()
    assert "eyJsecret" not in text and "abc.def" not in text
    assert text.count("[redacted]") == 3


def test_uvicorns_access_log_never_prints_the_dev_pages_token(services: Services) -> None:
    router = APIRouter()

    @router.get("/")
    def page() -> dict[str, str]:
        return {"ok": "yes"}

    app = build_app("t", services, [router])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True))
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    logging.getLogger("uvicorn.access").addHandler(handler)  # after uvicorn's own logging config ran
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert httpx.get(f"http://127.0.0.1:{port}/?token=eyJhbGciOi.secret.sig", timeout=5).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        logging.getLogger("uvicorn.access").removeHandler(handler)
    assert "GET /?token=[redacted]" in captured.getvalue()
    assert "secret" not in captured.getvalue()


def test_the_correlation_id_is_per_request_under_concurrency(services: Services, stream: io.StringIO) -> None:
    logger = fresh_logger(stream)
    router = APIRouter()
    both_inside = asyncio.Event()
    inside = 0

    @router.get("/slow/{name}")
    async def slow(name: str) -> dict[str, str]:
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        await asyncio.wait_for(both_inside.wait(), 5)
        logging.getLogger("functions.test").info("handled %s", name)
        return {"name": name}

    app = build_app("t", services.__class__(services.settings, services.database, services.verifier, logger), [router])

    async def call_both(url: str) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(
                client.get(f"{url}/slow/first", headers={"X-Request-Id": "req-first"}),
                client.get(f"{url}/slow/second", headers={"X-Request-Id": "req-second"}),
            )

    with Server(app) as url:
        asyncio.run(call_both(url))
    handled = {
        line["message"]: line["correlation_id"] for line in lines(stream) if line["message"].startswith("handled")
    }
    assert handled == {"handled first": "req-first", "handled second": "req-second"}
    requests = [line for line in lines(stream) if line["message"] == "request"]
    assert sorted(line["correlation_id"] for line in requests) == ["req-first", "req-second"]


def test_without_lambda_each_request_gets_a_fresh_uuid(services: Services, stream: io.StringIO) -> None:
    from fastapi.testclient import TestClient

    from functions.history.routes import router

    logger = fresh_logger(stream)
    app = build_app("t", services.__class__(services.settings, services.database, services.verifier, logger), [router])
    with TestClient(app) as client:
        for _ in range(2):
            client.get(f"/api/{ALICE}/conversations")
    ids = [line["correlation_id"] for line in lines(stream) if line["message"] == "request"]
    assert len(set(ids)) == 2
    assert all(uuid.UUID(value) for value in ids)
    assert all("function_request_id" not in line for line in lines(stream))


def test_chat_takes_the_request_id_from_the_web_adapters_context_header(
    services: Services, tokens: Tokens, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from functions.chat import app as chat

    monkeypatch.setattr(middleware, "_cold_start", True)
    handler = chat.services.logger._logger.handlers[0]
    monkeypatch.setattr(handler, "stream", stream)
    monkeypatch.setattr(chat.services.logger._logger, "level", logging.INFO)
    context = {"request_id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "deadline": 1542409706888}
    with TestClient(chat.app) as client:
        first = client.get("/healthz", headers={"x-amzn-lambda-context": json.dumps(context)})
        second = client.get("/healthz", headers={"x-amzn-lambda-context": json.dumps({**context, "request_id": "r-2"})})
    assert first.headers["x-request-id"] == context["request_id"]
    assert second.headers["x-request-id"] == "r-2"
    logged = [line for line in lines(stream) if line["message"] == "request"]
    assert [(line["correlation_id"], line["function_request_id"], line["cold_start"]) for line in logged] == [
        (context["request_id"], context["request_id"], True),
        ("r-2", "r-2", False),
    ]


@pytest.mark.parametrize("function", ["session", "history"])
def test_session_and_history_log_cold_start_and_lambdas_request_id(
    function: str, services: Services, tokens: Tokens, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    module: ModuleType = importlib.import_module(f"functions.{function}.app")
    asyncio.set_event_loop(asyncio.new_event_loop())
    monkeypatch.setattr(middleware, "_cold_start", True)
    monkeypatch.setattr(module.services.logger._logger.handlers[0], "stream", stream)
    monkeypatch.setattr(module.services.logger._logger, "level", logging.INFO)
    event_name = "session_create" if function == "session" else "history_list_conversations"
    event = json.loads((Path(__file__).parents[1] / "deploy" / "events" / f"{event_name}.json").read_text())
    event["headers"]["authorization"] = f"Bearer {tokens.hs256(DEMO_USER)}"

    saved, module.app.state.services = module.app.state.services, services
    try:
        for request_id in ("lambda-req-1", "lambda-req-2"):
            result = module.handler(event, LambdaContext(aws_request_id=request_id))
            assert result["statusCode"] in (200, 201), result.get("body")
    finally:
        module.app.state.services = saved
    logged = [line for line in lines(stream) if line["message"] == "request"]
    assert [(line["correlation_id"], line["function_request_id"], line["cold_start"]) for line in logged] == [
        ("lambda-req-1", "lambda-req-1", True),
        ("lambda-req-2", "lambda-req-2", False),
    ]
    assert logged[0]["function_name"] == LambdaContext().function_name
    assert logged[0]["function_arn"] == LambdaContext().invoked_function_arn
