"""The history routes' one dependency: who is asking, verified, and the database to ask, run on the event loop.

FastAPI runs a plain `def` dependency in the thread pool: a hop that costs more than the work here (one token check,
its keys cached at module scope, and an attribute read). The history function serves one request at a time per
container (Mangum), so nothing waits behind the check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from todo_common.db import Database
from todo_common.dependencies import ANY_TOKEN, accepts, current_user
from todo_common.services import get_services


@dataclass(frozen=True)
class Caller:
    user_id: str
    database: Database


@accepts(*ANY_TOKEN)
async def history_caller(request: Request, user_id: str) -> Caller:
    """The verified caller (either kind of token), who must be the path's `{user_id}` (else 403)."""
    principal = await current_user(request, user_id)
    return Caller(principal.user_id, get_services(request).database)


HistoryCaller = Annotated[Caller, Depends(history_caller)]
