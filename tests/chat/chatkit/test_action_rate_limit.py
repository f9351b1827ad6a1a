"""ChatKit widget actions share a per-user rate limit (counted in the database): past it, a streamed action ends
with a ChatKit error event in words and a sync action is 429 with Retry-After; nothing changes. Real socket, both
databases."""

from __future__ import annotations

import httpx
from agents.testing import ScriptedModel
from chatkit.actions import Action
from chatkit.types import ThreadCustomActionParams, ThreadsCustomActionReq, ThreadsSyncCustomActionReq

from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, widget_row
from tests.support.clock import early_in_a_minute
from tests.support.factories import seed_conversation, seed_tasks
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE = "user_alice"


def completed(database: Database, task_id: int) -> bool:
    task = database.read(lambda s: s.get(Task, task_id))
    assert task is not None
    return task.completed


def params(thread_id: str, item_id: str, kind: str, task_id: int) -> ThreadCustomActionParams:
    return ThreadCustomActionParams(
        thread_id=thread_id, item_id=item_id, action=Action(type=kind, payload={"task_id": task_id})
    )


def test_widget_actions_over_the_rate_limit_are_refused_in_words(
    services: Services, database: Database, tokens: Tokens
) -> None:
    (walk,) = seed_tasks(database, ALICE, "walk dog")
    thread = seed_conversation(database, ALICE)
    widget = widget_row(database, thread.id, ALICE, [walk])
    app = chat_app(services, ScriptedModel([]), actions_per_minute=2)
    with Server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        client = ChatKitClient(http, tokens, ALICE)
        early_in_a_minute()  # the actions share one minute's window
        assert client.post(
            ThreadsSyncCustomActionReq(params=params(thread.id, widget, "task.complete", walk))
        ).is_success
        reopened = client.events(ThreadsCustomActionReq(params=params(thread.id, widget, "task.reopen", walk)))
        assert reopened[0]["type"] == "thread.item.replaced"

        streamed = client.events(ThreadsCustomActionReq(params=params(thread.id, widget, "task.complete", walk)))
        assert [e["type"] for e in streamed] == ["error"]
        assert streamed[0]["message"].startswith("You can make 2 task actions a minute; try again in ")
        assert streamed[0]["allow_retry"] is True
        synced = client.post(ThreadsSyncCustomActionReq(params=params(thread.id, widget, "task.complete", walk)))
        assert synced.status_code == 429
        assert 1 <= int(synced.headers["Retry-After"]) <= 61
        assert synced.json()["error"]["code"] == "rate_limited"
        assert "2 task actions a minute" in synced.json()["error"]["message"]
    assert completed(database, walk) is False  # the refused actions changed nothing
