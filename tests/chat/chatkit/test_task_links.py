"""Task links through ChatKit: an answer carries an entity annotation for each task its tools touched or listed,
taken from the typed tool results (the model's words decide nothing), streamed as annotations and shown the same
after a reload; a failed call or a deleted task links nothing."""

from __future__ import annotations

from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.chatkit.view import MAX_TASK_LINKS
from tests.support.chatkit import chatkit_client, done_items
from tests.support.factories import seed_tasks
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def links_of(message: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    return [
        (a["source"]["title"], a["source"]["data"]["task_id"], a.get("index"))
        for a in message["content"][0]["annotations"]
    ]


def streamed_links(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["update"]["annotation"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"].endswith("annotation_added")
    ]


def test_listed_and_changed_tasks_are_linked_live_and_after_a_reload(
    services: Services, database: Database, tokens: Tokens
) -> None:
    walk, water = seed_tasks(database, ALICE, "walk dog", "water plants")
    (done,) = seed_tasks(database, ALICE, "old chore", completed=True)
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        thread_id, listed = chatkit.create("list")
        added = chatkit.send(thread_id, "add buy milk")
        deleted = chatkit.send(thread_id, f"delete {water}")
        items = chatkit.items(thread_id)

    (answer,) = done_items(listed, "assistant_message")
    text = answer["content"][0]["text"]
    assert links_of(answer) == [
        ("walk dog", walk, text.index("walk dog") + len("walk dog")),
        ("water plants", water, text.index("water plants") + len("water plants")),
        ("old chore", done, text.index("old chore") + len("old chore")),
    ]
    first = answer["content"][0]["annotations"][0]["source"]
    assert first == {
        "type": "entity",
        "id": f"task_{walk}",
        "title": "walk dog",
        "label": f"Task #{walk}",
        "icon": "empty-circle",
        "interactive": True,
        "data": {"task_id": walk},
    }
    assert answer["content"][0]["annotations"][2]["source"]["icon"] == "check-circle-filled"
    assert streamed_links(listed) == answer["content"][0]["annotations"]  # streamed, then in the finished item

    (added_answer,) = done_items(added, "assistant_message")
    assert [title for title, _, _ in links_of(added_answer)] == ["buy milk"]
    assert links_of(done_items(deleted, "assistant_message")[0])[0][1] == water  # still there: the card asks first

    reloaded = [item for item in items if item["type"] == "assistant_message"]
    assert [links_of(m) for m in reloaded] == [
        links_of(answer),
        links_of(added_answer),
        links_of(done_items(deleted, "assistant_message")[0]),
    ]


def test_only_what_the_tools_returned_is_linked(services: Services, database: Database, tokens: Tokens) -> None:
    (bobs,) = seed_tasks(database, BOB, "bob's secret")
    many = seed_tasks(database, ALICE, *(f"task {n}" for n in range(MAX_TASK_LINKS + 5)))
    model = ScriptedModel(
        [
            [function_call("complete_task", {"task_id": bobs}, call_id="c1")],
            [assistant_message(f"I completed bob's secret (#{bobs}).")],  # the model's words link nothing
            [function_call("list_tasks", {"status": "all"}, call_id="c2")],
            [assistant_message("Here they are.")],
        ]
    )
    with chatkit_client(services, model, tokens, ALICE) as chatkit:
        thread_id, refused = chatkit.create("complete bob's task")
        listed = chatkit.send(thread_id, "list")

    assert links_of(done_items(refused, "assistant_message")[0]) == []
    links = links_of(done_items(listed, "assistant_message")[0])
    assert [task_id for _, task_id, _ in links] == many[:MAX_TASK_LINKS]  # bounded
    assert {index for _, _, index in links} == {None}  # not named in the text: shown with the sources
