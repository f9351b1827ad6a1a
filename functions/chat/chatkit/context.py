"""The context of one ChatKit request, as the SDK hands it to the server and the store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from functions.chat.caller import Caller
from functions.chat.turn.types import Lease
from todo_common.db import Database


@dataclass(frozen=True)
class ChatKitContext:
    caller: Caller
    # Set when this request's client goes away before its stream ends (ChatKit's Stop), where that reaches the app.
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # The lease of the turn this request runs, held by `leasing` for the whole stream.
    lease: Lease | None = None
    # `threads.create`: the conversation made, with its lease, before ChatKit asks the store for a new thread's id.
    new_thread_id: str | None = None

    @property
    def user_id(self) -> str:
        return self.caller.user_id

    @property
    def database(self) -> Database:
        return self.caller.database
