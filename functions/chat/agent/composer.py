"""What a ChatKit composer may ask of a turn (`inference_options`): one of the server's composer tools
(`tool_choice`) and a model from the allow-list (`model`).

A composer tool makes the model call one task tool first (the run's `tool_choice`; the Agents SDK lets it choose
freely after that call) and tells it, in a line after the user's text, what the user wants. Anything else is
refused before anything is stored. The options are read back from the stored user message, so a retry of that
message runs with the same ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from todo_common.errors import ApiError


@dataclass(frozen=True)
class ComposerTool:
    id: str
    label: str
    tool: str  # the task tool the model calls first
    instruction: str  # what the model is told the user wants


COMPOSER_TOOLS: dict[str, ComposerTool] = {
    tool.id: tool
    for tool in (
        ComposerTool(
            "plan_my_day",
            "Plan my day",
            "list_tasks",
            "The user wants a plan for today: list the pending tasks, then suggest in a few short lines which to "
            "do first and why.",
        ),
        ComposerTool(
            "whats_left",
            "What's left",
            "list_tasks",
            "The user wants to see what is still to do: list the pending tasks.",
        ),
        ComposerTool(
            "add_task",
            "Add a task",
            "add_task",
            "The user wants their message added as a task: add it, with its text as the title.",
        ),
    )
}


@dataclass(frozen=True)
class TurnOptions:
    """The composer's choices for one turn, checked."""

    tool: ComposerTool | None = None
    model: str | None = None


def checked(tool_choice: str | None, model: str | None, allowed_models: tuple[str, ...]) -> TurnOptions:
    """The options a user message asks for (a composer tool's id, a model's name), or 400 in words for a tool or a
    model this server does not offer."""
    tool = None
    if tool_choice is not None:
        tool = COMPOSER_TOOLS.get(tool_choice)
        if tool is None:
            offered = ", ".join(COMPOSER_TOOLS)
            raise ApiError(
                400,
                "unknown_tool_choice",
                f"“{tool_choice}” is not a composer tool of this assistant; use one of: {offered}.",
            )
    if model is not None and model not in allowed_models:
        offered = ", ".join(allowed_models)
        raise ApiError(400, "model_not_allowed", f"The model “{model}” is not offered here; use one of: {offered}.")
    return TurnOptions(tool, model)


def stored_options(chatkit_item: Mapping[str, Any] | None) -> TurnOptions:
    """The options of a stored ChatKit user message (a message from elsewhere has none); a stored option this
    server no longer offers is dropped, not refused: the message was accepted when it was sent."""
    options = (chatkit_item or {}).get("inference_options") or {}
    choice = (options.get("tool_choice") or {}).get("id")
    model = options.get("model")
    return TurnOptions(COMPOSER_TOOLS.get(choice) if choice else None, model if isinstance(model, str) else None)
