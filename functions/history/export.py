"""A whole conversation as a downloadable document."""

from __future__ import annotations

import re

from functions.history.schemas import ConversationExport

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def to_markdown(export: ConversationExport) -> str:
    conversation = export.conversation
    lines = [f"# {conversation.title or 'Untitled conversation'}", ""]
    lines.append(f"_Started {conversation.created_at.isoformat()} · {conversation.message_count} messages_")
    for message in export.messages:
        speaker = "You" if message.role == "user" else "Assistant"
        lines += ["", f"## {speaker} · {message.created_at.isoformat()}", "", message.content or "_(no text)_"]
        for call in message.tool_calls:
            lines.append(f"- tool `{call.name}` ({call.status})")
        if message.status != "complete":
            lines.append(f"- _status: {message.status}_")
    return "\n".join(lines) + "\n"


def download_filename(export: ConversationExport, extension: str) -> str:
    stem = _UNSAFE_FILENAME.sub("-", export.conversation.title or "conversation").strip("-")[:60] or "conversation"
    return f"{stem}-{export.conversation.id}.{extension}"
