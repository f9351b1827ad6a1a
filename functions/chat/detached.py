"""Run a stream to its end whatever the client does.

The producer runs in its own task and hands items over through a queue. When the client goes away, the response
generator is cancelled, but the producer is not: the generator waits (shielded) for it to finish, so the request,
and on Lambda the invocation, lasts until the turn is stored. While the producer is quiet for `keepalive_seconds`,
the consumer gets `KEEPALIVE` so proxies keep the connection open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Final, TypeVar

import anyio

T = TypeVar("T")


class _Keepalive:
    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE: Final = _Keepalive()
_END: Final = object()


async def detached(
    source: AsyncIterator[T], keepalive_seconds: float | None = None, on_abandon: Callable[[], None] | None = None
) -> AsyncGenerator[T | _Keepalive, None]:
    """`source`'s items, then its end; `on_abandon` is called when the consumer leaves before that end (the
    producer still runs to its end)."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    failure: list[BaseException] = []

    async def produce() -> None:
        try:
            async for item in source:
                queue.put_nowait(item)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            failure.append(exc)
        finally:
            queue.put_nowait(_END)

    producer = asyncio.create_task(produce())
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), keepalive_seconds)
            except TimeoutError:
                yield KEEPALIVE
                continue
            if item is _END:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        if not producer.done():
            if on_abandon is not None:
                on_abandon()
            with anyio.CancelScope(shield=True):
                await producer
