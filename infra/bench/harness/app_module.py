"""For the benches that build an app in process: its environment, the chat app with the model a bench chooses, a
chat token for the bench user, and what a function's `app.py` does once its app is built."""

from __future__ import annotations

import dataclasses
import gc
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents import Model
    from fastapi import FastAPI

    from todo_common.web import Services

USER = "bench-user"


def bench_environment() -> None:
    """Unless already set: the secrets an app built in process reads (the bench mints its tokens with them), and
    warnings-only logs."""
    os.environ.setdefault("BETTER_AUTH_SECRET", "bench-better-auth-secret-0123456789abcdef")
    os.environ.setdefault("CHAT_TOKEN_SECRET", "bench-chat-token-secret-0123456789abcdef")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def as_app_module_ends() -> None:
    """`todo_common.cold_start.imports_done`: the heap frozen and the collector set as the deployed function runs.
    A checkout from before that module (a baseline) gets the freeze alone, which its app.py did not even do."""
    try:
        from todo_common.cold_start import imports_done
    except ImportError:
        gc.freeze()
        return
    imports_done()


def chat_environment() -> None:
    """`bench_environment`, a test app environment and no tracing export: what the in-process chat benches run in."""
    os.environ.setdefault("APP_ENV", "test")
    bench_environment()
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")


def chat_app(url: str, model: Model | None = None, **settings: Any) -> tuple[FastAPI, Services]:
    """The chat app on the database at `url`, with no rate limit worth the name and `settings` changed; its model is
    `model`, else the one its settings select (OpenAI, a compatible endpoint or the offline model)."""
    from functions.chat.agent.providers import select_model
    from functions.chat.http.routes import router
    from functions.chat.runtime import ChatRuntime
    from functions.chat.settings import ChatSettings
    from functions.chat.tasks.mcp_server import build_task_server
    from todo_common.settings import Settings
    from todo_common.web import Services, build_app

    services = Services.from_settings(dataclasses.replace(Settings.from_environ(), database_url=url), "bench")
    chat_settings = dataclasses.replace(ChatSettings.from_environ({}), rate_limit_per_minute=10_000, **settings)
    app = build_app("chat", services, [router])
    app.state.chat = ChatRuntime.build(
        services, chat_settings, model or select_model(chat_settings), build_task_server()
    )
    as_app_module_ends()
    return app, services


def bearer(services: Services, user: str = USER) -> dict[str, str]:
    """The Authorization header of a chat token for `user`, minted with the app's own secret."""
    from todo_common.auth import mint_chat_token

    return {"Authorization": f"Bearer {mint_chat_token(services.settings, user)[0]}"}
