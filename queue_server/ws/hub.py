"""The WebSocket hub: every durable event goes to every screen and node, in log order, in its role's view.

A client that connects with ``?after=ID`` first gets what it missed from the log, then the live stream,
with no gap and no duplicate: it subscribes (buffering live events) before reading history up to the
last durable id, and skips buffered events it already sent. History comes from a small cache of pages
already serialised per view, shared by every client (replay.py); a live event is serialised once per
view, not once per client (views.py decides what each role sees). Each client has a bounded queue; a
client that falls that far behind is cut off with 4008 (it reconnects with ``after``); one that asks for
events beyond the end of the log (it outlived a data reset) is closed with 4009 and told the last id.
A client going away, at any moment, is a normal thing (info), not a server error. On shutdown every
socket is closed at once, within one bound, and any peer that has not let go by then is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import WSCloseCode, web

from queue_server.engine.events import Event
from queue_server.ws.replay import ReadAfter, ReplayCache
from queue_server.ws.views import View, render

log = logging.getLogger(__name__)

CLIENT_QUEUE_LIMIT = 2000
CLOSE_TOO_SLOW = 4008  # application close code: "you fell behind; reconnect with ?after="
CLOSE_AFTER_BEYOND_LOG = 4009  # "your ?after= is beyond the end of the log (a data reset?); start again from 0"
CLOSE_ALL_TIMEOUT_S = 2.0  # shutdown: one bound for every socket's close handshake together
# The kernel's send buffer autotunes to megabytes on a fast link, so a stalled client would soak up
# thousands of events there before its queue even starts to fill; keep it to a few hundred events.
SEND_BUFFER_BYTES = 64 * 1024
# What a peer that went away looks like from here (aiohttp's ClientConnectionResetError is a ConnectionResetError).
_GONE = (ConnectionError, asyncio.TimeoutError)


def limit_send_buffer(transport: asyncio.BaseTransport | None) -> None:
    """Cap the socket's send buffer so CLIENT_QUEUE_LIMIT, not the kernel, decides who is too slow."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


NOT_AN_EVENT = -1  # the id a queued message that is no event carries (never compared with replayed ids)


class Subscriber:
    """One connected client's bounded backlog of events (already serialised for its view) and wake-up."""

    def __init__(self, limit: int = CLIENT_QUEUE_LIMIT, view: View = View.PUBLIC, stats: bool = False) -> None:
        self.pending: deque[tuple[int, str]] = deque()
        self.limit = limit
        self.view = view
        self.stats = stats  # asked for the stats messages (?stats=1): screens do, nodes need not
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
        self._sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = {}
        self._replay: ReplayCache | None = None

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def publish(self, events: Sequence[Event]) -> None:
        if not self._subscribers:
            return
        views = {subscriber.view for subscriber in self._subscribers}
        for event in events:
            texts = {view: render(event, view) for view in views}
            for subscriber in self._subscribers:
                subscriber.offer(event.id, texts[subscriber.view])

    def broadcast(self, text: str) -> None:
        """A message that is no event (the once-a-second ``stats`` message) to every subscriber that asked for it,
        after the events already queued for it; never replayed, and lost with a slow client's backlog like events."""
        for subscriber in self._subscribers:
            if subscriber.stats:
                subscriber.offer(NOT_AN_EVENT, text)

    def subscribe(self, limit: int = CLIENT_QUEUE_LIMIT, view: View = View.PUBLIC, stats: bool = False) -> Subscriber:
        subscriber = Subscriber(limit, view, stats)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def replay_cache(self, read_after: ReadAfter) -> ReplayCache:
        """The shared page cache (made on first use, for the store the service reads from)."""
        if self._replay is None:
            self._replay = ReplayCache(read_after)
        return self._replay

    @staticmethod
    async def accept(ws: web.WebSocketResponse, request: web.Request) -> bool:
        """Complete the upgrade; False when the client already left (a normal thing, logged as info)."""
        limit_send_buffer(request.transport)
        try:
            await ws.prepare(request)
        except _GONE as err:
            log.info("a stream client left during the handshake (%s)", type(err).__name__)
            return False
        return True

    async def serve(self, ws: web.WebSocketResponse, after: int, last_durable: Callable[[], int],
                    read_after: ReadAfter, *, view: View = View.PUBLIC, stats: bool = False,
                    transport: asyncio.Transport | None = None) -> None:
        """Send history after ``after``, then live events (and stats messages if asked), until the client leaves
        or falls behind."""
        subscriber = self.subscribe(view=view, stats=stats)
        self._sockets[ws] = transport
        sent = after
        phase = "replay"
        receiver = asyncio.create_task(self._drain_incoming(ws))
        try:
            horizon = last_durable()
            if after > horizon:
                log.info("a stream client asked for events after %d, beyond the last event %d; told to start over",
                         after, horizon)
                await ws.close(code=CLOSE_AFTER_BEYOND_LOG, message=(
                    f"after={after} is beyond the last event {horizon}; start again from ?after=0").encode())
                return
            replay = self.replay_cache(read_after)
            while sent < horizon and not ws.closed:
                page = await replay.after(view, sent)
                if not page or page[-1][0] <= sent:
                    break
                for event_id, text in page:
                    if event_id > sent:
                        await ws.send_str(text)
                        sent = event_id
            phase = "live"
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
                if event_id == NOT_AN_EVENT:
                    await ws.send_str(text)
                    continue
                if event_id <= sent:
                    continue
                await ws.send_str(text)
                sent = event_id
        except _GONE as err:
            log.info("a stream client left during %s after event %d (%s)", phase, sent, type(err).__name__)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
            self.unsubscribe(subscriber)
            self._sockets.pop(ws, None)

    @staticmethod
    async def _drain_incoming(ws: web.WebSocketResponse) -> None:
        """Read (and ignore) what the client sends, so pings are answered and a close is noticed."""
        async for _ in ws:
            pass

    async def close_all(self, reason: str, timeout_s: float = CLOSE_ALL_TIMEOUT_S) -> None:
        """On shutdown: close every socket with a reason (going away), all at once within ``timeout_s``.

        A peer that has not completed the close by then (it stopped reading, so its buffers are full,
        or it never answers) is dropped, so no screen can hold the stop.
        """
        sockets = dict(self._sockets)
        if not sockets:
            return

        async def close(ws: web.WebSocketResponse) -> None:
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())

        tasks = {asyncio.ensure_future(close(ws)): ws for ws in sockets}
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            transport = sockets[tasks[task]]
            if transport is not None:
                transport.abort()  # close() would wait for the unread buffer to drain: forever
            task.cancel()
        if late:
            await asyncio.wait(late)
        log.info("closed %d stream clients on shutdown; %d did not let go within %.1f s and were dropped",
                 len(sockets), len(late), timeout_s)
