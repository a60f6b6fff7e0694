"""The simulator's end of the wire: a pty pair or a loopback TCP listener, both unpluggable.

A pty link publishes a stable symlink (as socat's ``link=`` does), so a driver keeps its configured path
across an unplug and a replug even though the kernel hands out a new /dev/pts/N each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import tty
from collections.abc import Callable

log = logging.getLogger(__name__)

__all__ = ["Link", "PtyLink", "TcpLink"]

Receiver = Callable[[bytes], None]


class Link:
    """One simulator endpoint: bytes in go to ``receiver``; ``send`` writes bytes out."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    @property
    def address(self) -> str:
        """Where a driver connects: a device path or ``HOST:PORT``."""
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def unplug(self) -> None:
        """Vanish as a real device does when its cable is pulled."""
        raise NotImplementedError

    async def replug(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class PtyLink(Link):
    """A pty pair; the driver opens ``address`` (a symlink to the slave) with pyserial."""

    def __init__(self, receiver: Receiver, name: str = "ttySIM") -> None:
        super().__init__(receiver)
        self._dir = tempfile.mkdtemp(prefix="servicehall-pty-")
        self._link = os.path.join(self._dir, name)
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def address(self) -> str:
        return self._link

    async def start(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._link)
        os.symlink(os.ttyname(slave), self._link)
        asyncio.get_running_loop().add_reader(master, self._on_readable)

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO once the last slave handle closes; the driver will reopen
            return
        if data:
            self._receiver(data)

    def send(self, data: bytes) -> None:
        if self._master is None:
            return  # unplugged: bytes go nowhere, as on a real cut cable
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                continue  # the pty buffer is 4 KiB; the driver drains it promptly
            except OSError:
                return
            view = view[written:]

    async def unplug(self) -> None:
        self._close_fds()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._link)

    async def replug(self) -> None:
        if self._master is None:
            await self.start()

    def _close_fds(self) -> None:
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    async def stop(self) -> None:
        self._close_fds()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._link)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)


class TcpLink(Link):
    """A loopback TCP listener taking one connection at a time, as a 9100-style print server does."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(receiver)
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_connect: Callable[[], None] | None = None

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()  # a newer client wins; the old connection is stale
        self._writer = writer
        if self.on_connect is not None:
            self.on_connect()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self._receiver(data)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            if self._writer is writer:
                self._writer = None

    def send(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    async def unplug(self) -> None:
        await self._close_all()

    async def replug(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self._close_all()
