"""Shortening text for display: one rule for previews and titles made from messages."""

from __future__ import annotations


def clip(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace become one space), cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
