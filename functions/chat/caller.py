"""Who a request acts for: the user from the verified token, and the database. One object for the ChatKit store,
the turn, the agent's run context and the task tools, so the user id is never wrapped twice."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from functions.chat.turn.store import Lease
from todo_common.db import Database
from todo_common.tool_calls import ToolCallRecord


@dataclass
class Caller:
    user_id: str
    database: Database
    # Filled by the in-process tools during a run, keyed by call id: how each call ended, typed, so nothing has to
    # guess it back from the text the model reads.
    tool_results: dict[str, ToolCallRecord] = field(default_factory=dict)
    # `threads.create`: the id of the thread whose conversation (and lease) the turn service made before ChatKit
    # asks the store for a new thread id.
    reserved_thread_id: str | None = None
    # The lease of the turn a ChatKit request runs (taken and released by the turn service around the request).
    lease: Lease | None = None
    # Set when this request's client stops the answer (ChatKit's Stop: the client aborts the stream).
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # A ChatKit turn: `delete_task` asks the user (a confirm card) instead of deleting.
    confirm_deletes: bool = False
