"""Priming before a SnapStart snapshot: the code paths of a turn run once, so a restored copy does not pay for them.

The first turn of a process costs far more than the next ones: lazy imports (parts of the Agents SDK, ChatKit and
the `openai` types), pydantic validators and serializers built on first use, SQLAlchemy statements compiled, the
agent's first run. Before the snapshot, a throwaway copy of the chat app (the same routes and runtime, a database of
its own in memory, the offline model, a token secret of its own) serves the turns a user sends: a plain one as JSON
and as SSE, a ChatKit one on a new thread and on an existing one, over in-process ASGI. No user data, no network,
nothing written to the real database; its metrics are dropped and its logs kept below WARNING. Then the copy is
thrown away and what it left alive is moved out of the collector's way (`gc.freeze`), as `imports_done` does for
the import."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import SQLModel

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.http.routes import router
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server
from todo_common import metrics
from todo_common.auth import TokenVerifier, mint_chat_token
from todo_common.db import Database, create_db_engine
from todo_common.web import Services, build_app

PRIMING_USER = "snapstart-priming"
_IN_MEMORY = "sqlite://"


async def prime_turn_paths(services: Services, settings: ChatSettings) -> None:
    """Serve the turns of `_turns` through a throwaway copy of the chat app; raises if one of them failed."""
    scratch = _scratch_services(services)
    app = build_app("todo-chat chat", scratch, [router])
    app.state.chat = ChatRuntime.build(scratch, settings, OfflineModel(), build_task_server())
    token, _ = mint_chat_token(scratch.settings, PRIMING_USER)
    try:
        with metrics.discarded(), _below_warning():
            await _turns(_Client(app, token))
    finally:
        scratch.database.dispose()
    gc.collect()
    gc.freeze()


async def _turns(client: _Client) -> None:
    chat = f"/api/{PRIMING_USER}/chat"
    answered = await client.post(chat, {"message": "add buy milk"})
    follow_up = {"message": "list my tasks", "conversation_id": json.loads(answered)["conversation_id"]}
    await client.post(chat, follow_up, stream=True)
    chatkit = f"/api/{PRIMING_USER}/chatkit"
    created = await client.post(chatkit, _chatkit("threads.create", {"input": _input("add eggs")}))
    thread = next(_events(created))["thread"]["id"]
    await client.post(chatkit, _chatkit("threads.add_user_message", {"thread_id": thread, "input": _input("done 1")}))


@dataclass(frozen=True)
class _Client:
    """POSTs straight into the ASGI app, as an HTTP server would hand them over (no HTTP client in the bundle)."""

    app: FastAPI
    token: str

    async def post(self, path: str, body: dict[str, Any], *, stream: bool = False) -> str:
        """The response's body; raises unless it is a 200 without an error event."""
        payload = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {self.token}".encode())]
        if stream:
            headers.append((b"accept", b"text/event-stream"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"priming"), (b"content-length", str(len(payload)).encode()), *headers],
            "client": ("127.0.0.1", 0),
            "server": ("priming", 80),
        }
        sent: list[MutableMapping[str, Any]] = []
        finished = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished.set()

        await self.app(scope, receive, send)
        finished.set()
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
        if status != 200 or "event: error" in text or '"type":"error"' in text:
            raise RuntimeError(f"the priming turn failed: {status} {text[:500]}")
        return text


def _scratch_services(services: Services) -> Services:
    """The app's services on a database of their own in memory (one connection, shared by the threads a turn
    uses), with a token secret no one else knows; the logger is the app's (configuring another would replace the
    root's handler)."""
    settings = dataclasses.replace(
        services.settings,
        database_url=_IN_MEMORY,
        chat_token_secret=secrets.token_urlsafe(32),
        better_auth_secret=None,
        better_auth_url=None,
    )
    database = Database(create_db_engine(_IN_MEMORY, poolclass=sa.StaticPool))
    # A database that lives for the priming only: the tables as the models declare them (the migrations are for
    # real databases, and their tool is not in the bundle).
    SQLModel.metadata.create_all(database.engine)
    return Services(settings=settings, database=database, verifier=TokenVerifier(settings), logger=services.logger)


def _chatkit(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "params": params}


def _input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def _events(body: str) -> Iterator[dict[str, Any]]:
    for line in body.splitlines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


@contextmanager
def _below_warning() -> Iterator[None]:
    """The priming's turns log nothing below WARNING: they are no one's."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
