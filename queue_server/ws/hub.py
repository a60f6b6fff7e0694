"""The WebSocket hub: every durable event goes to every screen and node, in log order.

A client that connects with ``?after=ID`` first gets what it missed from the log, then the live stream,
with no gap and no duplicate: it subscribes (buffering live events) before reading history up to the
last durable id, and skips buffered events it already sent. Each client has a bounded queue; a client
that falls that far behind is cut off with a reason (it reconnects with ``after``) instead of stalling
the server or growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import WSCloseCode, web

from queue_server.engine.events import Event

log = logging.getLogger(__name__)

CLIENT_QUEUE_LIMIT = 2000
CLOSE_TOO_SLOW = 4008  # application close code: "you fell behind; reconnect with ?after="
# The kernel's send buffer autotunes to megabytes on a fast link, so a stalled client would soak up
# thousands of events there before its queue even starts to fill; keep it to a few hundred events.
SEND_BUFFER_BYTES = 64 * 1024


def limit_send_buffer(transport: asyncio.BaseTransport | None) -> None:
    """Cap the socket's send buffer so CLIENT_QUEUE_LIMIT, not the kernel, decides who is too slow."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


class Subscriber:
    """One connected client's bounded backlog of events (already serialised) and its wake-up signal."""

    def __init__(self, limit: int = CLIENT_QUEUE_LIMIT) -> None:
        self.pending: deque[tuple[int, str]] = deque()
        self.limit = limit
        self.overflowed = False
        self.wakeup = asyncio.Event()

    def offer(self, event_id: int, text: str) -> None:
        if self.overflowed:
            return
        if len(self.pending) >= self.limit:
            self.overflowed = True
        else:
            self.pending.append((event_id, text))
        self.wakeup.set()


class Hub:
    """Fan-out of durable events to subscribers; ``publish`` never waits on a client."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def publish(self, events: Sequence[Event]) -> None:
        if not self._subscribers:
            return
        for event in events:
            text = event.to_json()
            for subscriber in self._subscribers:
                subscriber.offer(event.id, text)

    def subscribe(self, limit: int = CLIENT_QUEUE_LIMIT) -> Subscriber:
        subscriber = Subscriber(limit)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def serve(self, ws: web.WebSocketResponse, after: int, last_durable: Callable[[], int],
                    read_after: Callable[[int, int], Awaitable[list[Event]]]) -> None:
        """Send history after ``after``, then live events, until the client leaves or falls behind."""
        subscriber = self.subscribe()
        self._sockets.add(ws)
        sent = after
        receiver = asyncio.create_task(self._drain_incoming(ws))
        try:
            horizon = last_durable()
            while sent < horizon:
                page = await read_after(sent, min(1000, horizon - sent))
                if not page:
                    break
                for event in page:
                    await ws.send_str(event.to_json())
                sent = page[-1].id
            while not ws.closed:
                if subscriber.overflowed:
                    log.warning("a WebSocket client fell %d events behind; cut off", len(subscriber.pending))
                    await ws.close(code=CLOSE_TOO_SLOW, message=f"too slow; reconnect with ?after={sent}".encode())
                    break
                if not subscriber.pending:  # idle: one waiter per wake-up, not per event (bursts drain below)
                    subscriber.wakeup.clear()
                    waiter = asyncio.ensure_future(subscriber.wakeup.wait())
                    done, _ = await asyncio.wait({waiter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if receiver in done:
                        waiter.cancel()
                        break
                    continue
                event_id, text = subscriber.pending.popleft()
                if event_id <= sent:
                    continue
                await ws.send_str(text)
                sent = event_id
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
            self.unsubscribe(subscriber)
            self._sockets.discard(ws)

    @staticmethod
    async def _drain_incoming(ws: web.WebSocketResponse) -> None:
        """Read (and ignore) what the client sends, so pings are answered and a close is noticed."""
        async for _ in ws:
            pass

    async def close_all(self, reason: str) -> None:
        """On shutdown: close every socket with a reason (going away), so screens reconnect elsewhere."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())
