"""Faults around a chat turn: the database going away, and what is left stored afterwards."""

from __future__ import annotations

import dataclasses
import socket

from agents.testing import ScriptedModel, assistant_message
from fastapi.testclient import TestClient

from tests.support.chat import chat_app
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

ALICE = "user_alice"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_database_down_is_503_in_the_error_shape(services: Services, tokens: Tokens) -> None:
    down = Database.from_url(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nowhere")
    broken = dataclasses.replace(services, database=down)
    with TestClient(
        chat_app(broken, ScriptedModel([[assistant_message("never")]])), raise_server_exceptions=False
    ) as client:
        plain = client.post(f"/api/{ALICE}/chat", json={"message": "hello"}, headers=tokens.headers(ALICE, "chat"))
        chatkit = client.post(
            f"/api/{ALICE}/chatkit",
            json={"type": "threads.list", "params": {"limit": 5}},
            headers=tokens.headers(ALICE, "chat"),
        )
    for response in (plain, chatkit):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert response.headers["retry-after"] == "2"
    down.dispose()
