"""Which model answers: OpenAI (Responses API), any OpenAI-compatible provider (Chat Completions), or the offline
model when no key is configured.

Chat Completions providers give every output item the same placeholder id; nothing here keys anything on model
item ids: stored messages, ChatKit items and tool-call records get their own ids from the turn."""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast, get_args

import httpx2
from agents import set_tracing_disabled
from agents.models.interface import Model
from openai import AsyncOpenAI, AsyncStream, NotGiven, Omit
from openai._models import construct_type
from openai._types import RequestOptions
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, ValidationError

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import ChatSettings

_REQUEST_OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")


def select_model(settings: ChatSettings) -> Model:
    # Agents SDK tracing sends every run (the user's messages and the tool results included) to OpenAI's platform:
    # off unless the operator asks for it, and impossible without an OpenAI key or with another provider.
    set_tracing_disabled(not (settings.agent_tracing and settings.openai_api_key and not settings.openai_base_url))
    if not settings.openai_api_key:
        return OfflineModel(settings.offline_chars_per_second)
    return provider_model(settings, settings.chat_model)


def select_models(settings: ChatSettings) -> dict[str, Model]:
    """The other models a composer may pick (`CHAT_MODELS`), by name; none without a provider (the offline model
    answers whatever is picked)."""
    if not settings.openai_api_key:
        return {}
    return {name: provider_model(settings, name) for name in settings.allowed_models if name != settings.chat_model}


def select_title_model(settings: ChatSettings) -> Model | None:
    """The model that names conversations (`CHAT_TITLE_MODEL`, else the chat model); None without a provider."""
    if not settings.openai_api_key:
        return None
    return provider_model(settings, settings.title_model or settings.chat_model)


def provider_model(settings: ChatSettings, name: str) -> Model:
    """The configured provider's model `name` (Responses API, or Chat Completions for a compatible provider)."""
    from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel

    if settings.openai_api == "chat_completions":
        client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=2)
        return OpenAIChatCompletionsModel(model=name, openai_client=client)
    plain = PlainBodyOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=2)
    return OpenAIResponsesModel(model=name, openai_client=plain)


class PlainBodyOpenAI(AsyncOpenAI):
    """The `openai` client, with `responses.create` posting the body the Agents SDK built as it is.

    `responses.create` first walks the whole request (every input item, every tool schema) against the SDK's
    TypedDicts to rename aliased keys and format dates or files: a third of a turn's CPU here, for a body that has
    none of them (the Agents SDK builds it from the API's own wire names). The client's documented way to send a
    body untouched is `client.post`; the Agents SDK's Responses model calls `responses.create` when a client has
    no `with_streaming_response` (its path for custom clients). Auth, retries, timeouts and the response's
    parsing are the client's own, but for the stream's events (`StreamEvent`)."""

    @cached_property
    def responses(self) -> PlainResponses:  # type: ignore[override]
        return PlainResponses(self)


class PlainResponses:
    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client

    async def create(self, **params: Any) -> Response | AsyncStream[ResponseStreamEvent]:
        extra_headers, extra_query, extra_body, timeout = (params.pop(name, None) for name in _REQUEST_OPTIONS)
        body = {key: value for key, value in params.items() if _given(value)}
        body.update(extra_body or {})
        options: RequestOptions = {"headers": extra_headers or {}, "params": extra_query or {}}
        if _given(timeout) and timeout is not None:
            options["timeout"] = timeout
        answer = await self._client.post(
            "/responses",
            body=body,
            options=options,
            cast_to=Response,
            stream=bool(body.get("stream")),
            stream_cls=AsyncStream[StreamEvent],
        )
        return cast(Response | AsyncStream[ResponseStreamEvent], answer)  # StreamEvent builds ResponseStreamEvent


# Every event class of the Responses stream, by its `type`.
_EVENT_CLASSES: dict[str, type[BaseModel]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(get_args(ResponseStreamEvent)[0])
}


class StreamEvent:
    """How the client builds each streamed event (its `ModelBuilderProtocol`): the class its `type` names, validated.

    The client's own way validates the event against the union of all ~60 event classes before it looks at `type`
    (80 µs an event, against 3 µs for the one class); the result is the same instance. Like the client, an event
    that does not validate is still built, unchecked, as the class its `type` names, and an unknown `type` goes the
    client's own way."""

    @classmethod
    def build(cls, *, response: httpx2.Response, data: object) -> object:
        event_class = _EVENT_CLASSES.get(data.get("type")) if isinstance(data, dict) else None  # type: ignore[arg-type]
        if event_class is None:
            return construct_type(type_=ResponseStreamEvent, value=data)
        try:
            return event_class.model_validate(data)
        except ValidationError:
            return construct_type(type_=event_class, value=data)


def _given(value: Any) -> bool:
    """The `openai` client's markers of a parameter left out (`omit`, `NOT_GIVEN`) are never sent."""
    return not isinstance(value, NotGiven | Omit)
