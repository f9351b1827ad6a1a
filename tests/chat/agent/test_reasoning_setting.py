"""`CHAT_REASONING_SUMMARY`: read once at start (any case), refused in words when it names no summary a model gives,
and handed to the agent as its model settings' reasoning summary."""

from __future__ import annotations

import pytest

from functions.chat.agent.agent import build_agent
from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server
from todo_common.settings import ConfigurationError


@pytest.mark.parametrize(
    ("named", "summary"), [("", None), ("auto", "auto"), ("Concise", "concise"), ("DETAILED", "detailed")]
)
def test_a_summary_setting_is_read(named: str, summary: str | None) -> None:
    assert ChatSettings.from_environ({"CHAT_REASONING_SUMMARY": named}).reasoning_summary == summary


def test_another_value_stops_the_function_at_start() -> None:
    with pytest.raises(ConfigurationError, match="CHAT_REASONING_SUMMARY must be auto, concise or detailed"):
        ChatSettings.from_environ({"CHAT_REASONING_SUMMARY": "verbose"})


def test_the_agent_asks_for_summaries_only_when_set() -> None:
    server = build_task_server()
    asking = build_agent(OfflineModel(), server, "concise")
    assert asking.model_settings.reasoning is not None and asking.model_settings.reasoning.summary == "concise"
    assert build_agent(OfflineModel(), server).model_settings.reasoning is None
