"""The offline model's grammar, and a whole turn with it through the agent and the real tools."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from agents.model_settings import ModelSettings
from agents.models.interface import ModelTracing
from fastapi.testclient import TestClient
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from functions.chat.agent.offline_model import HELP, OfflineModel, describe_result, parse_command
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


def streamed(model: OfflineModel, text: str) -> list[Any]:
    """The events the model streams for one user message, called as the agent runner calls it."""

    async def collect() -> list[Any]:
        stream = model.stream_response(
            None,
            [{"role": "user", "content": text}],
            ModelSettings(),
            [],
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
        return [event async for event in stream]

    return asyncio.run(collect())


def test_a_text_answer_streams_as_the_responses_api_sends_one() -> None:
    model = OfflineModel()
    events = streamed(model, "hi")
    (chosen,) = model.respond([{"role": "user", "content": "hi"}])
    assert isinstance(chosen, ResponseOutputMessage)

    types = [event.type for event in events]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) >= 2
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(deltas),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert "".join(deltas) == HELP == events[-4].text == events[-3].part.text
    assert events[2].item.status == "in_progress" and events[2].item.content == []
    assert events[3].part.text == ""
    assert {event.item_id for event in events[3:-2]} == {events[-2].item.id}
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.id == events[0].response.id
    assert completed.output == [events[-2].item] == [chosen]
    assert completed.usage is not None and completed.usage.total_tokens == 0


def test_a_tool_call_streams_as_the_responses_api_sends_one() -> None:
    events = streamed(OfflineModel(), "add buy milk")

    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    call = events[-2].item
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.name, json.loads(call.arguments)) == ("add_task", {"title": "buy milk"})
    assert events[2].item.arguments == "" and events[2].item.status == "in_progress"
    assert events[3].delta == events[4].arguments == call.arguments
    assert events[3].item_id == events[4].item_id == call.id
    assert events[-1].response.output == [call]


def test_the_agent_runner_reads_the_answer_streamed_and_whole() -> None:
    agent = Agent(name="offline", model=OfflineModel())
    config = RunConfig(tracing_disabled=True)

    async def run_streamed() -> Any:
        result = Runner.run_streamed(agent, "hi", run_config=config)
        async for _ in result.stream_events():
            pass
        return result

    whole = asyncio.run(Runner.run(agent, "hi", run_config=config))
    for result in (whole, asyncio.run(run_streamed())):
        assert result.final_output == HELP
        assert result.context_wrapper.usage.requests == 1
        assert [item.type for item in result.new_items] == ["message_output_item"]
