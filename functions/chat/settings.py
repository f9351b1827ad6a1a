"""Provisional chat settings (replaced by issue 3's)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatSettings:
    history_limit: int = 30
    rate_limit_per_minute: int = 20
    max_message_chars: int = 4000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ChatSettings:
        env = os.environ if environ is None else environ
        return cls(
            history_limit=int(env.get("CHAT_HISTORY_LIMIT", "30")),
            rate_limit_per_minute=int(env.get("CHAT_RATE_LIMIT_PER_MINUTE", "20")),
            max_message_chars=int(env.get("CHAT_MAX_MESSAGE_CHARS", "4000")),
        )
