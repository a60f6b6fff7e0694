"""The event stream's edges on the real server: shutdown that no client can stall, a screen that asks
for events beyond the log (it outlived a data reset) is told so, and a client leaving is not an error.

The shutdown bounds below are correctness bounds for the "each stalled peer costs aiohttp's 10 s" bug,
not performance figures (those are in benchmarks/bench_server_shutdown.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from queue_server.ws.hub import CLOSE_AFTER_BEYOND_LOG
from tests.integration.server_support import ServerProcess, display, health, kiosk
from tests.integration.test_server_ws import RECEIVE_TIMEOUT_S, RawWebSocket, issue, read_until

SHUTDOWN_BOUND_S = 5.0  # generous: a healthy stop takes a fraction of a second, the bug took 10 s per peer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def stop_within_bound(server: ServerProcess) -> int:
    """SIGTERM; the process must exit before SHUTDOWN_BOUND_S (then it is reaped as usual)."""
    assert server.proc is not None
    proc = server.proc
    server.terminate()
    try:
        await asyncio.to_thread(proc.wait, SHUTDOWN_BOUND_S)
    except subprocess.TimeoutExpired:
        server.wait()
        raise AssertionError(f"the server took longer than {SHUTDOWN_BOUND_S} s to stop after SIGTERM") from None
    return server.wait()


async def wait_subscribers(session: aiohttp.ClientSession, server: ServerProcess, count: int) -> None:
    """Until the server counts ``count`` stream clients (bounded)."""
    for _ in range(int(RECEIVE_TIMEOUT_S * 100)):
        if (await health(session, server))["subscribers"] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server never had {count} stream clients")


async def test_sigterm_after_a_body_refused_unread_is_not_held(server: ServerProcess) -> None:
    """A 413 answered before the client sent its 2 MiB body must not hold the stop for aiohttp's 10 s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write((f"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer demo-kiosk-1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {2 << 20}\r\n\r\n").encode()
                     + b" " * 200_000)  # the rest of the 2 MiB never comes
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RECEIVE_TIMEOUT_S)
        assert head.startswith(b"HTTP/1.1 413"), head
        # An idle keep-alive connection must not hold the stop either.
        async with aiohttp.ClientSession() as session:
            await health(session, server)
            assert await stop_within_bound(server) == 0
    finally:
        writer.close()


async def test_sigterm_with_screens_that_never_answer_the_close_is_bounded(server: ServerProcess) -> None:
    """Screens that stopped reading (their buffers full, so no close frame gets through) cannot hold the stop."""
    async with aiohttp.ClientSession() as session:
        await issue(session, server, 2000, kiosks=8)  # more than the stalled peers' socket buffers hold
        mute = [await RawWebSocket.connect(server.port, "/api/v1/events?after=0", "demo-display") for _ in range(3)]
        try:
            async with session.ws_connect(f"{server.ws_url}?after=0", headers=display()) as ws:
                await wait_subscribers(session, server, 4)
                last = (await health(session, server))["last_event_id"]
                # Once this reader has the whole replay, the stalled peers' buffers are long full.
                await read_until(ws, last, [])
                assert await stop_within_bound(server) == 0
                message = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
                assert message.type is aiohttp.WSMsgType.CLOSE, message
                assert message.data == aiohttp.WSCloseCode.GOING_AWAY
                assert message.extra == "server shutting down"
        finally:
            for raw in mute:
                await raw.close()


async def test_after_beyond_the_end_of_the_log_is_told_with_a_close_code(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await issue(session, server, 3)
        last = (await health(session, server))["last_event_id"]
        async with session.ws_connect(f"{server.ws_url}?after={last + 50}", headers=display()) as ws:
            message = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
            assert message.type is aiohttp.WSMsgType.CLOSE, message
            assert message.data == CLOSE_AFTER_BEYOND_LOG
            assert message.extra == f"after={last + 50} is beyond the last event {last}; start again from ?after=0"
        # Exactly at the end is fine: the client waits for what comes next.
        async with session.ws_connect(f"{server.ws_url}?after={last}", headers=display()) as ws:
            [ticket] = await issue(session, server, 1)
            event = json.loads(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S))
            assert event["id"] == last + 1 and event["data"]["ticket"] == ticket["id"]


async def leave_during_handshake(server: ServerProcess, pause_s: float) -> None:
    """Ask for the stream and reset the connection before (or while) the server answers the upgrade."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /api/v1/events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer demo-display\r\n\r\n").encode())
    await writer.drain()
    if pause_s:
        await asyncio.sleep(pause_s)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


async def test_clients_leaving_in_the_middle_of_a_long_replay_are_not_errors(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await issue(session, server, 3000, kiosks=10)
        for n in range(40):
            await leave_during_handshake(server, 0.001 * (n % 4))
        for abrupt in (False, True) * 4:
            raw = await RawWebSocket.connect(server.port, "/api/v1/events?after=0", "demo-display")
            for _ in range(3):
                opcode, _ = await raw.frame()
                assert opcode == 0x1
            if abrupt:  # a reset, as when a screen loses power or its cable
                sock = raw.writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await raw.close()
        async with session.ws_connect(f"{server.ws_url}?after=0", headers=display()) as ws:
            for _ in range(10):
                await ws.receive_str(timeout=RECEIVE_TIMEOUT_S)
        await wait_subscribers(session, server, 0)
        async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1), json={"service": "A01"}) as answer:
            assert answer.status == 201
    assert server.stop() == 0
    text = server.log_text()
    assert "ERROR" not in text and "Traceback" not in text, text[-3000:]
    assert "left during" in text, "a client leaving is logged at info level"
