"""Byte pipes for drivers: one async stream type over a serial port or a TCP socket.

Every read takes a timeout and every failure becomes a DeviceError in words, so a driver never blocks
the event loop and never leaks a bare OSError to a node. Timeouts use ``asyncio.timeout`` rather than
``wait_for``, which on Python 3.11 can swallow a cancellation and make a device task unstoppable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from devices.errors import DeviceDisconnected, DeviceTimeout

log = logging.getLogger(__name__)

__all__ = ["ByteStream", "open_serial", "open_tcp"]


class ByteStream:
    """A connected byte pipe; ``description`` names it in every error ("tcp 127.0.0.1:9100")."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, description: str) -> None:
        self._reader = reader
        self._writer = writer
        self.description = description
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    async def write(self, data: bytes, timeout_s: float = 5.0) -> None:
        """Send bytes; a peer that stops taking them within ``timeout_s`` is a timeout, not a hang."""
        if self.closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        try:
            self._writer.write(data)
            async with asyncio.timeout(timeout_s):
                await self._writer.drain()
        except TimeoutError as err:
            raise DeviceTimeout(f"{self.description} did not accept {len(data)} bytes in {timeout_s:g} s") from err
        except (OSError, RuntimeError) as err:
            raise DeviceDisconnected(f"{self.description} was lost while sending: {err}") from err

    async def read_exactly(self, n: int, timeout_s: float) -> bytes:
        """Read exactly ``n`` bytes or raise DeviceTimeout / DeviceDisconnected."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._reader.readexactly(n)
        except TimeoutError as err:
            raise DeviceTimeout(f"{self.description} gave no complete answer in {timeout_s:g} s; "
                                "check power, cable and baud rate") from err
        except asyncio.IncompleteReadError as err:
            raise DeviceDisconnected(
                f"{self.description} closed after {len(err.partial)} of {n} bytes") from err
        except OSError as err:
            raise DeviceDisconnected(f"{self.description} was lost while reading: {err}") from err

    async def read_some(self, timeout_s: float, limit: int = 4096) -> bytes:
        """Read whatever arrives first (at least one byte) within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                data = await self._reader.read(limit)
        except TimeoutError as err:
            raise DeviceTimeout(f"{self.description} gave no answer in {timeout_s:g} s; "
                                "check power, cable and baud rate") from err
        except OSError as err:
            raise DeviceDisconnected(f"{self.description} was lost while reading: {err}") from err
        if not data:
            raise DeviceDisconnected(f"{self.description} closed the connection")
        return data

    async def discard_input(self, quiet_s: float = 0.0) -> bytes:
        """Throw away bytes already received (stale replies), waiting ``quiet_s`` for stragglers."""
        dropped = bytearray()
        while True:
            try:
                async with asyncio.timeout(quiet_s or 0.0005):
                    chunk = await self._reader.read(4096)
            except TimeoutError:
                break
            except OSError:
                break
            if not chunk:
                break
            dropped += chunk
        if dropped:
            log.debug("%s: dropped %d stale bytes", self.description, len(dropped))
        return bytes(dropped)

    async def close(self) -> None:
        """Close the pipe; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()


async def open_tcp(host: str, port: int, timeout_s: float) -> ByteStream:
    """Connect to HOST:PORT with a connect timeout; refusal and silence both become DeviceErrors."""
    description = f"tcp {host}:{port}"
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError as err:
        raise DeviceTimeout(f"{description}: no connection within {timeout_s:g} s; check power and cable") from err
    except OSError as err:
        raise DeviceDisconnected(f"{description}: cannot connect ({err.strerror or err}); "
                                 "check power, cable and address") from err
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ByteStream(reader, writer, description)


async def open_serial(path: str, baudrate: int, timeout_s: float = 2.0) -> ByteStream:
    """Open a serial port (or pty) 8N1 without blocking the loop."""
    import serial  # pyserial: imported here so TCP-only nodes do not need a serial stack loaded
    import serial_asyncio_fast

    description = f"serial {path} @{baudrate}"
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await serial_asyncio_fast.open_serial_connection(url=path, baudrate=baudrate,
                                                                              exclusive=True)
    except TimeoutError as err:
        raise DeviceTimeout(f"{description}: the port did not open within {timeout_s:g} s") from err
    except (OSError, serial.SerialException) as err:
        raise DeviceDisconnected(f"{description}: cannot open the port ({err}); "
                                 "check the cable and the device path") from err
    return ByteStream(reader, writer, description)
