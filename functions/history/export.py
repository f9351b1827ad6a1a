"""A whole conversation as a downloadable document, written a keyset page at a time.

The history function sits behind a buffered HTTP API whose responses are limited to 6 MB: a conversation whose
export is estimated larger than `EXPORT_MAX_BYTES` answers 413 `export_too_large` (naming the paged messages endpoint)
before anything is read; any other is streamed page by page, so the function never holds the whole conversation
(a local server sends it as it is written; API Gateway receives the same bytes buffered)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session

from functions.history.schemas import ConversationPublic, MessagePublic
from todo_common import conversations
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.text import one_line

Format = Literal["json", "markdown"]
PAGE_SIZE = 500
# 6 MB is the HTTP API's limit on a response; the rest is room for JSON escaping and multi-byte text.
EXPORT_MAX_BYTES = 4_500_000
FRAMING_BYTES = 250  # a message's keys, ids, status and time around its text, as JSON (Markdown needs less)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# What in a message Markdown would read as the export's own structure: a heading (ATX, also inside a quote or a
# list item; or a setext underline, which makes the line above one), a line like the export's tool and status
# lines, raw HTML (an `<h2>`, or an open `<!--` that hides every section after it). Code fences are tracked, so
# code stays as written and a fence left open is closed (it would swallow every section after it).
_CONTAINERS = r"(?: {0,3}>[ \t]?| {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+)*"
_HEADING = re.compile(rf"^({_CONTAINERS} {{0,3}})(#)")
_UNDERLINE = re.compile(r"^( {0,3})([=-])(?=\2*[ \t]*$)")
_OWN_LINE = re.compile(r"^( {0,3})([-*+])(?=[ \t]+(?:tool |_status))")
_HTML = re.compile(r"<(?=[A-Za-z/!?])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def estimated_bytes(messages: int, stored_chars: int) -> int:
    return stored_chars + messages * FRAMING_BYTES


def check_exportable(estimate: int, user_id: str, conversation_id: str) -> None:
    if estimate > EXPORT_MAX_BYTES:
        raise ApiError(
            413,
            "export_too_large",
            f"This conversation is too large to export in one response; read it a page at a time with "
            f"GET /api/{user_id}/conversations/{conversation_id}/messages?limit=100 and the next_cursor of each page.",
        )


def pages(database: Database, conversation_id: str) -> Iterator[list[MessagePublic]]:
    """Every message, a page per read (each one round trip): rows are only ever appended after the last `seq`."""
    after: int | None = None
    while True:
        rows = database.read(functools.partial(_page, conversation_id=conversation_id, after_seq=after))
        if rows:
            yield [MessagePublic.model_validate(row) for row in rows]
            after = rows[-1]["seq"]
        if len(rows) < PAGE_SIZE:
            return


def _page(session: Session, *, conversation_id: str, after_seq: int | None) -> list[dict[str, Any]]:
    return conversations.export_page(session, conversation_id, after_seq=after_seq, limit=PAGE_SIZE)


def as_json(conversation: ConversationPublic, messages: Iterator[list[MessagePublic]]) -> Iterator[bytes]:
    yield b'{"conversation":' + conversation.model_dump_json().encode() + b',"messages":['
    separator = b""
    for page in messages:
        yield separator + b",".join(message.model_dump_json().encode() for message in page)
        separator = b","
    yield b"]}\n"


def as_markdown(conversation: ConversationPublic, messages: Iterator[list[MessagePublic]]) -> Iterator[bytes]:
    conversation = conversation.model_copy(update={"title": one_line(conversation.title or "") or None})
    header = [f"# {conversation.title or 'Untitled conversation'}", ""]
    header.append(f"_Started {readable_time(conversation.created_at)} · {conversation.message_count} messages_")
    yield "\n".join(header).encode()
    for page in messages:
        yield "".join(_markdown_of(_escaped(message)) for message in page).encode()
    yield b"\n"


def _markdown_of(message: MessagePublic) -> str:
    speaker = "You" if message.role == "user" else "Assistant"
    lines = ["", "", f"## {speaker} · {readable_time(message.created_at)}", "", message.content or "_(no text)_"]
    lines += [f"- tool `{call.name}` ({call.status})" for call in message.tool_calls]
    if message.status != "complete":
        lines.append(f"- _status: {message.status}_")
    return "\n".join(lines)


def readable_time(moment: datetime) -> str:
    """`2026-03-01 09:30:05 UTC`: what a reader needs, without ISO's `T` and microseconds (stored times are UTC)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC")


def _escaped(message: MessagePublic) -> MessagePublic:
    """The message with its text unable to forge the export's structure (see `_HEADING` and the rest): such a
    line's first mark is backslash-escaped outside code, and a code fence left open is closed."""
    lines, fence = [], ""
    for line in _LINE_BREAK.split(message.content):
        opened = _FENCE.match(line)
        if fence:
            fence = "" if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) else fence
        elif opened:
            fence = opened.group(1)
        else:
            for pattern in (_HEADING, _UNDERLINE, _OWN_LINE):
                line = pattern.sub(r"\1\\\2", line, count=1)
            line = _HTML.sub(r"\\<", line)
        lines.append(line)
    if fence:
        lines.append(fence)
    return message.model_copy(update={"content": "\n".join(lines)})


WRITERS: dict[Format, tuple[Callable[[ConversationPublic, Any], Iterator[bytes]], str, str]] = {
    "json": (as_json, "application/json", "json"),
    "markdown": (as_markdown, "text/markdown; charset=utf-8", "md"),
}


def download_filename(conversation: ConversationPublic, extension: str) -> str:
    stem = _UNSAFE_FILENAME.sub("-", conversation.title or "conversation").strip("-")[:60] or "conversation"
    return f"{stem}-{conversation.id}.{extension}"
