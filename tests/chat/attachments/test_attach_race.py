"""One pending attachment sent in two new threads at once: exactly one thread carries it; the other request is
refused in words (before its stream, or in it once the first took the attachment), never with a generic failure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from chatkit.types import ThreadCreateParams, ThreadsCreateReq
from sqlmodel import select

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.attachments.service import in_use
from tests.support.attachments import carrying, uploaded
from tests.support.chat import PausingModel, chat_app, parse_sse
from tests.support.chatkit import ChatKitClient, body
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Attachment
from todo_common.web import Services

ALICE = "user_alice"
ROUNDS = 4


def outcome(response: httpx.Response) -> str:
    """ "carried", or the refusal's words."""
    if response.status_code != 200:
        return str(response.json()["error"]["code"])
    events = [data for _, data in parse_sse(response.text.splitlines())]
    errors = [e for e in events if e["type"] == "error"]
    if errors:
        return str(errors[0].get("message"))
    return "carried"


def status_of(database: Database, attachment_id: str) -> str:
    return database.read(lambda s: s.exec(select(Attachment).where(Attachment.id == attachment_id)).one().status)


def test_one_attachment_sent_twice_at_once_goes_to_one_thread(
    services: Services, tokens: Tokens, database: Database
) -> None:
    with (
        Server(chat_app(services, PausingModel(OfflineModel(), 0.2))) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        alice = ChatKitClient(http, tokens, ALICE)
        for _ in range(ROUNDS):
            attachment = uploaded(alice, "list.txt", "text/plain", b"milk\n")
            request = body(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("hi", attachment["id"]))))
            headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}

            def send(_: Any, request: bytes = request, headers: dict[str, str] = headers) -> httpx.Response:
                return http.post(f"/api/{ALICE}/chatkit", content=request, headers=headers)

            with ThreadPoolExecutor(2) as pool:
                outcomes = [outcome(r) for r in pool.map(send, range(2))]
            assert outcomes.count("carried") == 1, outcomes
            refusal = next(o for o in outcomes if o != "carried")
            assert refusal in ("attachment_in_use", in_use().message), outcomes
            assert status_of(database, str(attachment["id"])) == "attached"
