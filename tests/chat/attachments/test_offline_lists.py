"""The offline model turns an attached list into tasks ("add these"), end to end through the real chat app: the file
uploaded through the local store's PUT route, the ChatKit message carrying it, the tasks in the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chatkit.types import ThreadCreateParams, ThreadsCreateReq
from fastapi.testclient import TestClient
from sqlmodel import col, select

from functions.chat.agent.offline_lists import MAX_LIST_TASKS, titles_in
from functions.chat.agent.offline_model import OfflineModel
from tests.support.attachments import PNG, carrying, uploaded
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, done_items
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE = "user_alice"


@pytest.fixture
def alice(services: Services, tokens: Tokens) -> Iterator[ChatKitClient]:
    with TestClient(chat_app(services, OfflineModel()), raise_server_exceptions=False) as client:
        yield ChatKitClient(client, tokens, ALICE)


def titles(database: Database) -> list[str]:
    """The titles of the tasks in the database, in the order they were added (by id)."""
    return database.read(lambda s: [t.title for t in s.exec(select(Task).order_by(col(Task.id)))])


def answer(events: list[dict[str, Any]]) -> str:
    message = done_items(events, "assistant_message")[-1]
    return "".join(part["text"] for part in message["content"])


def send(alice: ChatKitClient, text: str, *attachment_ids: str) -> list[dict[str, Any]]:
    return alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying(text, *attachment_ids))))


def test_add_these_with_a_text_list_adds_a_task_per_line(alice: ChatKitClient, database: Database) -> None:
    listed = uploaded(alice, "shopping.txt", "text/plain", b"buy milk\r\n\n  - walk the dog \n* call mom\n\n")
    events = send(alice, "add these", listed["id"])
    assert titles(database) == ["buy milk", "walk the dog", "call mom"]
    assert answer(events) == "Added 3 tasks from shopping.txt."


def test_a_csv_adds_its_first_column_without_the_title_header(alice: ChatKitClient, database: Database) -> None:
    csv = b'title,due\n"buy milk, oat",monday\nwalk dog,tuesday\n,\n'
    listed = uploaded(alice, "tasks.csv", "text/csv", csv)
    events = send(alice, "Add them to my list", listed["id"])
    assert titles(database) == ["buy milk, oat", "walk dog"]
    assert answer(events) == "Added 2 tasks from tasks.csv."


def test_a_long_list_adds_the_first_fifty_and_says_how_many_were_left_out(
    alice: ChatKitClient, database: Database
) -> None:
    lines = "".join(f"task {n}\n" for n in range(1, 61)).encode()
    listed = uploaded(alice, "long.txt", "text/plain", lines)
    events = send(alice, "add these", listed["id"])
    # In the list's order: the model's calls of one answer run one after another, as it made them.
    assert titles(database) == [f"task {n}" for n in range(1, MAX_LIST_TASKS + 1)]
    assert answer(events) == (
        "Added 50 tasks from long.txt. 10 more lines were left out: at most 50 are added at a time."
    )


def test_add_these_without_a_list_says_what_to_attach(alice: ChatKitClient, database: Database) -> None:
    image = uploaded(alice, "dot.png", "image/png", PNG)
    without = send(alice, "add these")
    with_image = send(alice, "add these", image["id"])
    assert titles(database) == []
    for events in (without, with_image):
        assert "Attach a plain-text or CSV file" in answer(events)


def test_the_list_grammar() -> None:
    assert titles_in("a.txt", "one\n\n 1. two\n- [ ] three\n") == (["one", "two", "three"], 0)
    assert titles_in("a.csv", "Title\nx\n") == (["x"], 0)
    assert titles_in("a.csv", "name\nx\n") == (["name", "x"], 0)
    assert titles_in("a.md", "# Groceries\n- milk\n") == (["Groceries", "milk"], 0)
    long_title = "x" * 500
    assert titles_in("a.txt", long_title) == (["x" * 200], 0)
    assert titles_in("a.txt", "".join(f"{n}\n" for n in range(51))) == ([str(n) for n in range(50)], 1)


def test_a_lists_tasks_show_in_one_widget(alice: ChatKitClient) -> None:
    listed = uploaded(alice, "shopping.txt", "text/plain", b"buy milk\nwalk the dog\ncall mom\n")
    events = send(alice, "add these", listed["id"])
    widgets = done_items(events, "widget")
    assert len(widgets) == 1
    assert sorted(row["value"] for row in _texts(widgets[0]["widget"]) if row["value"] in LIST) == sorted(LIST)


LIST = ["buy milk", "walk the dog", "call mom"]


def _texts(node: Any) -> list[dict[str, Any]]:
    """Every Text or Title node of a widget tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("Text", "Title") and isinstance(node.get("value"), str):
            found.append(node)
        for value in node.values():
            found.extend(_texts(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_texts(value))
    return found
