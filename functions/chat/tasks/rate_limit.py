"""Per-user rate limits of requests that store no message (MCP tool calls, ChatKit widget actions), counted in the
database so they hold across containers: one upsert a request, a counter per user and kind per minute."""

from __future__ import annotations

import time
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session

from todo_common.db import Database
from todo_common.errors import ApiError

Kind = Literal["tool_call", "action"]
WHAT = {"tool_call": "task tool calls", "action": "task actions"}

_COUNT = sa.text(
    """
    INSERT INTO rate_window (user_id, kind, window_start, count) VALUES (:uid, :kind, :window, 1)
    ON CONFLICT (user_id, kind) DO UPDATE
       SET count = CASE WHEN rate_window.window_start = :window THEN rate_window.count + 1 ELSE 1 END,
           window_start = :window
    RETURNING count
    """
)


class RateLimit:
    def __init__(self, database: Database, kind: Kind, per_minute: int) -> None:
        self.database = database
        self.kind = kind
        self.per_minute = per_minute

    def spend(self, user_id: str) -> None:
        """Count one request of this user's; 429 (with `Retry-After` until the minute ends) when over the limit."""
        now = time.time()
        window = int(now // 60)

        def work(session: Session) -> int:
            return int(session.execute(_COUNT, {"uid": user_id, "kind": self.kind, "window": window}).scalar_one())

        if self.database.write(work) > self.per_minute:
            wait = max(1, int((window + 1) * 60 - now) + 1)
            raise ApiError(
                429,
                "rate_limited",
                f"You can make {self.per_minute} {WHAT[self.kind]} a minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
