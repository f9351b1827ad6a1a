"""`list_tasks` answers a page (50 tasks) and says how many more there are and how to get them, so a user with
5,000 tasks costs the model one bounded result (it was 7.2 MB), and a ChatKit reload shows a bounded task list
with a "N more" line (it was 6.5 MB), on both databases."""

from __future__ import annotations

import json

from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.types import ThreadCreateParams, ThreadGetByIdParams, ThreadsCreateReq, ThreadsGetByIdReq
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.tasks.operations import LIST_PAGE_SIZE
from tests.support.chat import chat_app
from tests.support.chatkit import over_socket, streamed_events, user_input
from tests.support.factories import numbered, seed_tasks
from tests.support.server import Server
from tests.support.task_tools import call_tool
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

ALICE = "user_alice"
MANY = 5000


def test_list_tasks_pages_through_5000_tasks_with_n_more(database: Database) -> None:
    ids = seed_tasks(database, ALICE, *numbered(MANY), completed=range(4, MANY + 1, 4))
    first = call_tool(database, ALICE, "list_tasks").structured_content
    assert len(json.dumps(first)) < 10_000
    assert first["count"] == len(first["tasks"]) == LIST_PAGE_SIZE == 50
    assert first["more"] == MANY - 50 and first["next_after_id"] == ids[49]

    seen, after = [], None
    while True:
        page = call_tool(database, ALICE, "list_tasks", **({"after_id": after} if after else {})).structured_content
        seen += [task["id"] for task in page["tasks"]]
        if page["next_after_id"] is None:
            assert page["more"] == 0
            break
        after = page["next_after_id"]
    assert seen == ids

    done = call_tool(database, ALICE, "list_tasks", status="completed", after_id=ids[-9]).structured_content
    assert [t["id"] for t in done["tasks"]] == [i for n, i in enumerate(ids, 1) if n % 4 == 0 and i > ids[-9]]
    assert done["more"] == 0 and done["next_after_id"] is None


def test_a_chatkit_reload_of_a_list_of_5000_tasks_is_bounded(
    services: Services, database: Database, tokens: Tokens
) -> None:
    seed_tasks(database, ALICE, *numbered(MANY))
    model = ScriptedModel([[function_call("list_tasks", {}, call_id="call_1")], [assistant_message("Here they are.")]])
    with Server(chat_app(services, model)) as base, over_socket(base, tokens, ALICE) as chatkit:
        streamed = chatkit.post(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list"))))
        thread_id = next(e for kind, e in streamed_events(streamed) if kind == "thread.created")["thread"]["id"]
        reload = chatkit.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id)))
    widget = next(i for i in reload.json()["items"]["data"] if i["type"] == "widget")
    rows = widget["widget"]["children"]
    assert len(rows) == LIST_PAGE_SIZE + 1
    assert "4,950 more" in json.dumps(rows[-1])
    print(f"\nChatKit turn stream: {len(streamed.content):,} B; reload: {len(reload.content):,} B")
    assert len(streamed.content) < 100_000 and len(reload.content) < 100_000


def test_the_offline_model_says_how_many_more_and_how_to_see_them(
    services: Services, database: Database, tokens: Tokens
) -> None:
    ids = seed_tasks(database, ALICE, *numbered(60))
    with TestClient(chat_app(services, OfflineModel())) as client:
        first = client.post(f"/api/{ALICE}/chat", json={"message": "list"}, headers=tokens.headers(ALICE)).json()
        assert f"…and 10 more: say “list after {ids[49]}”" in first["response"]
        rest = client.post(
            f"/api/{ALICE}/chat",
            json={"message": f"list after {ids[49]}", "conversation_id": first["conversation_id"]},
            headers=tokens.headers(ALICE),
        ).json()
    assert rest["response"].startswith("You have 10 tasks:") and f"(#{ids[-1]})" in rest["response"]
