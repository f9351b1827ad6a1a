"""The detached stream behind every chat response: keep-alives while the producer is quiet, and a producer that
runs to its end even when the consumer goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from functions.chat.http.detached import KEEPALIVE, detached


def test_keepalives_fill_the_silence_of_a_slow_producer() -> None:
    async def slow() -> AsyncIterator[str]:
        yield "start"
        await asyncio.sleep(0.35)  # a long tool call
        yield "end"

    async def collect() -> list[object]:
        return [item async for item in detached(slow(), keepalive_seconds=0.1)]

    items = asyncio.run(collect())
    assert items[0] == "start"
    assert items[-1] == "end"
    assert 2 <= items.count(KEEPALIVE) <= 4


def test_the_producer_finishes_after_the_consumer_leaves() -> None:
    finished: list[str] = []

    async def turn() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(0.2)
        finished.append("stored")
        yield "last"

    async def consume_one_then_leave() -> None:
        stream = detached(turn())
        assert await anext(stream) == "first"
        await stream.aclose()  # what a client disconnect does to the response generator

    asyncio.run(consume_one_then_leave())
    assert finished == ["stored"]
