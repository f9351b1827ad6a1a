"""Shortening text for display: one rule for previews and titles made from messages."""

from __future__ import annotations

from todo_common.text import one_line


def clip(text: str, limit: int) -> str:
    """`text` on one line (controls become spaces, runs of them one space; see `one_line`), cut to `limit`
    characters with an ellipsis."""
    flat = one_line(text)
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
