"""An @-mention's `data.task_id` is checked where it enters: a JSON integer from 1 to the task id column's maximum,
else the message is refused in words (422) and nothing is stored."""

from __future__ import annotations

from typing import Any

import httpx
from agents.testing import ScriptedModel
from chatkit.types import (
    InferenceOptions,
    ThreadCreateParams,
    ThreadsCreateReq,
    UserMessageInput,
    UserMessageTagContent,
    UserMessageTextContent,
)
from sqlmodel import select

from tests.support.chat import chat_app
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE = "user_alice"


def mentioning(task_id: Any) -> ThreadsCreateReq:
    tag = UserMessageTagContent(id="task", text="walk dog", data={"task_id": task_id})
    content = [UserMessageTextContent(text="done "), tag]
    return ThreadsCreateReq(
        params=ThreadCreateParams(
            input=UserMessageInput(content=content, attachments=[], inference_options=InferenceOptions())
        )
    )


def test_a_mention_whose_task_id_is_not_an_id_is_refused_in_words(
    services: Services, database: Database, tokens: Tokens
) -> None:
    with Server(chat_app(services, ScriptedModel([]))) as base:
        # ChatKit's entity data is a map of strings: "7" is an id, any other text is not.
        for bad in ("7; drop table task", " 7", "07", "7.0", "2147483648", 7.5, True, 0, -3, 2**31, None, [7]):
            response = httpx.post(
                f"{base}/api/{ALICE}/chatkit",
                content=mentioning(bad).model_dump_json(),
                headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
                timeout=30,
            )
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"] == {
                "code": "invalid_mention",
                "message": "An @-mention of a task needs data.task_id: a whole number from 1 to 2147483647.",
            }
    assert database.read(lambda session: session.exec(select(Message)).all()) == []


def test_a_mention_whose_task_id_is_digits_is_taken(services: Services, tokens: Tokens) -> None:
    """ChatKit's web component types entity data as strings, so the example's tags carry `task_id: "7"`."""
    with Server(chat_app(services, ScriptedModel([]))) as base:
        for good in ("7", 7, "2147483647"):
            response = httpx.post(
                f"{base}/api/{ALICE}/chatkit",
                content=mentioning(good).model_dump_json(),
                headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
                timeout=30,
            )
            assert response.status_code == 200, (good, response.text)
