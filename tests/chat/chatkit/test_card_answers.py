"""A delete confirm card is answered once, over real HTTP with requests sent at the same moment: one answer is
stored, the task is deleted exactly when that answer says so, and the losers are told in words. A card names the
task it showed: confirmed after that task was renamed, it refuses and deletes nothing."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel
from chatkit.actions import Action
from chatkit.types import ThreadCustomActionParams, ThreadsCustomActionReq
from sqlmodel import col, select

from tests.support.chat import chat_app, parse_sse
from tests.support.chatkit import task_with_widget
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.web import Services

ALICE = "user_alice"
TRIALS = 15


@pytest.fixture
def base(services: Services, database: Database) -> Iterator[str]:
    """The chat app on a real socket with a pool of several connections, so concurrent requests really overlap
    in the database (as they do across containers). The trials send more actions in a minute than the per-user
    action limit allows: the limit is raised so the race, not the limit, decides each answer."""
    url = database.engine.url.render_as_string(hide_password=False)
    pooled = Database.from_url(url, pool_size=6) if database.dialect == "postgresql" else Database.from_url(url)
    try:
        with Server(
            chat_app(dataclasses.replace(services, database=pooled), ScriptedModel([]), actions_per_minute=10_000)
        ) as served:
            yield served
    finally:
        pooled.dispose()


def confirm_card(database: Database, title: str = "walk dog") -> tuple[str, str, int]:
    """A conversation with a pending delete confirm card for a new task: (thread id, card id, task id)."""
    return task_with_widget(
        database,
        ALICE,
        title,
        lambda task_id: {"kind": "confirm_delete", "task_id": task_id, "title": title, "decision": "pending"},
    )


def answer(base: str, tokens: Tokens, thread_id: str, card_id: str, kind: str, task_id: Any) -> tuple[int, str]:
    """One card answer: its HTTP status and what the user is told (the streamed message or the error's words)."""
    params = ThreadCustomActionParams(
        thread_id=thread_id, item_id=card_id, action=Action(type=kind, payload={"task_id": task_id})
    )
    response = httpx.post(
        f"{base}/api/{ALICE}/chatkit",
        content=ThreadsCustomActionReq(params=params).model_dump_json(),
        headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
        timeout=30,
    )
    if response.status_code != 200:
        return response.status_code, str(response.json()["error"]["message"])
    events = [data for _, data in parse_sse(response.text.splitlines())]
    errors = [e["message"] for e in events if e["type"] == "error"]
    if errors:
        return 409, str(errors[0])
    texts = [e["item"]["content"][0]["text"] for e in events if e["type"] == "thread.item.done"]
    return 200, texts[0]


def at_once(base: str, tokens: Tokens, thread_id: str, card_id: str, task_id: int, kinds: list[str]) -> list[Any]:
    start = threading.Barrier(len(kinds))
    results: list[Any] = [None] * len(kinds)

    def send(index: int) -> None:
        start.wait()
        results[index] = answer(base, tokens, thread_id, card_id, kinds[index], task_id)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(kinds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def stored(database: Database, thread_id: str, card_id: str, task_id: int) -> tuple[str, list[str], bool]:
    """The card's stored decision, the assistant messages of the thread, whether the task still exists."""

    def work(session: Any) -> tuple[str, list[str], bool]:
        card = session.get(Message, card_id)
        texts = session.exec(
            select(Message.content).where(
                Message.conversation_id == thread_id, Message.role == "assistant", col(Message.content) != ""
            )
        ).all()
        return card.chatkit_item["state"]["decision"], list(texts), session.get(Task, task_id) is not None

    return database.read(work)


@pytest.mark.parametrize(
    "kinds",
    [["task.delete.confirm", "task.delete.cancel"], ["task.delete.cancel"] * 4],
    ids=["confirm-and-cancel", "four-cancels"],
)
def test_a_card_answered_at_once_from_several_requests_is_answered_once(
    base: str, database: Database, tokens: Tokens, kinds: list[str]
) -> None:
    for _ in range(TRIALS):
        thread_id, card_id, task_id = confirm_card(database)
        results = at_once(base, tokens, thread_id, card_id, task_id, kinds)
        decision, texts, task_exists = stored(database, thread_id, card_id, task_id)
        assert decision in ("deleted", "cancelled")
        assert len(texts) == 1, texts  # exactly one answer told and stored
        assert task_exists == (decision == "cancelled")  # the task is deleted iff the stored answer says so
        winners = [text for status, text in results if status == 200]
        assert winners == texts
        assert ("as you confirmed" in texts[0]) == (decision == "deleted")
        losers = [(status, text) for status, text in results if status != 200]
        assert len(losers) == len(kinds) - 1
        for status, text in losers:
            assert status == 409
            assert text.startswith("This question was already answered")


def test_a_card_confirmed_after_its_task_was_renamed_deletes_nothing(
    base: str, database: Database, tokens: Tokens
) -> None:
    thread_id, card_id, task_id = confirm_card(database, "walk dog")

    def rename(session: Any) -> None:
        task = session.get(Task, task_id)
        task.title = "pay rent"
        session.add(task)

    database.write(rename)
    status, text = answer(base, tokens, thread_id, card_id, "task.delete.confirm", task_id)
    assert status == 409
    assert text == f"Task {task_id} changed since this card asked (it is now “pay rent”): nothing was deleted."
    decision, texts, task_exists = stored(database, thread_id, card_id, task_id)
    assert (decision, texts, task_exists) == ("pending", [], True)  # the card can still be cancelled
    assert answer(base, tokens, thread_id, card_id, "task.delete.cancel", task_id)[0] == 200
    assert stored(database, thread_id, card_id, task_id)[0] == "cancelled"


def test_a_card_whose_task_was_deleted_meanwhile_says_so(base: str, database: Database, tokens: Tokens) -> None:
    thread_id, card_id, task_id = confirm_card(database)
    database.write(lambda session: session.delete(session.get(Task, task_id)))
    status, text = answer(base, tokens, thread_id, card_id, "task.delete.confirm", task_id)
    assert (status, text) == (404, f"Task {task_id} was not found.")
    assert stored(database, thread_id, card_id, task_id)[:2] == ("pending", [])
    assert json.dumps(text)  # words, not a traceback
