"""The chat function's own settings, beside the shared ones; read and validated once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from todo_common.settings import (
    DEFAULT_CHAT_MODEL,
    ConfigurationError,
    EnvironmentSource,
    SecretReader,
    allowed_models,
    chat_models,
    read_aws_secret,
)

ReasoningSummary = Literal["auto", "concise", "detailed"]
DEFAULT_TRANSCRIBE_MODEL = "gpt-4o-mini-transcribe"
# A ChatKit dictation body: a minute of compressed audio (Opus at up to 128 kbit/s: 960 kB), base64 in JSON.
DEFAULT_TRANSCRIBE_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_ATTACHMENT_IMAGE_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_ATTACHMENT_TEXT_MAX_BYTES = 256 * 1024
DEFAULT_ATTACHMENTS_PER_MESSAGE = 4


def _flag(value: str | None, default: bool) -> bool:
    return default if not value else value.lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ChatSettings:
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_api: Literal["responses", "chat_completions"] = "responses"
    chat_model: str = DEFAULT_CHAT_MODEL
    title_model: str | None = None  # names new conversations; None: the chat model
    reasoning_summary: ReasoningSummary | None = None  # ask a reasoning model for summaries
    chat_models: tuple[str, ...] = ()  # what a ChatKit composer may pick (`inference_options.model`) besides chat_model
    history_limit: int = 12
    rate_limit_per_minute: int = 20
    max_followers_per_user: int = 10
    tool_calls_per_minute: int = 60
    daily_turns: int = 500
    daily_tokens: int = 2_000_000
    actions_per_minute: int = 30
    max_message_chars: int = 4000
    mcp_allowed_hosts: tuple[str, ...] = ()
    turn_deadline_seconds: float = 90
    lease_seconds: float = 30
    context_max_chars: int = 24_000
    agent_tracing: bool = False
    allow_cancel: bool = True
    offline_chars_per_second: float = 0

    @property
    def allowed_models(self) -> tuple[str, ...]:
        """The models a user may pick: the chat model and `CHAT_MODELS` (what the session function offers)."""
        return allowed_models(self.chat_model, self.chat_models)

    transcribe_model: str = DEFAULT_TRANSCRIBE_MODEL
    transcribe_max_bytes: int = DEFAULT_TRANSCRIBE_MAX_BYTES
    attachment_image_max_bytes: int = DEFAULT_ATTACHMENT_IMAGE_MAX_BYTES
    attachment_text_max_bytes: int = DEFAULT_ATTACHMENT_TEXT_MAX_BYTES
    attachments_per_message: int = DEFAULT_ATTACHMENTS_PER_MESSAGE

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, read_secret: SecretReader | None = None
    ) -> ChatSettings:
        source = EnvironmentSource(os.environ if environ is None else environ, read_secret or read_aws_secret)
        named = (source.get("OPENAI_API") or "responses").lower()
        api: Literal["responses", "chat_completions"] = (
            "chat_completions" if named == "chat_completions" else "responses"
        )
        if named not in ("responses", "chat_completions"):
            source.problems.append(f"OPENAI_API must be responses or chat_completions, not {named!r}")
        summary = _reasoning_summary(source.get("CHAT_REASONING_SUMMARY"))
        if summary is False:
            source.problems.append("CHAT_REASONING_SUMMARY must be auto, concise or detailed")
        chat_model, others = chat_models(source)
        settings = cls(
            openai_api_key=source.get("OPENAI_API_KEY"),
            openai_base_url=(source.get("OPENAI_BASE_URL") or "").rstrip("/") or None,
            openai_api=api,
            chat_model=chat_model,
            title_model=source.get("CHAT_TITLE_MODEL") or None,
            reasoning_summary=summary or None,
            chat_models=others,
            history_limit=source.get_int("CHAT_HISTORY_LIMIT", 12, minimum=1, maximum=200),
            rate_limit_per_minute=source.get_int("CHAT_RATE_LIMIT_PER_MINUTE", 20, minimum=1, maximum=10_000),
            max_followers_per_user=source.get_int("CHAT_MAX_FOLLOWERS_PER_USER", 10, minimum=1, maximum=1_000),
            daily_turns=source.get_int("CHAT_DAILY_TURNS", 500, minimum=1, maximum=1_000_000),
            daily_tokens=source.get_int("CHAT_DAILY_TOKENS", 2_000_000, minimum=1, maximum=10**12),
            tool_calls_per_minute=source.get_int("CHAT_TOOL_CALLS_PER_MINUTE", 60, minimum=1, maximum=100_000),
            actions_per_minute=source.get_int("CHAT_ACTIONS_PER_MINUTE", 30, minimum=1, maximum=100_000),
            max_message_chars=source.get_int("CHAT_MAX_MESSAGE_CHARS", 4000, minimum=1, maximum=100_000),
            turn_deadline_seconds=source.get_int("CHAT_TURN_DEADLINE_SECONDS", 90, minimum=5, maximum=900),
            lease_seconds=source.get_int("CHAT_LEASE_SECONDS", 30, minimum=3, maximum=300),
            context_max_chars=source.get_int("CHAT_CONTEXT_MAX_CHARS", 24_000, minimum=1_000, maximum=1_000_000),
            agent_tracing=_flag(source.get("CHAT_AGENT_TRACING"), False),
            # A client's abort never reaches a function behind a Lambda Function URL, unless the app in front relays
            # it as a thread stop (CHAT_ABORT_RELAYED; docs/deploy.md, "Stop").
            allow_cancel=_flag(
                source.get("CHAT_ALLOW_CANCEL"),
                _flag(source.get("CHAT_ABORT_RELAYED"), False) or not source.get("AWS_LAMBDA_FUNCTION_NAME"),
            ),
            transcribe_model=source.get("CHAT_TRANSCRIBE_MODEL") or DEFAULT_TRANSCRIBE_MODEL,
            transcribe_max_bytes=source.get_int(
                "CHAT_TRANSCRIBE_MAX_BYTES", DEFAULT_TRANSCRIBE_MAX_BYTES, minimum=64 * 1024, maximum=6 * 1024 * 1024
            ),
            attachment_image_max_bytes=source.get_int(
                "CHAT_ATTACHMENT_IMAGE_MAX_BYTES",
                DEFAULT_ATTACHMENT_IMAGE_MAX_BYTES,
                minimum=1024,
                maximum=20 * 1024**2,
            ),
            attachment_text_max_bytes=source.get_int(
                "CHAT_ATTACHMENT_TEXT_MAX_BYTES", DEFAULT_ATTACHMENT_TEXT_MAX_BYTES, minimum=1024, maximum=2 * 1024**2
            ),
            attachments_per_message=source.get_int(
                "CHAT_ATTACHMENTS_PER_MESSAGE", DEFAULT_ATTACHMENTS_PER_MESSAGE, minimum=1, maximum=10
            ),
            offline_chars_per_second=source.get_int("CHAT_OFFLINE_CHARS_PER_SECOND", 0, minimum=0, maximum=100_000),
            mcp_allowed_hosts=tuple(h.strip() for h in (source.get("MCP_ALLOWED_HOSTS") or "").split(",") if h.strip()),
        )
        if settings.openai_base_url and not settings.openai_api_key:
            source.problems.append("OPENAI_BASE_URL needs OPENAI_API_KEY (or OPENAI_API_KEY_SECRET_ARN)")
        if source.problems:
            raise ConfigurationError("Invalid chat configuration:\n  - " + "\n  - ".join(source.problems))
        return settings


def _reasoning_summary(named: str | None) -> ReasoningSummary | Literal[False] | None:
    """`CHAT_REASONING_SUMMARY` read: None when unset, False when it names no summary a model gives."""
    match (named or "").lower():
        case "":
            return None
        case "auto":
            return "auto"
        case "concise":
            return "concise"
        case "detailed":
            return "detailed"
    return False
