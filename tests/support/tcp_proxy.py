"""A TCP proxy in front of PostgreSQL, on a loopback port of its own, in a thread: the one the tests and the
benchmarks put between the app and the database.

- It counts round trips: a round trip is a burst of bytes from the client that follows a reply from the server (or
  opens the connection), exactly the waits a request pays for, whatever the driver batches or the ORM emits.
- With `delay`, every chunk is held that long in each direction (latency, not bandwidth: order is kept and chunks
  overlap in flight), as a database across the internet would answer.
- It can be cut: every open connection is dropped and new ones are refused (accepted, then closed at once) until
  it is restored. What a database restart or a network blip does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, upstream_url: str, *, delay: float = 0.0) -> None:
        target = make_url(upstream_url)
        self.upstream = (target.host or "127.0.0.1", target.port or 5432)
        self.upstream_url = upstream_url
        self.delay = delay
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.round_trips = 0
        self.connections = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        """The upstream database's URL, through the proxy."""
        return make_url(self.upstream_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def reset(self) -> None:
        """Start counting round trips and connections from zero."""
        self.round_trips = 0
        self.connections = 0

    def cut(self) -> None:
        """Drop every connection now and refuse new ones."""
        self._cut = True
        self._loop.call_soon_threadsafe(self._drop_all)

    def restore(self) -> None:
        self._cut = False

    def _drop_all(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _shutdown(self) -> None:
        """Cut every proxied connection, so nothing is left pending when the loop stops."""
        self._drop_all()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            client_writer.transport.abort()
            return
        with contextlib.suppress(asyncio.CancelledError):  # cancelled by `_shutdown`
            await self._proxy(client_reader, client_writer)

    async def _proxy(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.round_trips += 1  # the TCP handshake
        if self.delay:
            await asyncio.sleep(2 * self.delay)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, server_writer))
        replied = asyncio.Event()
        replied.set()

        def client_sent() -> None:
            if replied.is_set():
                self.round_trips += 1
                replied.clear()

        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer, client_sent),
                self._pipe(server_reader, client_writer, replied.set),
                return_exceptions=True,
            )
        finally:
            self._open.discard(client_writer)
            self._open.discard(server_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Callable[[], None]) -> None:
        """Bytes from `reader` to `writer`, each chunk `delay` late; the end of either side ends the other (a cut
        one is aborted, so the peer sees the connection drop)."""
        in_flight: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            try:
                while True:
                    due, data = await in_flight.get()
                    if not data:
                        break
                    if (wait := due - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                    writer.write(data)
                    await writer.drain()
            finally:
                if self._cut:
                    writer.transport.abort()
                else:
                    writer.close()

        delivery = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                seen()
                in_flight.put_nowait((time.monotonic() + self.delay, data))
        finally:
            in_flight.put_nowait((time.monotonic() + self.delay, b""))
            await delivery
