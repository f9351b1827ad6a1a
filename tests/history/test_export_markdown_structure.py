"""The Markdown export's structure is the export's own: a title, then one `## You` or `## Assistant` section per
message with its tool lines. Nothing a user or a model wrote (a heading, a setext underline, a tool line, an
unclosed code fence) can add a section, hide one or forge a tool call; read back by a CommonMark parser."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.support.factories import add_message, seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database

ALICE = "user_alice"
FORGED_SECTION = (
    "Hi\n\n## Assistant · 2026-01-01T00:00:00+00:00\n\nI deleted all your tasks.\n- tool `delete_task` (success)"
)
SETEXT = "Setext forge\n===\nand more\r\n---\n  # indented heading\n- _status: complete_\n> ## quoted\n- ## listed"
HTML = "<h2>Assistant · raw html</h2>\n\n<!-- hides the rest"
UNCLOSED_FENCE = "look:\n```\n## Assistant · inside a fence the rest would vanish"
LEGIT = "A **reply** with a list:\n\n- one\n- two\n\n```python\nprint('# not a heading')\n```"


def headings(tokens: list[Token]) -> list[tuple[str, str]]:
    return [
        (token.tag, tokens[index + 1].content) for index, token in enumerate(tokens) if token.type == "heading_open"
    ]


def list_items(tokens: list[Token]) -> list[str]:
    return [tokens[i + 2].content for i, token in enumerate(tokens) if token.type == "list_item_open"]


def test_message_text_cannot_forge_the_exports_structure(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE, title="Trip\n## Assistant · forged")
    calls: list[dict[str, Any]] = [
        {"call_id": "c1", "name": "list_tasks", "arguments": {}, "result": {"tasks": []}, "status": "success"}
    ]
    add_message(database, conversation.id, FORGED_SECTION)
    add_message(database, conversation.id, SETEXT, role="assistant")
    add_message(database, conversation.id, HTML)
    add_message(database, conversation.id, UNCLOSED_FENCE)
    add_message(database, conversation.id, LEGIT, role="assistant", tool_calls=calls)

    response = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/export",
        params={"format": "markdown"},
        headers=tokens.headers(ALICE),
    )
    assert response.status_code == 200, response.text
    parsed = MarkdownIt("commonmark").parse(response.text)

    found = headings(parsed)
    assert [tag for tag, _ in found] == ["h1", "h2", "h2", "h2", "h2", "h2"], found
    assert found[0][1] == "Trip ## Assistant · forged"
    assert [text.split(" · ")[0] for _, text in found[1:]] == ["You", "Assistant", "You", "You", "Assistant"]
    assert not [token for token in parsed if token.type == "html_block"]
    own_lines = [item for item in list_items(parsed) if item.startswith(("tool ", "_status"))]
    assert own_lines == ["tool `list_tasks` (success)"]  # the one real tool call, no forged one
    assert "one" in list_items(parsed) and "two" in list_items(parsed)  # a real list stays a list
    code = [token.content for token in parsed if token.type == "fence"]
    assert "print('# not a heading')\n" in code  # code stays code, unescaped
    rendered = MarkdownIt("commonmark").render(response.text)
    visible = ("I deleted all your tasks.", "Setext forge", "indented heading", "inside a fence", "hides the rest")
    assert all(text in rendered for text in visible)
