"""The window terminal role: the window_calls flow driven by the call pad (or the console), performed with the
node's real bus devices and its server client, and kept current from the event stream.

The node runtime (kiosk/node.py) opens the devices, reports their health, keeps the outbox and follows the
stream; this behaviour steps the flow, taking events from one queue in order: pad keys, rating-pad answers,
the console's commands, server answers and stream news. Requests run as their own tasks and put their answers
back on the queue, so a key pressed while one is in flight is answered at once ("请稍候") instead of waiting
behind it. The stream is replayed from the start of the log so every ticket id has its number, but only
events after the node's start reach the flow as news: the window's state at start comes from GET
/api/v1/windows, and an old finish must not light the rating pad again. A rating goes through the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from devices.bus485.callpad import CallPad
from devices.bus485.rating_pad import RatingPad
from devices.bus485.window_display import WindowDisplay
from devices.errors import DeviceError
from kiosk.flows import window_calls as wc
from kiosk.flows import window_io as wio
from kiosk.node import NodeRuntime
from kiosk.server_client import Answer, Unreachable, as_flow_event
from kiosk.ticket_book import TicketBook

__all__ = ["WindowNode"]

log = logging.getLogger(__name__)

_WINDOW_NEWS = frozenset({"ticket.called", "ticket.recalled", "ticket.started", "ticket.finished", "ticket.skipped",
                          "ticket.returned", "ticket.transferred", "window.signed_in", "window.signed_out",
                          "window.paused", "window.resumed"})
SYNC_RETRY_S = 2.0
WAITING_EVERY_S = 3.0  # how often the "citizens waiting" LED is brought up to date


class WindowNode:
    """The window behaviour of a NodeRuntime (ROLE_BEHAVIOURS); ``feed`` takes the console's events."""

    def __init__(self, runtime: NodeRuntime, *, rating_timeout_s: int = 30, key_seed: str | None = None,
                 on_state: Callable[[wc.WindowCalls], None] | None = None) -> None:
        self.runtime = runtime
        self.client = runtime.client
        self.ctx = wc.WindowContext.from_hall(runtime.hall, runtime.node.name, key_seed or secrets.token_hex(4),
                                              rating_timeout_s)
        self.pad: CallPad | None = self._device("callpad", CallPad)
        self.display: WindowDisplay | None = self._device("window_display", WindowDisplay)
        self.rating_pad: RatingPad | None = self._device("rating_pad", RatingPad)
        self.state, self._first = wc.start(self.ctx)
        self.book = TicketBook(self.client)  # numbers from the stream, and where "now" began
        self._synced = asyncio.Event()
        self._events: asyncio.Queue[wio.WindowEvent] = runtime.inputs  # the console feeds it too
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_state = on_state

    def _device(self, name: str, kind: type) -> Any:
        device = self.runtime.device(name)
        if device is not None and not isinstance(device, kind):
            raise ValueError(f"the {name} of node {self.runtime.node.name!r} is a {type(device).__name__}, "
                             f"not a {kind.__name__}; check its device= option")
        return device

    def feed(self, event: wio.WindowEvent) -> None:
        """Hand the flow an event (as the console does, through the runtime's ``inputs``)."""
        self._events.put_nowait(event)

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Show the start state, sync the window from the server, then step the flow until cancelled."""
        try:
            await self._perform(self._first)
            while True:
                if await self._sync():
                    break
                await asyncio.sleep(SYNC_RETRY_S)
            self._synced.set()
            if self.pad is not None:
                self._spawn(self._read_pad(self.pad), "call pad")
            if self.rating_pad is not None:
                self._spawn(self._read_ratings(self.rating_pad), "rating pad")
            self._spawn(self._watch_waiting(), "waiting")
            while True:
                event = await self._events.get()
                self.state, effects = wc.step(self.state, event)
                if self._on_state is not None:
                    self._on_state(self.state)
                await self._perform(effects)
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"{self.ctx.node} {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self) -> bool:
        """The window and the log's end as the server has them now; False while the server cannot say."""
        if not await self.book.locate():
            return False
        windows = await self.client.windows()
        if isinstance(windows, Unreachable) or not windows.ok:
            log.warning("window %d: cannot read the window's state yet (%s); retrying", self.ctx.window,
                        windows.words())
            return False
        for view in windows.body.get("windows", ()):
            if view.get("number") == self.ctx.window:
                self.feed(wio.WindowSynced(view))
        return True

    async def _watch_waiting(self) -> None:
        """Citizens waiting for this window's services (GET /api/v1/queues), for the pad's yellow LED."""
        known = -1
        while True:
            answer = await self.client.request("GET", "/api/v1/queues")
            if not isinstance(answer, Unreachable) and answer.ok:
                waiting = sum(int(q.get("waiting", 0)) for q in answer.body.get("queues", ())
                              if q.get("service") in self.ctx.serves)
                if waiting != known:
                    known = waiting
                    self.feed(wio.WaitingCount(waiting))
            await asyncio.sleep(WAITING_EVERY_S)

    async def _read_pad(self, pad: CallPad) -> None:
        async for press in pad.events():
            self.feed(wio.PadKey(press.key, press.arg, press.seq, press.session))

    async def _read_ratings(self, rating_pad: RatingPad) -> None:
        async for rating in rating_pad.events():
            self.feed(wio.RatingGiven(rating.level, rating.seq))

    async def on_event(self, event: dict[str, Any]) -> None:
        """One stream event (the runtime's follower, in id order): numbers from history, news after the start."""
        await self._synced.wait()
        kind, data = str(event.get("type", "")), event.get("data") or {}
        if not self.book.take(event) or kind not in _WINDOW_NEWS:
            return
        if data.get("from_window" if kind == "ticket.transferred" else "window") != self.ctx.window:
            return
        ticket = str(data.get("ticket") or "")
        number = (await self.book.ticket(ticket))[0] if ticket else ""
        self.feed(wio.StreamNews(kind, ticket, number, str(data.get("reason") or ""), str(event.get("staff") or "")))

    # ------------------------------------------------------------------ effects
    async def _perform(self, effects: list[wio.WindowEffect]) -> None:
        for effect in effects:
            try:
                await self._perform_one(effect)
            except DeviceError as err:  # the device says why; its health transition is reported on its own
                log.info("window %d: %s not shown: %s", self.ctx.window, type(effect).__name__, err)

    async def _perform_one(self, effect: wio.WindowEffect) -> None:
        if isinstance(effect, wio.Request):
            if effect.outbox and self.runtime.outbox is not None:
                await self.runtime.outbox.put("rating", effect.method, effect.path, effect.body, effect.key)
            else:
                self._spawn(self._send(effect), f"request {effect.key}")
        elif isinstance(effect, wio.ShowDisplay):
            if self.display is not None:
                await self.display.show(effect.number, effect.text, effect.state, mode=effect.mode)
        elif isinstance(effect, wio.ShowPad):
            if self.pad is not None:
                await self.pad.show(effect.line, leds=effect.leds, beeps=effect.beeps)
        elif isinstance(effect, wio.InviteRating):
            if self.rating_pad is not None:
                await self.rating_pad.invite(effect.number, effect.staff, effect.timeout_s)
        elif isinstance(effect, wio.ThankRating) and self.rating_pad is not None:
            await self.rating_pad.thank()

    async def _send(self, request: wio.Request) -> None:
        result = await self.client.request(request.method, request.path, request.body, request.key)
        if isinstance(result, Unreachable):
            self.runtime.note_unreachable()
        else:
            self.runtime.note_answer()
        if not result.ok:
            # An empty queue is the pad's everyday answer (staff press call-next until someone comes), not news
            # for the log; every other refusal is.
            routine = isinstance(result, Answer) and result.code == "queue_empty"
            log.log(logging.DEBUG if routine else logging.INFO, "window %d: %s %s: %s", self.ctx.window,
                    request.method, request.path, result.words())
        self.feed(as_flow_event(result, request.key))
