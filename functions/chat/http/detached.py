"""Run a stream to its end whatever the client does.

The producer runs in its own task and hands items over through a queue. When the client goes away, the response
generator is cancelled, but the producer is not: the generator waits (shielded) for it to finish, so the request,
and on Lambda the invocation, lasts until the turn is stored (and sets `abandoned`, when given, to say so). While
the producer is quiet for `keepalive_seconds`, the consumer gets `KEEPALIVE` so proxies keep the connection open.
`detached_batches` hands over every item ready at once together (a response writes them in one send). A stream
worth nothing without its client (following an answer someone else's request writes) is cancelled instead when
the client goes away (`cancel_when_abandoned`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final, TypeVar, cast

import anyio

T = TypeVar("T")


class Keepalive:
    """Nothing came for a while: the type of `KEEPALIVE`, its only value (test it with `isinstance`)."""

    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE: Final = Keepalive()
_END: Final = object()


async def detached(
    source: AsyncIterator[T], keepalive_seconds: float | None = None, abandoned: asyncio.Event | None = None
) -> AsyncGenerator[T | Keepalive, None]:
    """`source`'s items, then its end; `abandoned` is set when the consumer leaves before that end (the producer
    still runs to its end)."""
    async with contextlib.aclosing(detached_batches(source, keepalive_seconds, abandoned)) as batches:
        async for batch in batches:
            if isinstance(batch, Keepalive):
                yield batch
                continue
            for item in batch:
                yield item


async def detached_batches(
    source: AsyncIterator[T],
    keepalive_seconds: float | None = None,
    abandoned: asyncio.Event | None = None,
    *,
    cancel_when_abandoned: bool = False,
) -> AsyncGenerator[list[T] | Keepalive, None]:
    """As `detached`, but the items come in lists: each one every item the producer had handed over by then."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    failure: list[BaseException] = []
    producer = asyncio.create_task(_produce(source, queue, failure))
    try:
        while True:
            first = await _next(queue, keepalive_seconds)
            if first is KEEPALIVE:
                yield KEEPALIVE
                continue
            items, ended = _with_ready(first, queue)
            if items:
                yield cast("list[T]", items)  # every item but the end is the source's
            if ended:
                break
        if failure:
            raise failure[0]
    finally:
        if not producer.done():
            if abandoned is not None:
                abandoned.set()
            if cancel_when_abandoned:
                producer.cancel()
            with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError):
                await producer


async def _produce(source: AsyncIterator[T], queue: asyncio.Queue[object], failure: list[BaseException]) -> None:
    try:
        async for item in source:
            queue.put_nowait(item)
    except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
        failure.append(exc)
    finally:
        queue.put_nowait(_END)


async def _next(queue: asyncio.Queue[object], keepalive_seconds: float | None) -> object:
    """The next item (at once when one is queued: no task, no timer), or `KEEPALIVE` after `keepalive_seconds`."""
    if queue.qsize():
        return queue.get_nowait()
    try:
        return await asyncio.wait_for(queue.get(), keepalive_seconds)
    except TimeoutError:
        return KEEPALIVE


def _with_ready(first: object, queue: asyncio.Queue[object]) -> tuple[list[object], bool]:
    """`first` and every item already queued after it, and whether the stream's end (always last) is among them."""
    items = [first]
    while queue.qsize():
        items.append(queue.get_nowait())
    ended = items[-1] is _END
    return items[:-1] if ended else items, ended
