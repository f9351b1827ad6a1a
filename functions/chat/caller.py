"""Who a request acts for: the user from the verified token, and the database. Immutable, as in history: the state of
one ChatKit request lives in its own context (`chatkit.context`), the state of one agent run in the run's
(`agent.agent.AgentRun`)."""

from __future__ import annotations

from dataclasses import dataclass

from todo_common.db import Database


@dataclass(frozen=True)
class Caller:
    user_id: str
    database: Database
