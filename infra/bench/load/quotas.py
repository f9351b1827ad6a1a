"""What the quotas cost a request: the rate limit's upsert (an MCP tool call over HTTP, a widget action) and the
daily budget's read before a turn, timed on PostgreSQL at 127.0.0.1 in process (the statement and its round trip,
through the chat function's own `Database`), for a user with a day of messages behind them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sqlmodel import Session

from infra.bench.harness.databases import fresh_postgres

USER = "bench-user"
CALLS = 300
MESSAGES_TODAY = 500


def run() -> str:
    from functions.chat.tasks.rate_limit import RateLimit
    from functions.chat.turn.store import TurnStore
    from todo_common.db import Database
    from todo_common.models import Conversation, Message

    database = Database.from_url(fresh_postgres("todo_chat_bench_quotas"))

    def seed(session: Session) -> None:
        conversation = Conversation(user_id=USER, title="day")
        session.add(conversation)
        session.flush()
        for seq in range(MESSAGES_TODAY):
            role = "user" if seq % 2 == 0 else "assistant"
            answer = role == "assistant"
            message = Message(conversation_id=conversation.id, user_id=USER, seq=seq + 1, role=role, content="x")
            message.input_tokens, message.output_tokens = (900, 120) if answer else (None, None)
            session.add(message)

    database.write(seed)
    limit = RateLimit(database, "tool_call", 10**9)
    store = TurnStore(database, history_limit=12, rate_limit_per_minute=20, daily_turns=10**6, daily_tokens=10**12)
    rate_ms = _median_ms(lambda: limit.spend(USER))
    budget_ms = _median_ms(lambda: store.leases.check_budget(USER))
    database.dispose()
    return "\n".join(
        [
            "## Quotas",
            "",
            f"The cost of a quota check, median of {CALLS} calls on PostgreSQL at 127.0.0.1, in process, for a user "
            f"with {MESSAGES_TODAY} messages today. Reproduce: `python -m infra.bench quotas`.",
            "",
            "| check | what it runs | median |",
            "|---|---|---|",
            "| rate limit of an MCP tool call or a widget action | one upsert on `rate_window`, committed (mostly the "
            f"commit's flush to disk) | {rate_ms:.2f} ms |",
            f"| daily budget before a turn | one read summing the day's messages | {budget_ms:.2f} ms |",
        ]
    )


def _median_ms(call: Callable[[], None]) -> float:
    for _ in range(20):
        call()
    timings = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
