"""The event stream of the real server: history after ?after=ID then live, no gap, no duplicate;
a stalled screen is cut off with 4008 while others carry on; SIGTERM closes sockets with 1001."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from queue_server.ws.hub import CLIENT_QUEUE_LIMIT, CLOSE_TOO_SLOW
from tests.integration.server_support import ServerProcess, display, health, kiosk, read_log

SERVICES = ("A01", "B01", "C01", "D01")
RECEIVE_TIMEOUT_S = 10.0


@pytest.fixture
def server(tmp_path: Path, server_store: str | None) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data", store=server_store) as proc:
        yield proc


async def issue(session: aiohttp.ClientSession, server: ServerProcess, count: int, kiosks: int = 4) -> list[dict]:
    """``count`` tickets from ``kiosks`` kiosks at once; each answered 201."""

    async def one(k: int) -> list[dict]:
        out = []
        for i in range(k, count, kiosks):
            async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(k + 1),
                                    json={"service": SERVICES[i % len(SERVICES)]}) as answer:
                assert answer.status == 201, await answer.text()
                out.append(await answer.json())
        return out

    return [t for part in await asyncio.gather(*(one(k) for k in range(kiosks))) for t in part]


async def read_until(ws: aiohttp.ClientWebSocketResponse, last_id: int, into: list[str]) -> None:
    """Append raw event texts to ``into`` until the event ``last_id`` arrived (bounded by a receive timeout)."""
    while not into or json.loads(into[-1])["id"] < last_id:
        into.append(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S))


def ids(texts: list[str]) -> list[int]:
    return [json.loads(t)["id"] for t in texts]


async def test_history_then_live_in_order_and_identical_for_every_client(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await issue(session, server, 30)
        first_horizon = (await health(session, server))["last_event_id"]
        assert first_horizon == 31  # day.rolled + 30 tickets
        after = 10
        early: list[str] = []
        late: list[str] = []
        async with session.ws_connect(f"{server.ws_url}?after={after}", headers=display()) as ws_early:
            reader = asyncio.create_task(read_until(ws_early, 10**9, early))
            await issue(session, server, 20)
            # A second client connects in the middle of the live stream and replays from the start.
            async with session.ws_connect(f"{server.ws_url}?after=0&token=demo-display") as ws_late:
                await issue(session, server, 20)
                last = (await health(session, server))["last_event_id"]
                assert last == first_horizon + 40
                await read_until(ws_late, last, late)
                # The early reader is still running; wait for it to reach ``last`` too (bounded).
                for _ in range(int(RECEIVE_TIMEOUT_S * 100)):
                    if early and json.loads(early[-1])["id"] >= last:
                        break
                    await asyncio.sleep(0.01)
                reader.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await reader

            assert ids(early) == list(range(after + 1, last + 1))
            assert ids(late) == list(range(1, last + 1))
            assert late[after:] == early, "two clients saw different event texts"

            # A client already up to date sees only what happens from now on.
            async with session.ws_connect(f"{server.ws_url}?after={last}", headers=display()) as ws_now:
                [ticket] = await issue(session, server, 1)
                event = json.loads(await ws_now.receive_str(timeout=RECEIVE_TIMEOUT_S))
                assert event["id"] == last + 1
                assert event["type"] == "ticket.issued" and event["data"]["ticket"] == ticket["id"]
        log = await read_log(session, server, headers=display())
        assert [e["id"] for e in log] == list(range(1, last + 2))
        assert [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in log[:last]] == late


class RawWebSocket:
    """A WebSocket client with a tiny receive buffer that reads only when told: a stalled wall screen."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, path: str, token: str) -> RawWebSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except OSError:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Authorization: Bearer {token}\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RECEIVE_TIMEOUT_S)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        """One server frame (unmasked, unfragmented): (opcode, payload)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), RECEIVE_TIMEOUT_S)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        payload = await asyncio.wait_for(self.reader.readexactly(length), RECEIVE_TIMEOUT_S)
        assert first & 0x80, "fragmented frames are not expected from the hub"
        return first & 0x0F, payload

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def test_a_stalled_client_is_cut_off_with_4008_while_others_keep_up(server: ServerProcess) -> None:
    # Enough events to fill the stalled client's queue even after the socket buffers took their share.
    burst = CLIENT_QUEUE_LIMIT * 2
    async with aiohttp.ClientSession() as session:
        await issue(session, server, 5)
        start = (await health(session, server))["last_event_id"]
        slow = await RawWebSocket.connect(server.port, f"/api/v1/events?after={start}", "demo-display")
        try:
            normal: list[str] = []
            async with session.ws_connect(f"{server.ws_url}?after={start}", headers=display()) as ws:
                reader = asyncio.create_task(read_until(ws, start + burst, normal))
                for _ in range(4):  # the server keeps answering HTTP while the slow client stalls
                    await issue(session, server, burst // 4, kiosks=8)
                    async with session.get(f"{server.url}/api/v1/queues", headers=display(),
                                           timeout=aiohttp.ClientTimeout(total=5)) as answer:
                        assert answer.status == 200
                await asyncio.wait_for(reader, RECEIVE_TIMEOUT_S * 3)
                assert ids(normal) == list(range(start + 1, start + burst + 1))
                assert not ws.closed

                # Now the stalled client reads again: what it got is gap-free, then it is told to go.
                got: list[int] = []
                for _ in range(burst + 2):
                    opcode, payload = await slow.frame()
                    if opcode == 0x8:
                        break
                    assert opcode == 0x1
                    got.append(json.loads(payload)["id"])
                else:
                    raise AssertionError("the stalled client was never cut off")
                code = struct.unpack("!H", payload[:2])[0]
                assert code == CLOSE_TOO_SLOW
                assert got == list(range(start + 1, start + len(got) + 1))
                assert len(got) < burst, "the stalled client was not cut off early"
                assert payload[2:].decode() == f"too slow; reconnect with ?after={got[-1]}"
                # The normal client still gets live events after the cut-off.
                [ticket] = await issue(session, server, 1)
                # (the burst's long lines raise alerts on the tick: their events share the ids, so read on to it)
                previous = start + burst
                while True:
                    event = json.loads(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S))
                    assert event["id"] == previous + 1
                    previous = event["id"]
                    if event["data"].get("ticket") == ticket["id"]:
                        break
                    assert previous <= start + burst + 10, "the live ticket never came"
        finally:
            await slow.close()


async def test_sigterm_closes_sockets_with_1001_and_finishes_requests(server: ServerProcess) -> None:
    results: list[Any] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        await issue(session, server, 3)
        async with session.ws_connect(f"{server.ws_url}?after=0", headers=display()) as ws:
            first = json.loads(await ws.receive_str(timeout=RECEIVE_TIMEOUT_S))
            assert first["id"] == 1
            answered = asyncio.Event()

            async def one(i: int) -> None:
                try:
                    async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1 + i % 10),
                                            json={"service": "A01"}) as answer:
                        results.append((answer.status, await answer.json()))
                except aiohttp.ClientConnectionError as err:
                    results.append(err)
                answered.set()

            tasks = [asyncio.create_task(one(i)) for i in range(40)]
            await asyncio.wait_for(answered.wait(), RECEIVE_TIMEOUT_S)
            server.terminate()
            await asyncio.gather(*tasks)
            message = None
            for _ in range(100):  # skip the events already sent (at most 3 + 40 tickets), up to the close
                message = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
            assert message is not None and message.type is aiohttp.WSMsgType.CLOSE, message
            assert message.data == aiohttp.WSCloseCode.GOING_AWAY
            assert message.extra == "server shutting down"
    assert server.wait() == 0
    answers = [r for r in results if isinstance(r, tuple)]
    assert answers, "no request was answered"
    assert all(status == 201 for status, _ in answers), answers
    # A request either never got in (the listener was closed) or was answered in full: none was dropped.
    refused = [r for r in results if not isinstance(r, tuple)]
    assert all(isinstance(r, aiohttp.ClientConnectorError) for r in refused), refused
    # Every answered request was durable before its answer: the restart has all of them.
    server.start()
    async with aiohttp.ClientSession() as session:
        log = await read_log(session, server)
    issued = {e["data"]["ticket"] for e in log if e["type"] == "ticket.issued"}
    assert {body["id"] for _, body in answers} <= issued
