"""The ChatKit clients of two users on one chat app (offline model), and its local file store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient
from tests.support.tokens import Tokens
from todo_common.files.local import LocalFileStore
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(chat_app(services, OfflineModel()), raise_server_exceptions=False) as http:
        yield http


@pytest.fixture
def alice(client: TestClient, tokens: Tokens) -> ChatKitClient:
    return ChatKitClient(client, tokens, ALICE)


@pytest.fixture
def bob(client: TestClient, tokens: Tokens) -> ChatKitClient:
    return ChatKitClient(client, tokens, BOB)


@pytest.fixture
def files(services: Services) -> LocalFileStore:
    store = services.files
    assert isinstance(store, LocalFileStore)
    return store
