"""A loopback TCP relay between one node and the queue server: the cable the rush can cut and mend.

Every node of a rush reaches the server through its own relay (one mechanism for all of them), so cutting
one kiosk off the server is closing its relay's connections and refusing new ones, as a pulled network cable
looks to the node: requests fail, the event stream drops, the outbox keeps what could not be sent. Mending the
link lets connections through again; nothing in the node knows it ran through a relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

__all__ = ["LinkRelay"]

log = logging.getLogger(__name__)

CHUNK = 65536


class LinkRelay:
    """Listens on 127.0.0.1:PORT and pipes each connection to ``target_host:target_port`` while the link is up."""

    def __init__(self, name: str, target_host: str, target_port: int) -> None:
        self.name = name
        self.target = (target_host, target_port)
        self.up = True
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None, "the relay is not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.url

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until ``mend``."""
        self.up = False
        self.cuts += 1
        log.warning("link of %s to the server cut", self.name)
        for writer in list(self._writers):
            writer.transport.abort()

    def mend(self) -> None:
        self.up = True
        log.info("link of %s to the server mended", self.name)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # the server is down: the node sees a refused connection, as without us
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            for one in (writer, up_writer):
                one.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.transport.abort()
