"""Following an answer is cheap and capped: one poll loop per answer shared by its followers, stopped when the
last follower goes away, and a per-user cap on followers (429). Real sockets, both databases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from functions.chat.agent.offline_model import HELP, OfflineModel
from functions.chat.runtime import ChatRuntime
from functions.chat.turn.store import TurnStore
from tests.support.chat import SilentModel, SlowModel, chat_app, parse_sse
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.models import Message
from todo_common.web import Services

pytestmark = pytest.mark.long

ALICE = "user_alice"


class ReadCounter:
    """Counts the store's reads of a followed answer (the real read still runs)."""

    def __init__(self, store: TurnStore) -> None:
        self.count = 0
        self._read: Callable[[str, str], Message | None] = store.reads.answer
        store.reads.answer = self.read  # type: ignore[method-assign]

    def read(self, user_id: str, message_id: str) -> Message | None:
        self.count += 1
        return self._read(user_id, message_id)


def runtime(app: FastAPI) -> ChatRuntime:
    chat: ChatRuntime = app.state.chat
    return chat


def start_turn(base: str, tokens: Tokens, into: list[Any]) -> threading.Thread:
    """A plain chat turn streamed in a thread; returns once its conversation id is known."""

    def run() -> None:
        headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
        with (
            httpx.Client(timeout=60) as client,
            client.stream("POST", f"{base}/api/{ALICE}/chat", json={"message": "hi"}, headers=headers) as response,
        ):
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                if line == "":
                    into.extend(parse_sse(lines))
                    lines = []

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 10
    while not into and time.monotonic() < deadline:
        time.sleep(0.02)
    assert into and into[0][0] == "conversation", into
    return runner


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@contextmanager
def follower(base: str, tokens: Tokens, cid: str) -> Iterator[httpx.Response]:
    """A follower that has its response's headers, and goes away when the block ends."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{base}/api/{ALICE}/chat/{cid}/stream", headers=tokens.headers(ALICE)) as response,
    ):
        yield response


def test_followers_of_one_answer_share_one_poll_loop(services: Services, tokens: Tokens) -> None:
    app = chat_app(services, SlowModel(OfflineModel(), 0.15))
    reads = ReadCounter(runtime(app).turns.store)
    results: list[list[tuple[str, Any]]] = []
    with Server(app) as base:
        original: list[Any] = []
        runner = start_turn(base, tokens, original)
        cid = original[0][1]["conversation_id"]

        def follow() -> None:
            with httpx.Client(timeout=30) as client:
                answer = client.get(f"{base}/api/{ALICE}/chat/{cid}/stream", headers=tokens.headers(ALICE))
            results.append(parse_sse(answer.text.splitlines()))

        began = time.monotonic()
        followers = [threading.Thread(target=follow) for _ in range(8)]
        for thread in followers:
            thread.start()
        for thread in followers:
            thread.join(30)
        elapsed = time.monotonic() - began
        runner.join(30)
        assert runtime(app).turns.followers.polling() == 0
    assert len(results) == 8
    for events in results:
        assert events[-1][0] == "done" and events[-1][1]["response"] == HELP
    # One loop reads every 0.25 s; eight loops would read eight times as often.
    assert reads.count <= elapsed / 0.25 + 3, (reads.count, elapsed)


def test_followers_that_go_away_stop_the_poll_loop(services: Services, tokens: Tokens) -> None:
    app = chat_app(services, SilentModel(), turn_deadline_seconds=6)
    reads = ReadCounter(runtime(app).turns.store)
    followers = runtime(app).turns.followers
    with Server(app) as base:
        original: list[Any] = []
        runner = start_turn(base, tokens, original)
        cid = original[0][1]["conversation_id"]
        with ExitStack() as stack:
            for _ in range(5):
                assert stack.enter_context(follower(base, tokens, cid)).status_code == 200
            assert followers.following(ALICE) == 5 and followers.polling() == 1
        assert wait_for(lambda: followers.polling() == 0 and followers.following(ALICE) == 0)
        after_leaving = reads.count
        time.sleep(1.0)
        still_running = reads._read(ALICE, original[0][1]["message_id"])
        assert still_running is not None and still_running.status == "streaming"
        assert reads.count == after_leaving  # nobody polls any more
        runner.join(30)


def test_followers_over_the_per_user_cap_are_refused_with_429(services: Services, tokens: Tokens) -> None:
    app = chat_app(services, SilentModel(), turn_deadline_seconds=6, max_followers_per_user=2)
    with Server(app) as base:
        original: list[Any] = []
        runner = start_turn(base, tokens, original)
        cid = original[0][1]["conversation_id"]
        with follower(base, tokens, cid) as first:
            with follower(base, tokens, cid) as second:
                assert first.status_code == second.status_code == 200
                refused = httpx.get(f"{base}/api/{ALICE}/chat/{cid}/stream", headers=tokens.headers(ALICE))
                assert refused.status_code == 429
                assert refused.headers["Retry-After"] == "5"
                error = refused.json()["error"]
                assert error["code"] == "too_many_followers"
                assert "follow 2 answers at once" in error["message"]
            # The follower that went away gave its place back.
            assert wait_for(lambda: runtime(app).turns.followers.following(ALICE) == 1)
            with follower(base, tokens, cid) as third:
                assert third.status_code == 200
        runner.join(30)
