"""What the model reads of the files a message carries, built from the stored bytes: an image as Responses API image
input (a data URL), a text file as text ("Attached file <name>:" and its content, cut to a bound). Bounded per
turn: the newest messages' files first, at most `MAX_FILES_PER_TURN`; the others are named, not shown."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from functions.chat.agent.messages import ContextMessage
from functions.chat.attachments.policy import AttachmentPolicy, is_readable, kind_of
from functions.chat.attachments.service import storage_key
from todo_common.files import FileStore

ATTACHED_TEXT_MAX_CHARS = 20_000
MAX_FILES_PER_TURN = 8
TEXT_CUT_NOTE = "\n[The file is longer; the rest is not shown.]"
InputPart = dict[str, Any]


def attachments_of(message: ContextMessage) -> list[Mapping[str, Any]]:
    """The attachments a stored user message carries (as ChatKit stored them: id, name, mime_type)."""
    item = message.chatkit_item or {}
    if message.role != "user" or item.get("type") != "user_message":
        return []
    return [a for a in item.get("attachments") or [] if isinstance(a, Mapping) and isinstance(a.get("id"), str)]


def attached_parts(
    files: FileStore, policy: AttachmentPolicy, context: Sequence[ContextMessage]
) -> dict[str, list[InputPart]]:
    """Each message's attachments as the model's input parts, by message id (messages without any are absent).
    Reads the files: call it off the event loop."""
    parts: dict[str, list[InputPart]] = {}
    shown = 0
    for message in reversed(context):
        attachments = attachments_of(message)
        if not attachments:
            continue
        mine: list[InputPart] = []
        for attachment in attachments:
            name, mime_type = str(attachment.get("name") or "file"), str(attachment.get("mime_type") or "")
            if shown == MAX_FILES_PER_TURN:
                mine.append(_note(f"The user attached “{name}” earlier; it is no longer shown."))
                continue
            shown += 1
            mine.append(_part(files, policy, str(attachment["id"]), name, mime_type))
        parts[message.id] = mine
    return parts


def _part(files: FileStore, policy: AttachmentPolicy, attachment_id: str, name: str, mime_type: str) -> InputPart:
    limit = policy.max_bytes(mime_type)
    content = files.read(storage_key(attachment_id), limit)
    if content is None or len(content) > limit or not is_readable(mime_type, content):
        return _note(f"The user attached “{name}”, but it cannot be read.")
    if kind_of(mime_type) == "image":
        return {"type": "input_image", "image_url": f"data:{mime_type};base64,{base64.b64encode(content).decode()}"}
    text = content.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\0", "")
    if len(text) > ATTACHED_TEXT_MAX_CHARS:
        text = text[:ATTACHED_TEXT_MAX_CHARS] + TEXT_CUT_NOTE
    return {"type": "input_text", "text": f"Attached file {name}:\n{text}"}


def _note(text: str) -> InputPart:
    return {"type": "input_text", "text": text}
