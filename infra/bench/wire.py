"""Counting database round trips on the wire: a TCP proxy between the app and PostgreSQL, optionally slowed.

A round trip is a burst of bytes from the client that follows a reply from the server (or opens the
connection): exactly the waits a request pays for, whatever the driver batches or the ORM emits. With `delay`,
every chunk is held that long in each direction (latency, not bandwidth: order is kept and chunks overlap in
flight), as a database across the internet would answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType


class RoundTripProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, delay: float = 0.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.round_trips = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RoundTripProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        """Cut every proxied connection, so nothing is left pending when the loop stops."""
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def reset(self) -> None:
        self.round_trips = 0
        self.connections = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # cut by `_shutdown`
            await self._proxy(client_reader, client_writer)

    async def _proxy(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.round_trips += 1  # the TCP handshake
        if self.delay:
            await asyncio.sleep(2 * self.delay)
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        replied = asyncio.Event()
        replied.set()

        def client_sent() -> None:
            if replied.is_set():
                self.round_trips += 1
                replied.clear()

        await asyncio.gather(
            self._pipe(client_reader, server_writer, client_sent),
            self._pipe(server_reader, client_writer, replied.set),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Callable[[], None]) -> None:
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await in_flight.get()
                if not data:
                    break
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        delivery = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                seen()
                in_flight.put_nowait((time.monotonic() + self.delay, data))
        finally:
            in_flight.put_nowait((time.monotonic() + self.delay, b""))
            await delivery
