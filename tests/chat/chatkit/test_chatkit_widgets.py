"""Task widgets through the real ChatKit endpoint on a real socket: the task list's round trip (list, Complete,
reload, Reopen), the delete confirm card (Cancel keeps, Delete removes, the model is told), `tasks.changed` effects
only for what changed, and actions that are not the caller's refused with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.actions import Action
from chatkit.types import (
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
)
from sqlmodel import select

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, user_input, widget_row
from tests.support.factories import seed_conversation, seed_tasks
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def served(services: Services, model: Any, tokens: Tokens) -> Iterator[ChatKitClient]:
    with Server(chat_app(services, model)) as base, httpx.Client(base_url=base, timeout=60) as http:
        yield ChatKitClient(http, tokens, ALICE)


def task(database: Database, task_id: int) -> Task | None:
    return database.read(lambda s: s.get(Task, task_id))


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done"]


def effects(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "client_effect"]


def rows_of(widget: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """A task list widget as (title, badge, button labels) per task."""
    rows = []
    for item in widget["children"]:
        texts = next(c for c in item["children"] if c["type"] == "Col")["children"]
        badge = next(c["label"] for c in item["children"] if c["type"] == "Badge")
        buttons = [c["label"] for c in item["children"] if c["type"] == "Button"]
        rows.append((texts[0]["value"], badge, buttons))
    return rows


def action(thread_id: str, item_id: str | None, kind: str, task_id: Any) -> ThreadCustomActionParams:
    return ThreadCustomActionParams(
        thread_id=thread_id, item_id=item_id, action=Action(type=kind, payload={"task_id": task_id})
    )


def test_a_task_list_round_trip(services: Services, database: Database, tokens: Tokens) -> None:
    walk, milk = seed_tasks(database, ALICE, "walk dog", "buy milk")
    model = ScriptedModel([[function_call("list_tasks", {}, call_id="c1")], [assistant_message("Here they are.")]])
    for client in served(services, model, tokens):
        events = client.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list"))))
        thread_id = events[0]["thread"]["id"]
        assert [i["type"] for i in done_items(events)] == ["user_message", "workflow", "assistant_message", "widget"]
        assert effects(events) == []  # listing changes nothing
        widget = done_items(events)[-1]
        assert widget["widget"]["type"] == "ListView"
        assert rows_of(widget["widget"]) == [
            ("walk dog", "Pending", ["Complete", "Delete"]),
            ("buy milk", "Pending", ["Complete", "Delete"]),
        ]
        assert widget["copy_text"] == f"Your tasks\nPending: walk dog (#{walk})\nPending: buy milk (#{milk})"

        clicked = client.post(sync_request(thread_id, widget["id"], "task.complete", walk))
        assert clicked.status_code == 200, clicked.text
        updated = clicked.json()["updated_item"]
        assert updated["id"] == widget["id"]
        assert rows_of(updated["widget"])[0] == ("walk dog", "Done", ["Reopen", "Delete"])
        assert task(database, walk).completed is True  # type: ignore[union-attr]
        assert task(database, milk).completed is False  # type: ignore[union-attr]

        reloaded = client.items(thread_id)
        assert [i["type"] for i in reloaded] == ["user_message", "workflow", "assistant_message", "widget"]
        assert reloaded[-1]["widget"] == updated["widget"]

        reopened = client.events(ThreadsCustomActionReq(params=action(thread_id, widget["id"], "task.reopen", walk)))
        assert [e["type"] for e in reopened] == ["thread.item.replaced", "client_effect"]
        assert rows_of(reopened[0]["item"]["widget"])[0] == ("walk dog", "Pending", ["Complete", "Delete"])
        assert reopened[1] == {
            "type": "client_effect",
            "name": "tasks.changed",
            "data": {"task_id": walk, "change": "reopened"},
        }
        assert task(database, walk).completed is False  # type: ignore[union-attr]

        deleted = client.post(sync_request(thread_id, widget["id"], "task.delete", milk))
        assert rows_of(deleted.json()["updated_item"]["widget"])[1] == ("buy milk", "Deleted", [])
        assert task(database, milk) is None
        assert rows_of(client.items(thread_id)[-1]["widget"])[1] == ("buy milk", "Deleted", [])


def sync_request(thread_id: str, item_id: str | None, kind: str, task_id: Any) -> ThreadsSyncCustomActionReq:
    return ThreadsSyncCustomActionReq(params=action(thread_id, item_id, kind, task_id))


def test_effects_only_for_tool_calls_that_changed_a_task(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "milk"}, call_id="c1")],
            [function_call("complete_task", {"task_id": 10**9}, call_id="c2")],
            [function_call("list_tasks", {"status": "bogus"}, call_id="c3")],
            [assistant_message("Added milk; the rest failed.")],
        ]
    )
    for client in served(services, model, tokens):
        events = client.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add milk, finish 1e9"))))
    milk = database.read(lambda s: s.exec(select(Task)).one())
    assert effects(events) == [
        {"type": "client_effect", "name": "tasks.changed", "data": {"task_id": milk.id, "change": "created"}}
    ]
    widgets = [i for i in done_items(events) if i["type"] == "widget"]
    assert len(widgets) == 1  # the failed calls show no widget
    assert widgets[0]["widget"]["status"]["text"] == "Added"
    assert rows_of(widgets[0]["widget"]) == [("milk", "Pending", ["Complete", "Delete"])]


def test_actions_on_what_is_not_the_callers_are_refused(services: Services, database: Database, tokens: Tokens) -> None:
    alices_task, other_alice_task = seed_tasks(database, ALICE, "walk dog", "call mom")
    (bobs_task,) = seed_tasks(database, BOB, "bob's")
    alices, bobs = seed_conversation(database, ALICE), seed_conversation(database, BOB)
    alice_widget = widget_row(database, alices.id, ALICE, [alices_task])
    bob_widget = widget_row(database, bobs.id, BOB, [bobs_task])
    refused = [
        (action(bobs.id, bob_widget, "task.complete", bobs_task), 403, "forbidden"),
        (action(alices.id, bob_widget, "task.complete", bobs_task), 404, "not_found"),
        (action(alices.id, alice_widget, "task.complete", bobs_task), 404, "task_not_found"),
        (action(alices.id, alice_widget, "task.delete", other_alice_task), 404, "task_not_found"),
        (action(alices.id, alice_widget, "task.delete.confirm", alices_task), 400, "invalid_action"),
        (action(alices.id, alice_widget, "task.complete", "1; drop"), 422, "invalid_action"),
        (action(alices.id, None, "task.complete", alices_task), 400, "invalid_sender"),
    ]
    model = ScriptedModel([])
    for client in served(services, model, tokens):
        for params, status, code in refused:
            for request in (ThreadsSyncCustomActionReq(params=params), ThreadsCustomActionReq(params=params)):
                response = client.post(request)
                assert response.status_code == status, (params, response.text)
                assert response.json()["error"]["code"] == code
    assert [task(database, i).completed for i in (alices_task, other_alice_task, bobs_task)] == [False] * 3  # type: ignore[union-attr]


def test_deleting_asks_first_and_the_model_is_told(services: Services, database: Database, tokens: Tokens) -> None:
    (walk,) = seed_tasks(database, ALICE, "walk dog")
    model = ScriptedModel(
        [
            [function_call("delete_task", {"task_id": walk}, call_id="d1")],
            [assistant_message("Please confirm below.")],
            [function_call("delete_task", {"task_id": walk}, call_id="d2")],
            [assistant_message("Please confirm again.")],
            [assistant_message("It is gone.")],
        ]
    )
    for client in served(services, model, tokens):
        first = client.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("delete walk dog"))))
        thread_id = first[0]["thread"]["id"]
        tool_output = json.loads(model.calls[1].input[-1]["output"])
        assert tool_output["status"] == "awaiting_confirmation"
        card = done_items(first)[-1]
        assert card["widget"]["confirm"]["action"]["type"] == "task.delete.confirm"
        assert card["widget"]["cancel"]["label"] == "Cancel"
        assert effects(first) == []
        assert task(database, walk) is not None  # asking deletes nothing

        cancelled = client.events(
            ThreadsCustomActionReq(params=action(thread_id, card["id"], "task.delete.cancel", walk))
        )
        assert [e["type"] for e in cancelled] == ["thread.item.replaced", "thread.item.done"]
        assert "confirm" not in cancelled[0]["item"]["widget"]
        assert cancelled[0]["item"]["widget"]["status"]["text"] == "Kept: nothing was deleted"
        assert task(database, walk) is not None
        again = client.post(sync_request(thread_id, card["id"], "task.delete.confirm", walk))
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_answered"
        assert task(database, walk) is not None

        second = client.events(
            ThreadsAddUserMessageReq(
                params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("delete it"))
            )
        )
        assert "was not deleted" in json.dumps(model.calls[2].input)  # the cancel reached the model
        card2 = done_items(second)[-1]
        confirmed = client.events(
            ThreadsCustomActionReq(params=action(thread_id, card2["id"], "task.delete.confirm", walk))
        )
        assert [e["type"] for e in confirmed] == ["thread.item.replaced", "thread.item.done", "client_effect"]
        assert confirmed[1]["item"]["content"][0]["text"] == f"Deleted “walk dog” (#{walk}), as you confirmed."
        assert confirmed[2]["data"] == {"task_id": walk, "change": "deleted"}
        assert task(database, walk) is None

        client.events(
            ThreadsAddUserMessageReq(params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("ok?")))
        )
        assert "as you confirmed" in json.dumps(model.calls[4].input)  # the delete reached the model
        reloaded = client.items(thread_id)
        cards = [i for i in reloaded if i["type"] == "widget"]
        assert [c["widget"]["status"]["text"] for c in cards] == ["Kept: nothing was deleted", "Deleted"]


def test_the_offline_model_shows_the_same_widgets(services: Services, database: Database, tokens: Tokens) -> None:
    for client in served(services, OfflineModel(), tokens):
        added = client.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add buy milk"))))
        thread_id = added[0]["thread"]["id"]
        milk = database.read(lambda s: s.exec(select(Task)).one()).id
        assert milk is not None
        assert rows_of(done_items(added)[-1]["widget"]) == [("buy milk", "Pending", ["Complete", "Delete"])]
        asked = client.events(
            ThreadsAddUserMessageReq(
                params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(f"delete {milk}"))
            )
        )
        texts = [i["content"][0]["text"] for i in done_items(asked) if i["type"] == "assistant_message"]
        assert texts == [f"Delete “buy milk” (#{milk})? Confirm or cancel below."]
        assert done_items(asked)[-1]["widget"]["type"] == "Card"
        assert task(database, milk) is not None
