"""The history routes' dependencies, run on the event loop instead of a worker thread each.

FastAPI runs a plain `def` dependency in the thread pool: a hop that costs more than the work here (a token check
is tens of microseconds of CPU, its keys cached at module scope; the services are an attribute read). The history
function serves one request at a time per container (Mangum), so nothing waits behind the check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from todo_common.auth import Principal
from todo_common.dependencies import BetterAuthScheme, ChatTokenScheme, current_user
from todo_common.services import Services


async def history_user(request: Request, user_id: str, _a: BetterAuthScheme, _c: ChatTokenScheme) -> Principal:
    """`current_user`: the verified caller, who must be the path's `{user_id}` (else 403)."""
    return current_user(request, user_id, _a, _c)


async def history_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


HistoryUser = Annotated[Principal, Depends(history_user)]
HistoryServices = Annotated[Services, Depends(history_services)]
