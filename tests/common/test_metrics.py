"""Metrics as CloudWatch EMF lines: what each record_* call writes, one line per flush, nothing when nothing was
recorded, and one line per request of the history app (with its latency)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import Tokens
from todo_common import metrics
from todo_common.metrics import MetricsMiddleware
from todo_common.web import Services, build_app


def emf_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "_aws" in value:
            lines.append(value)
    return lines


def metric_names(line: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.fixture(autouse=True)
def _empty(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.flush()
    capsys.readouterr()


def test_a_turn_and_its_parts_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record_turn("complete", 7.5, 420.0)
    metrics.record_turn("interrupted", None, 90.0)
    metrics.record_tool_call("add_task", "success")
    metrics.record_tool_call("delete_task", "failure")
    metrics.record_refusal("rate_limited")
    metrics.record_refusal("busy")
    metrics.record_model_error("model_error")
    metrics.flush()

    [line] = emf_lines(capsys.readouterr().out)
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TodoChat"
    assert metric_names(line) == {
        "TurnsComplete",
        "TurnsInterrupted",
        "FirstByteMs",
        "TurnDurationMs",
        "ToolCalls",
        "ToolCallsSuccess",
        "ToolCallsFailure",
        "Refusals",
        "RefusalsRateLimited",
        "RefusalsBusy",
        "ModelErrors",
    }
    dimensions = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert dimensions == [["service"]], "the alarms read these names with the service dimension only"
    assert line["TurnsComplete"] == [1.0]
    assert line["ToolCalls"] == [1.0, 1.0]
    assert line["Refusals"] == [1.0, 1.0]
    assert line["FirstByteMs"] == [7.5]
    assert line["TurnDurationMs"] == [420.0, 90.0]
    assert line["tool_failure"] == "delete_task"
    assert line["model_error"] == "model_error"


@pytest.mark.parametrize("outcome", ["complete", "error", "timeout", "interrupted", "stopped"])
def test_every_turn_outcome_has_its_count(outcome: str, capsys: pytest.CaptureFixture[str]) -> None:
    metrics.record_turn(outcome, 1.0, 2.0)
    metrics.flush()
    [line] = emf_lines(capsys.readouterr().out)
    assert f"Turns{outcome.capitalize()}" in metric_names(line)


def test_flush_writes_nothing_when_nothing_was_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.flush()
    metrics.flush()
    assert capsys.readouterr().out == ""


def test_each_history_request_flushes_its_latency(
    services: Services, tokens: Tokens, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.history.routes import router

    app = build_app("history", services, [router])
    app.add_middleware(MetricsMiddleware, record_latency=True)
    with TestClient(app) as client:
        for _ in range(2):
            answer = client.get("/api/alice/conversations", headers=tokens.headers("alice"))
            assert answer.status_code == 200
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 2
    assert all(metric_names(line) == {"HistoryLatencyMs"} and line["HistoryLatencyMs"][0] > 0 for line in lines)


def test_what_a_request_records_is_flushed_when_it_ends(capsys: pytest.CaptureFixture[str]) -> None:
    """The chat app's flush point for anything its requests record (a streamed turn ends with its response)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/turn")
    def turn() -> dict[str, str]:
        metrics.record_turn("complete", 5.0, 50.0)
        return {"status": "complete"}

    app.add_middleware(MetricsMiddleware)
    with TestClient(app) as client:
        assert client.post("/turn").status_code == 200
        assert emf_lines(capsys.readouterr().out)[0]["TurnsComplete"] == [1.0]
        assert client.post("/turn").status_code == 200
    assert len(emf_lines(capsys.readouterr().out)) == 1


def test_a_chat_turn_flushes_its_own_metrics(
    capsys: pytest.CaptureFixture[str], services: Services, database: Any, tokens: Tokens
) -> None:
    from agents.testing import ScriptedModel, assistant_message, function_call

    from functions.chat.turn.store import TurnStore
    from tests.support.chat import chat_app

    dead = TurnStore(database, history_limit=5, rate_limit_per_minute=100, lease_seconds=0)
    started = dead.leases.claim("user_alice", None, "a turn whose process died")
    conversation_id = started.conversation_id
    model = ScriptedModel(
        [[function_call("add_task", {"title": "milk"}, call_id="c1")], [assistant_message("Added milk.")]]
    )
    app = chat_app(services, model, rate_limit_per_minute=2)
    app.add_middleware(MetricsMiddleware)  # as functions/chat/app.py wires it
    client = TestClient(app)
    headers = tokens.headers("user_alice")
    assert (
        client.post(
            "/api/user_alice/chat", json={"message": "add milk", "conversation_id": conversation_id}, headers=headers
        ).status_code
        == 200
    )
    turn_lines = emf_lines(capsys.readouterr().out)
    names = set().union(*(metric_names(line) for line in turn_lines))
    assert {
        "TurnsComplete",
        "TurnsInterrupted",
        "FirstByteMs",
        "TurnDurationMs",
        "ToolCalls",
        "ToolCallsSuccess",
    } <= names
    assert client.post("/api/user_alice/chat", json={"message": "more"}, headers=headers).status_code == 429
    refused = set().union(*(metric_names(line) for line in emf_lines(capsys.readouterr().out)))
    assert {"Refusals", "RefusalsRateLimited"} <= refused
