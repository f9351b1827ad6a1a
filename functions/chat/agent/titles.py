"""Conversation titles: a short title from the model after the first answer, or, with no provider (or when the
model fails or says nothing usable), a clean clip of the question."""

from __future__ import annotations

import asyncio
import logging
import re

from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from openai.types.responses import ResponseOutputMessage

from todo_common.text import one_line

TITLE_CHARS = 60
CLIP_CHARS = 40
TITLE_SECONDS = 10.0
INSTRUCTIONS = (
    "Name this conversation between a user and their todo-list assistant. Answer with a title of two to six words "
    "in the user's language, and nothing else: no quotes, no final period."
)
_PREFIX = re.compile(r"^(?:title\s*:\s*)", re.I)
_QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb`*#"  # straight, curly and angle quotes, markdown marks
logger = logging.getLogger(__name__)


class TitleWriter:
    """Writes a conversation's title from its first question and answer, through `model` when there is one."""

    def __init__(self, model: Model | None) -> None:
        self.model = model

    async def title(self, question: str, answer: str) -> str:
        fallback = clean_clip(question)
        if self.model is None:
            return fallback
        try:
            named = await asyncio.wait_for(self._ask(question, answer), TITLE_SECONDS)
        except Exception:  # a title is a nicety: a provider that fails or is slow leaves the clip
            logger.warning("the title model failed; the question's clip stays", exc_info=True)
            return fallback
        return cleaned(named) or fallback

    async def _ask(self, question: str, answer: str) -> str:
        assert self.model is not None
        response = await self.model.get_response(
            INSTRUCTIONS,
            f"User: {question[:2000]}\nAssistant: {answer[:2000]}",
            ModelSettings(),
            [],
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
        texts = (
            getattr(part, "text", "")
            for item in response.output
            if isinstance(item, ResponseOutputMessage)
            for part in item.content
        )
        return "".join(texts)


def cleaned(text: str) -> str:
    """A model's title as a title: its first line, without a "Title:" prefix, quotes or a final period, clipped."""
    line = next((line for line in text.strip().splitlines() if line.strip()), "")
    line = _PREFIX.sub("", one_line(line)).strip(_QUOTES + " ").rstrip(".")
    return _clip_words(line, TITLE_CHARS)


def clean_clip(question: str) -> str:
    """The question as a title, the one rule for every conversation a first message names (plain chat and ChatKit
    at once, the title model's fallback after the answer): its first line as one line of visible text (`one_line`:
    controls and bidi marks gone), no final punctuation (unless it is all there is), capitalized, cut at a word."""
    line = one_line(next((line for line in question.strip().splitlines() if one_line(line)), ""))
    flat = line.rstrip(".!?…,;: ") or line
    return _clip_words(flat[:1].upper() + flat[1:], CLIP_CHARS)


def _clip_words(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    word_end = cut.rfind(" ")
    return (cut[:word_end] if word_end > limit // 2 else cut).rstrip(" ,;:-") + "…"
