"""Everything the chat function builds once per container, beside the shared `Services`."""

from __future__ import annotations

from dataclasses import dataclass

from agents.models.interface import Model
from mcp.server.mcpserver import MCPServer

from functions.chat.agent.agent import build_agent
from functions.chat.agent.providers import select_models, select_title_model
from functions.chat.agent.titles import TitleWriter
from functions.chat.agent.transcription import Transcriber
from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.attachments.service import AttachmentService
from functions.chat.chatkit.endpoint import ChatKitEndpoint
from functions.chat.chatkit.leasing import Leasing
from functions.chat.chatkit.server import TodoChatKitServer
from functions.chat.chatkit.store import ChatStore
from functions.chat.settings import ChatSettings
from functions.chat.tasks.rate_limit import RateLimit
from functions.chat.turn.engine import AttachedFiles, TurnEngine
from functions.chat.turn.runner import TurnRunner
from functions.chat.turn.service import TurnService
from functions.chat.turn.store import TurnStore
from todo_common.files import LazyFileStore
from todo_common.web import Services


@dataclass
class ChatRuntime:
    settings: ChatSettings
    turns: TurnService
    chatkit: ChatKitEndpoint

    @classmethod
    def build(cls, services: Services, settings: ChatSettings, model: Model, server: MCPServer) -> ChatRuntime:
        store = TurnStore(
            services.database,
            history_limit=settings.history_limit,
            rate_limit_per_minute=settings.rate_limit_per_minute,
            lease_seconds=settings.lease_seconds,
            daily_turns=settings.daily_turns,
            daily_tokens=settings.daily_tokens,
        )
        policy = AttachmentPolicy.from_settings(settings, enabled=services.settings.attachments)
        files = LazyFileStore(lambda: services.files)
        engine = TurnEngine(
            build_agent(model, server, settings.reasoning_summary),
            max_context_chars=settings.context_max_chars,
            models=select_models(settings),
            files=AttachedFiles(files, policy),
        )
        turns = TurnService(
            store, TurnRunner(store, engine, settings), settings, TitleWriter(select_title_model(settings))
        )
        attachments = AttachmentService(files, policy)
        chatkit_server = TodoChatKitServer(
            ChatStore(store, attachments), turns, Transcriber.from_settings(settings), attachments, settings
        )
        actions = RateLimit(services.database, "action", settings.actions_per_minute)
        endpoint = ChatKitEndpoint(chatkit_server, Leasing(turns), actions, allow_cancel=settings.allow_cancel)
        return cls(settings, turns, endpoint)
