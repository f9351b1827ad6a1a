"""The offline model's grammar, and a whole turn with it through the agent and the real tools."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions.chat.offline_model import HELP, OfflineModel, describe_result, parse_command
from tests.support.chat import chat_app, parse_sse
from tests.support.tokens import Tokens
from todo_common.web import Services


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("add buy milk", ("add_task", {"title": "buy milk"})),
        ("Add task walk the dog.", ("add_task", {"title": "walk the dog"})),
        ("remind me to call mom", ("add_task", {"title": "call mom"})),
        ("list", ("list_tasks", {"status": "all"})),
        ("show my tasks", ("list_tasks", {"status": "all"})),
        ("show my tasks pending", ("list_tasks", {"status": "pending"})),
        ("list completed", ("list_tasks", {"status": "completed"})),
        ("complete 3", ("complete_task", {"task_id": 3})),
        ("done #4", ("complete_task", {"task_id": 4})),
        ("mark 5 done", ("complete_task", {"task_id": 5})),
        ("delete 2", ("delete_task", {"task_id": 2})),
        ("rename 3 to buy oat milk", ("update_task", {"task_id": 3, "title": "buy oat milk"})),
        ("update 3 buy oat milk", ("update_task", {"task_id": 3, "title": "buy oat milk"})),
    ],
)
def test_commands(text: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["hello", "", "delete the second one", "done x", "list everything"])
def test_anything_else_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_results_are_described_in_a_sentence() -> None:
    assert describe_result("add_task", {"task_id": 7, "status": "created", "title": "milk"}) == "Added “milk” (#7)."
    error = {"error": {"code": "task_not_found", "message": "Task 9 was not found."}}
    assert describe_result("delete_task", error) == "Sorry, that didn't work: Task 9 was not found."
    assert describe_result("list_tasks", {"status": "pending", "tasks": []}) == "You have no pending tasks."


def test_offline_turns_stream_in_several_deltas_and_use_the_tools(services: Services, tokens: Tokens) -> None:
    headers = {**tokens.headers("user_alice"), "Accept": "text/event-stream"}
    with TestClient(chat_app(services, OfflineModel())) as client:
        client.post("/api/user_alice/chat", json={"message": "add buy milk"}, headers=tokens.headers("user_alice"))
        with client.stream("POST", "/api/user_alice/chat", json={"message": "list"}, headers=headers) as response:
            events = parse_sse(response.iter_lines())
        unknown = client.post("/api/user_alice/chat", json={"message": "hi"}, headers=tokens.headers("user_alice"))
        failing = client.post(
            "/api/user_alice/chat", json={"message": "done 999"}, headers=tokens.headers("user_alice")
        )

    deltas = [data["delta"] for name, data in events if name == "text_delta"]
    assert len(deltas) >= 2
    text = "".join(deltas)
    assert text.startswith("You have 1 task:\n• buy milk (#")
    assert unknown.json()["response"] == HELP
    assert failing.json()["tool_calls"][0]["status"] == "failure"
    assert "was not found" in failing.json()["response"]
