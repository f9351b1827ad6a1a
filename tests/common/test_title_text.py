"""Conversation titles are one line of visible text, wherever they are set: the title a first message gives a new
conversation (one rule, plain chat and ChatKit alike: its first line, cleaned, clipped), a rename through the
history API, ChatKit's `threads.update`. NUL, CR/LF, ESC, BEL and the like become spaces, bidi overrides (U+202E)
are dropped, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chatkit.types import ThreadCreateParams, ThreadsCreateReq
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.agent.titles import clean_clip
from tests.support.chat import chat_app
from tests.support.chatkit import over_socket, user_input
from tests.support.factories import seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.clip import clip
from todo_common.db import Database
from todo_common.web import Services

ALICE = "user_alice"
DIRTY = "Plan\r\n## Assistant\x1b[2J trip\x07 \u202eevil\u202c\x00 now"
CLEAN = "Plan ## Assistant [2J trip evil now"
# A first ChatKit message names its thread by its first line (generated titles), cleaned by the same rule.
FIRST_LINE_DIRTY = "plan\x1b[2J trip\x07 \u202eevil\u202c now\r\n## Assistant"
FIRST_LINE_CLEAN = "Plan [2J trip evil now"


def history_title(history_client: TestClient, tokens: Tokens, conversation_id: str) -> str:
    response = history_client.get(f"/api/{ALICE}/conversations/{conversation_id}", headers=tokens.headers(ALICE))
    assert response.status_code == 200, response.text
    return str(response.json()["title"])


def test_clip_keeps_one_line_of_visible_text() -> None:
    assert clip(DIRTY, 200) == CLEAN
    assert clip("\x1b" * 10, 200) == ""


@pytest.fixture
def served(services: Services) -> Iterator[str]:
    with Server(chat_app(services, OfflineModel())) as base:
        yield base


QUESTIONS = [
    (DIRTY.replace("\x00", ""), "Plan"),  # the first line only
    (FIRST_LINE_DIRTY, FIRST_LINE_CLEAN),
    ("  add buy milk please!  ", "Add buy milk please"),
    ("remember to water the plants on the balcony every morning", "Remember to water the plants on the…"),
    ("?!", "?!"),  # nothing but punctuation keeps it: a title, and one the title model may replace
]


@pytest.mark.parametrize(("question", "title"), QUESTIONS)
def test_a_first_message_titles_its_conversation_by_one_rule_in_plain_chat_and_chatkit(
    question: str, title: str, served: str, services: Services, history_client: TestClient, tokens: Tokens
) -> None:
    plain = TestClient(chat_app(services, OfflineModel()))
    answer = plain.post(f"/api/{ALICE}/chat", json={"message": question}, headers=tokens.headers(ALICE)).json()
    assert history_title(history_client, tokens, answer["conversation_id"]) == title

    with over_socket(served, tokens, ALICE) as chatkit:
        events = chatkit.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input(question))))
    thread_id = events[0]["thread"]["id"]
    # Offline the title the question gives at once is the title: nothing renames it after the answer.
    assert [e["thread"]["title"] for e in events if e["type"] == "thread.updated"] == [title]
    assert history_title(history_client, tokens, thread_id) == title
    assert clean_clip(question) == title


def test_a_first_message_with_nothing_visible_leaves_its_conversation_untitled_in_plain_chat_and_chatkit(
    served: str, services: Services, history_client: TestClient, tokens: Tokens
) -> None:
    question = "\x1b\x07\u202e"
    plain = TestClient(chat_app(services, OfflineModel()))
    answer = plain.post(f"/api/{ALICE}/chat", json={"message": question}, headers=tokens.headers(ALICE))
    assert answer.status_code == 200, answer.text
    conversation = f"/api/{ALICE}/conversations/{answer.json()['conversation_id']}"
    assert history_client.get(conversation, headers=tokens.headers(ALICE)).json()["title"] is None

    with over_socket(served, tokens, ALICE) as chatkit:
        events = chatkit.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input(question))))
    assert [e["type"] for e in events if e["type"] in ("thread.updated", "error")] == []
    thread = f"/api/{ALICE}/conversations/{events[0]['thread']['id']}"
    assert history_client.get(thread, headers=tokens.headers(ALICE)).json()["title"] is None


def test_renames_keep_one_clean_line(
    served: str, database: Database, history_client: TestClient, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE)
    renamed = history_client.patch(
        f"/api/{ALICE}/conversations/{conversation.id}", json={"title": DIRTY}, headers=tokens.headers(ALICE)
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == CLEAN

    only_controls = history_client.patch(
        f"/api/{ALICE}/conversations/{conversation.id}", json={"title": "\x1b\x07\u202e"}, headers=tokens.headers(ALICE)
    )
    assert only_controls.status_code == 422
    assert only_controls.json()["error"]["code"] == "validation_error"

    with over_socket(served, tokens, ALICE) as chatkit:
        updated = chatkit.post(
            {"type": "threads.update", "params": {"thread_id": conversation.id, "title": "Trip\x1b\r\nplans\u202e"}}
        )
    assert updated.status_code == 200, updated.text
    assert history_title(history_client, tokens, conversation.id) == "Trip plans"
