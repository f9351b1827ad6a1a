"""The offline model's reading of an attached list ("add these"): a task per non-empty line of a text file (list
markers dropped), per row of a CSV (its first column; a `title` header skipped), at most `MAX_LIST_TASKS`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from todo_common.models import TITLE_MAX
from todo_common.text import one_line

MAX_LIST_TASKS = 50
ATTACHED_PREFIX = "Attached file "  # how `attachments.content` opens an attached text file for the model
ADD_LIST = re.compile(
    r"^(?:please\s+)?(?:add|import|create)\s+(?:all\s+)?(?:of\s+)?(?:these|them|this(?:\s+list)?|the\s+list|"
    r"everything)(?:\s+(?:tasks|items))?(?:\s+(?:to|in)\s+my\s+(?:list|tasks|todos?))?$",
    re.I,
)
_MARKER = re.compile(r"^(?:[-*•+#>]+|\d+[.)]|\[[ xX]?\])\s*")


def attached_texts(content: Any) -> list[tuple[str, str]]:
    """The text files a user message's content carries, as (name, text)."""
    found: list[tuple[str, str]] = []
    for part in content if isinstance(content, list) else []:
        text = part.get("text") if isinstance(part, Mapping) else None
        if isinstance(text, str) and text.startswith(ATTACHED_PREFIX) and ":\n" in text:
            name, _, body = text[len(ATTACHED_PREFIX) :].partition(":\n")
            found.append((name, body))
    return found


def titles_in(name: str, text: str) -> tuple[list[str], int]:
    """The tasks a list names, at most `MAX_LIST_TASKS`, and how many more it named."""
    if name.lower().endswith(".csv"):
        rows = [row[0] if row else "" for row in csv.reader(io.StringIO(text))]
        if rows and rows[0].strip().lower() == "title":
            rows = rows[1:]
    else:
        rows = [_MARKER.sub("", line.strip()) for line in text.splitlines()]
        rows = [_MARKER.sub("", row) for row in rows]
    titles = [clean[:TITLE_MAX].strip() for clean in (one_line(row) for row in rows) if clean]
    return titles[:MAX_LIST_TASKS], max(len(titles) - MAX_LIST_TASKS, 0)


def list_summary(name: str, added: int, failed: int, left_out: int) -> str:
    """What the assistant says once a list's tasks were added."""
    said = f"Added {added} task{'s' if added != 1 else ''} from {name}."
    if failed:
        said += f" {failed} could not be added."
    if left_out:
        said += f" {left_out} more line{'s were' if left_out != 1 else ' was'} left out: at most {MAX_LIST_TASKS} "
        said += "are added at a time."
    return said
