"""A user's daily budget of turns and of model tokens: once spent, a new message is refused in words (429 with
Retry-After until midnight UTC on the plain endpoint, a ChatKit error event in a ChatKit stream) and nothing is
stored. Real socket, both databases."""

from __future__ import annotations

from typing import Any

import httpx
from chatkit.types import ThreadCreateParams, ThreadsCreateReq
from sqlmodel import func, select

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import UsageModel, chat_app
from tests.support.chatkit import ChatKitClient, user_input
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def messages(database: Database, user: str) -> int:
    return int(database.read(lambda s: s.exec(select(func.count()).where(Message.user_id == user)).one()))


def send(http: httpx.Client, tokens: Tokens, user: str = ALICE) -> httpx.Response:
    return http.post(f"/api/{user}/chat", json={"message": "hi"}, headers=tokens.headers(user))


def assert_spent(refused: httpx.Response, what: str) -> None:
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
    error: dict[str, Any] = refused.json()["error"]
    assert error["code"] == "daily_budget_spent"
    assert error["message"].startswith(f"Today's assistant budget is spent ({what} a day); it renews at midnight UTC")


def test_the_daily_turn_budget_refuses_in_words(services: Services, database: Database, tokens: Tokens) -> None:
    app = chat_app(services, OfflineModel(), daily_turns=2)
    with Server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert send(http, tokens).status_code == 200
        assert send(http, tokens).status_code == 200
        stored = messages(database, ALICE)
        assert_spent(send(http, tokens), "2 messages")
        assert messages(database, ALICE) == stored  # nothing stored
        assert send(http, tokens, BOB).status_code == 200  # a budget per user
        events = ChatKitClient(http, tokens, ALICE).events(
            ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hi")))
        )
        errors = [e for e in events if e["type"] == "error"]
        assert errors and errors[0]["message"].startswith("Today's assistant budget is spent (2 messages a day)")
        assert messages(database, ALICE) == stored


def test_the_daily_token_budget_counts_what_the_model_reported(
    services: Services, database: Database, tokens: Tokens
) -> None:
    app = chat_app(services, UsageModel(OfflineModel(), 120, 30), daily_tokens=250)
    with Server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert send(http, tokens).status_code == 200  # 150 tokens
        assert send(http, tokens).status_code == 200  # 300: over from now on
        assert_spent(send(http, tokens), "its model budget")
