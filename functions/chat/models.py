"""Which model answers: OpenAI (Responses API), any OpenAI-compatible provider (Chat Completions), or the offline
model when no key is configured.

Chat Completions providers give every output item the same placeholder id; nothing here keys anything on model
item ids: stored messages, ChatKit items and tool-call records get their own ids from the turn."""

from __future__ import annotations

from agents import set_tracing_disabled
from agents.models.interface import Model

from functions.chat.offline_model import OfflineModel
from functions.chat.settings import ChatSettings


def select_model(settings: ChatSettings) -> Model:
    # Agents SDK tracing sends every run (the user's messages and the tool results included) to OpenAI's platform:
    # off unless the operator asks for it, and impossible without an OpenAI key or with another provider.
    set_tracing_disabled(not (settings.agent_tracing and settings.openai_api_key and not settings.openai_base_url))
    if not settings.openai_api_key:
        return OfflineModel()
    from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=2)
    if settings.openai_api == "chat_completions":
        return OpenAIChatCompletionsModel(model=settings.chat_model, openai_client=client)
    return OpenAIResponsesModel(model=settings.chat_model, openai_client=client)
