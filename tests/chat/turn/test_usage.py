"""The model tokens a turn used (the Agents SDK's usage) are stored on its answer and sent as EMF metrics."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import UsageModel, chat_app
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE = "user_alice"


def test_an_answer_stores_the_tokens_its_model_calls_used(
    services: Services, database: Database, tokens: Tokens, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(chat_app(services, UsageModel(OfflineModel(), 120, 30)))
    capsys.readouterr()
    answer = client.post(f"/api/{ALICE}/chat", json={"message": "add buy milk"}, headers=tokens.headers(ALICE))
    assert answer.status_code == 200, answer.text
    stored = database.read(lambda s: s.get(Message, answer.json()["message_id"]))
    assert stored is not None
    # Two model calls: the tool call, then the reply.
    assert (stored.input_tokens, stored.output_tokens) == (240, 60)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    turn = next(line for line in lines if "ModelTokens" in line)
    assert (turn["ModelInputTokens"], turn["ModelOutputTokens"], turn["ModelTokens"]) == ([240.0], [60.0], [300.0])
