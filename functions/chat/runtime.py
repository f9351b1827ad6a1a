"""Everything the chat function builds once per container, beside the shared `Services`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agents import Agent
from agents.models.interface import Model
from mcp.server.mcpserver import MCPServer

from functions.chat.agent import ChatContext, build_agent
from functions.chat.chatkit_server import TodoChatKitServer
from functions.chat.settings import ChatSettings
from functions.chat.store import ChatStore
from functions.chat.turn import AgentProvider, TurnEngine
from functions.chat.turn_store import TurnStore
from todo_common.web import Services


@dataclass
class ChatRuntime:
    settings: ChatSettings
    turns: TurnStore
    engine: TurnEngine
    chatkit: TodoChatKitServer

    @classmethod
    def build(
        cls, services: Services, settings: ChatSettings, model: Model, server: MCPServer | None = None
    ) -> ChatRuntime:
        agent = build_agent(model, server)
        return cls.with_agent_provider(services, settings, _shared(agent))

    @classmethod
    def with_agent_provider(cls, services: Services, settings: ChatSettings, provider: AgentProvider) -> ChatRuntime:
        turns = TurnStore(
            services.database,
            history_limit=settings.history_limit,
            rate_limit_per_minute=settings.rate_limit_per_minute,
        )
        engine = TurnEngine(turns, provider)
        return cls(settings, turns, engine, TodoChatKitServer(ChatStore(services.database), engine))


def _shared(agent: Agent[ChatContext]) -> AgentProvider:
    @asynccontextmanager
    async def provide(_context: ChatContext) -> AsyncIterator[Agent[ChatContext]]:
        yield agent

    return provide
