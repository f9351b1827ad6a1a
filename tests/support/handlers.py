"""Every function's Lambda handler module, its app bound to the test database (a fixture), and the conversation
the sample events name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import ModuleType

import pytest
from sqlmodel import Session

from infra.devtoken import DEMO_USER
from infra.events import CONVERSATION
from todo_common import conversations
from todo_common.db import Database
from todo_common.web import Services


@pytest.fixture
def handlers(services: Services) -> Iterator[dict[str, ModuleType]]:
    from functions.chat import app as chat
    from functions.chat.agent.providers import select_model
    from functions.chat.runtime import ChatRuntime
    from functions.history import app as history
    from functions.session import app as session

    # Lambda's process keeps the event loop Mangum made at import; earlier tests' asyncio.run() cleared this one's.
    asyncio.set_event_loop(asyncio.new_event_loop())
    modules = {"session": session, "history": history, "chat": chat}
    saved = {name: module.app.state.services for name, module in modules.items()}
    saved_chat = chat.app.state.chat
    for module in modules.values():
        module.app.state.services = services
    chat.app.state.chat = ChatRuntime.build(
        services, chat.chat_settings, select_model(chat.chat_settings), chat.task_server
    )
    yield modules
    for name, module in modules.items():
        module.app.state.services = saved[name]
    chat.app.state.chat = saved_chat


def seed(database: Database) -> None:
    def work(session: Session) -> None:
        conversation = conversations.create_conversation(
            session, DEMO_USER, title="Weekend milk", conversation_id=CONVERSATION
        )
        conversations.append_message(session, conversation, role="user", content="add milk")
        conversations.append_message(session, conversation, role="assistant", content="Added milk.")

    database.write(work)
