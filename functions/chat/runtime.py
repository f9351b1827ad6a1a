"""Everything the chat function builds once per container, beside the shared `Services`."""

from __future__ import annotations

from dataclasses import dataclass

from agents.models.interface import Model
from mcp.server.mcpserver import MCPServer

from functions.chat.agent import build_agent
from functions.chat.chatkit_server import TodoChatKitServer
from functions.chat.models import select_models, select_title_model
from functions.chat.settings import ChatSettings
from functions.chat.store import ChatStore
from functions.chat.titles import TitleWriter
from functions.chat.turn import TurnEngine
from functions.chat.turn_store import TurnStore
from functions.chat.turns import TurnService
from todo_common.web import Services


@dataclass
class ChatRuntime:
    settings: ChatSettings
    turns: TurnService
    chatkit: TodoChatKitServer

    @classmethod
    def build(cls, services: Services, settings: ChatSettings, model: Model, server: MCPServer) -> ChatRuntime:
        store = TurnStore(
            services.database,
            history_limit=settings.history_limit,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            lease_seconds=settings.lease_seconds,
        )
        engine = TurnEngine(
            build_agent(model, server, settings.reasoning_summary),
            max_context_chars=settings.context_max_chars,
            models=select_models(settings),
        )
        turns = TurnService(store, engine, settings, TitleWriter(select_title_model(settings)))
        return cls(settings, turns, TodoChatKitServer(ChatStore(), turns))
