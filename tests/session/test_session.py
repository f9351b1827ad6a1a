"""The session function: a Better Auth token traded for a short-lived chat token, and a conversation to use."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from functions.chat.settings import ChatSettings
from functions.session.routes import router
from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.auth import TokenVerifier
from todo_common.db import Database
from todo_common.files import file_store
from todo_common.files.local import LocalFileStore
from todo_common.settings import DEFAULT_CHAT_MODEL, ConfigurationError, Settings
from todo_common.web import Services, build_app

ALICE, BOB = "user_alice", "user_bob"


def test_mints_a_chat_token_for_this_user_only(session_client: TestClient, settings: Settings, tokens: Tokens) -> None:
    response = session_client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    principal = TokenVerifier(settings).verify(body["token"])
    assert (principal.user_id, principal.token_kind) == (ALICE, "chat")
    expires = datetime.fromisoformat(body["expires_at"]).timestamp()
    assert abs(expires - (time.time() + settings.chat_token_ttl_seconds)) < 5
    assert body["chatkit_url"].endswith(f"/api/{ALICE}/chatkit")
    assert body["user_id"] == ALICE
    assert "conversation_id" not in body


def test_chatkit_url_and_lifetime_come_from_configuration(services: Services, tokens: Tokens) -> None:
    configured = dataclasses.replace(
        services.settings, chat_base_url="https://chat.example.test", chat_token_ttl_seconds=120
    )
    app = build_app("session", dataclasses.replace(services, settings=configured), [router])
    with TestClient(app) as client:
        body = client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE)).json()
    assert body["chatkit_url"] == f"https://chat.example.test/api/{ALICE}/chatkit"
    assert abs(datetime.fromisoformat(body["expires_at"]).timestamp() - (time.time() + 120)) < 5


def test_new_and_resumed_conversations_follow_ownership(
    session_client: TestClient, database: Database, tokens: Tokens
) -> None:
    url = f"/api/{ALICE}/chatkit/session"
    created = session_client.post(url, json={"new_conversation": True}, headers=tokens.headers(ALICE))
    assert created.status_code == 201
    new_id = created.json()["conversation_id"]
    assert new_id.startswith("thr_")

    resumed = session_client.post(url, json={"conversation_id": new_id}, headers=tokens.headers(ALICE))
    assert resumed.json()["conversation_id"] == new_id

    bobs = seed_conversation(database, BOB)
    assert session_client.post(url, json={"conversation_id": bobs.id}, headers=tokens.headers(ALICE)).status_code == 403
    assert (
        session_client.post(url, json={"conversation_id": "thr_nope"}, headers=tokens.headers(ALICE)).status_code == 404
    )
    both = session_client.post(
        url, json={"conversation_id": new_id, "new_conversation": True}, headers=tokens.headers(ALICE)
    )
    assert both.status_code == 422
    assert both.json()["error"]["code"] == "validation_error"


def test_path_user_must_be_the_token_subject(session_client: TestClient, tokens: Tokens) -> None:
    response = session_client.post(f"/api/{BOB}/chatkit/session", headers=tokens.headers(ALICE))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_the_session_tells_chatkit_whether_to_offer_dictation(services: Services, tokens: Tokens) -> None:
    base = {"CHAT_TOKEN_SECRET": "s" * 32, "BETTER_AUTH_SECRET": "b" * 32}
    assert Settings.from_environ(base).dictation is False  # no provider: the composer offers no microphone
    assert Settings.from_environ({**base, "OPENAI_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:x"}).dictation is True
    assert Settings.from_environ({**base, "OPENAI_API_KEY": "sk-x", "CHAT_DICTATION": "false"}).dictation is False
    for dictation in (False, True):
        configured = dataclasses.replace(services.settings, dictation=dictation)
        app = build_app("session", dataclasses.replace(services, settings=configured), [router])
        with TestClient(app) as client:
            body = client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE)).json()
        assert body["dictation"] is dictation


def test_the_session_tells_chatkit_whether_to_offer_attachments(services: Services, tokens: Tokens) -> None:
    base = {"CHAT_TOKEN_SECRET": "s" * 32, "BETTER_AUTH_SECRET": "b" * 32}
    assert Settings.from_environ(base).attachments is True  # a local folder or the stack's bucket takes them
    assert Settings.from_environ({**base, "CHAT_ATTACHMENTS": "false"}).attachments is False
    assert Settings.from_environ({**base, "CHAT_ATTACHMENTS": "true"}).attachments is True
    for attachments in (False, True):
        configured = dataclasses.replace(services.settings, attachments=attachments)
        app = build_app("session", dataclasses.replace(services, settings=configured), [router])
        with TestClient(app) as client:
            body = client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE)).json()
        assert body["attachments"] is attachments


def test_on_lambda_attachments_need_the_bucket() -> None:
    """A Lambda function's disk is read-only and its links would point at itself: without CHAT_ATTACHMENTS_BUCKET
    attachments are off there by default, and asking for them is a configuration error that names the bucket."""
    lambda_base = {"CHAT_TOKEN_SECRET": "s" * 32, "BETTER_AUTH_SECRET": "b" * 32, "AWS_LAMBDA_FUNCTION_NAME": "chat"}
    assert Settings.from_environ(lambda_base).attachments is False
    bucket = {**lambda_base, "CHAT_ATTACHMENTS_BUCKET": "todo-chat-attachments"}
    assert Settings.from_environ(bucket).attachments is True
    assert Settings.from_environ({**bucket, "CHAT_ATTACHMENTS": "false"}).attachments is False
    with pytest.raises(ConfigurationError, match="CHAT_ATTACHMENTS_BUCKET"):
        Settings.from_environ({**lambda_base, "CHAT_ATTACHMENTS": "true"})


def test_the_file_store_is_the_bucket_the_settings_read(tmp_path: Path) -> None:
    """The bucket's name read once, by the settings (so also from Secrets Manager): on Lambda, attachments on means
    the S3 store, never the local folder."""
    environ = {
        "CHAT_TOKEN_SECRET": "s" * 32,
        "BETTER_AUTH_SECRET": "b" * 32,
        "AWS_LAMBDA_FUNCTION_NAME": "todo-chat-chat-prod",
        "CHAT_ATTACHMENTS_BUCKET_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bucket",
        "CHAT_ATTACHMENTS_DIR": str(tmp_path),
    }
    settings = Settings.from_environ(environ, read_secret=lambda arn: "todo-chat-attachments")
    assert settings.attachments
    assert not isinstance(file_store(settings, environ), LocalFileStore)


def test_the_session_offers_the_chat_functions_models_default_first(services: Services, tokens: Tokens) -> None:
    base = {"CHAT_TOKEN_SECRET": "s" * 32, "BETTER_AUTH_SECRET": "b" * 32}
    environ = {**base, "CHAT_MODEL": "gpt-test", "CHAT_MODELS": " gpt-big, gpt-test ,gpt-small,gpt-big "}
    assert Settings.from_environ(environ).offered_models == ("gpt-test", "gpt-big", "gpt-small")
    assert Settings.from_environ(base).offered_models == (DEFAULT_CHAT_MODEL,)  # the chat function's default alone
    # The chat function allows exactly what the session offers, read from the same variables.
    assert ChatSettings.from_environ(environ).allowed_models == Settings.from_environ(environ).offered_models

    configured = dataclasses.replace(services.settings, offered_models=("gpt-test", "gpt-big"))
    app = build_app("session", dataclasses.replace(services, settings=configured), [router])
    with TestClient(app) as client:
        body = client.post(f"/api/{ALICE}/chatkit/session", headers=tokens.headers(ALICE)).json()
    assert body["models"] == [
        {"id": "gpt-test", "label": "gpt-test", "default": True},
        {"id": "gpt-big", "label": "gpt-big", "default": False},
    ]
