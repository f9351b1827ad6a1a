"""A TCP proxy in front of PostgreSQL that a test can cut: every open connection is dropped and new ones are
refused (accepted, then closed at once) until it is restored. What a database restart or a network blip does."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType

from sqlalchemy.engine import make_url


class CuttableProxy:
    def __init__(self, upstream_url: str) -> None:
        target = make_url(upstream_url)
        self.upstream = (target.host or "127.0.0.1", target.port or 5432)
        self.upstream_url = upstream_url
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        """The upstream database's URL, through the proxy."""
        return make_url(self.upstream_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._loop.call_soon_threadsafe(self._drop_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

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
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, server_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        self._open.discard(client_writer)
        self._open.discard(server_writer)
