"""What a title looks like: a model's answer cleaned into a title, and the clean clip of a question used without a
provider (or when the model fails)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents.models.interface import Model

from functions.chat.agent.titles import TitleWriter, clean_clip, cleaned


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("add buy milk", "Add buy milk"),
        ("  what's left for today?  ", "What's left for today"),
        ("remind me to call mom!!\nand then the dentist", "Remind me to call mom"),
        (
            "please add every single thing I need for the camping trip next weekend",
            "Please add every single thing I need…",
        ),
        ("x" * 80, "X" + "x" * 38 + "…"),
    ],
)
def test_a_question_clips_cleanly(question: str, title: str) -> None:
    assert clean_clip(question) == title
    assert len(clean_clip(question)) <= 40


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ('"Weekend chores."', "Weekend chores"),
        ("Title: Groceries for Sunday\n\nExplanation: it is about groceries", "Groceries for Sunday"),
        ("“Plan the week”", "Plan the week"),
        ("   ", ""),
    ],
)
def test_a_models_answer_is_cleaned(answer: str, title: str) -> None:
    assert cleaned(answer) == title


class FailingModel(Model):
    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the provider went away")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise ConnectionError("the provider went away")
        yield None  # type: ignore[unreachable]  # pragma: no cover - an async generator, never reached


def test_without_a_provider_or_when_it_fails_the_question_is_clipped() -> None:
    assert asyncio.run(TitleWriter(None).title("add buy milk.", "Added.")) == "Add buy milk"
    assert asyncio.run(TitleWriter(FailingModel()).title("list pending", "You have none.")) == "List pending"
