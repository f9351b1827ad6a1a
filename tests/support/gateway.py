"""The local gateway (`infra.devserver`) on a real loopback socket, its functions serving a test's database and
model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents.models.interface import Model

from tests.support.server import Server
from todo_common.web import Services


@contextmanager
def serve_gateway(services: Services, model: Model) -> Iterator[str]:
    """Yields the gateway's base URL; the function apps get their own services and runtime back afterwards."""
    from functions.chat import app as chat
    from functions.chat.runtime import ChatRuntime
    from functions.history import app as history
    from functions.session import app as session
    from infra.devserver import build_gateway

    modules = (session, history, chat)
    saved: list[Any] = [m.app.state.services for m in modules] + [chat.app.state.chat]
    for module in modules:
        module.app.state.services = services
    chat.app.state.chat = ChatRuntime.build(services, chat.chat_settings, model, chat.task_server)
    asyncio.set_event_loop(None)
    try:
        with Server(build_gateway()) as url:
            yield url
    finally:
        for module, original in zip(modules, saved, strict=False):
            module.app.state.services = original
        chat.app.state.chat = saved[-1]
