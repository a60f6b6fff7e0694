"""The node runtime: one machine of the hall (kiosk, window terminal, display) between its devices and the server.

Whatever the role, a node does the same things, so they live here once: it opens its devices by their config
URLs (real or ``sim+``) through devices.registry, supervises them (asks each for its status now and then, which
is also what makes the Device base reconnect an unplugged one) and sends every state transition to the server
through the durable outbox, in order; it sends a heartbeat; it follows the event stream from the last event it
applied (kept in its data dir by kiosk/node_memory.py, so a restart does not replay the day); and it tells its
view, in words, when the server cannot be reached. What the node *does* with its
devices depends on its role: ``ROLE_BEHAVIOURS`` below is the one table that says which class does that, so a
window terminal or an announcer plugs in there without touching the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from config.model import Hall, Node, NodeRole
from devices.base import Device
from devices.registry import open_device
from devices.state import DeviceState, DeviceStatus
from kiosk.event_stream import EventFollower
from kiosk.flows.effects import Show
from kiosk.flows.words import Words
from kiosk.node_memory import NodeMemory
from kiosk.outbox import Outbox
from kiosk.server_client import Answer, RetryPolicy, ServerClient, new_key

__all__ = ["ROLE_BEHAVIOURS", "SERVER_UNREACHABLE", "Behaviour", "LoggingView", "NodeRuntime", "NodeSettings",
           "NodeView"]

log = logging.getLogger(__name__)

#: role → "module:Class" of what the node does in that role (imported lazily: a kiosk never loads bus code)
ROLE_BEHAVIOURS: dict[NodeRole, str] = {
    NodeRole.KIOSK: "kiosk.kiosk_node:KioskNode",
    NodeRole.WINDOW: "kiosk.window_node:WindowNode",
    NodeRole.DISPLAY: "kiosk.announcer_node:AnnouncerNode",
}

CONNECTED_SETTLE_S = 2.0  # how long a device's "link up" waits for its first real status before it is sent

SERVER_UNREACHABLE = Words("暂时无法连接排队服务器，正在重试。已办理的记录会自动补发。",
                           "The queue server cannot be reached; retrying. What was done here will be sent "
                           "when it is back.")
SERVER_BACK = Words("已连接排队服务器。", "Connected to the queue server.")


class NodeView(Protocol):
    """Where a node shows things: the touch UI (screens/kiosk_ui.py), a window's console, or a log in tests."""

    def show(self, show: Show) -> None:
        """Draw a flow's screen."""

    def speak(self, words: Words) -> None:
        """Say something to the person at the node (a kiosk's own speaker, if any)."""

    def server_link(self, reachable: bool, words: Words) -> None:
        """The server became reachable or unreachable; ``words`` say so for the screen."""


class LoggingView:
    """A view for headless nodes: screens and link changes go to the log (names of screens only, never data)."""

    def show(self, show: Show) -> None:
        log.debug("screen %s", show.screen.value)

    def speak(self, words: Words) -> None:
        log.debug("speaks: %s", words.en)

    def server_link(self, reachable: bool, words: Words) -> None:
        (log.info if reachable else log.warning)("%s", words.en)


class Behaviour(Protocol):
    """What a role adds to the runtime; built as ``Behaviour(runtime)``."""

    async def run(self) -> None:
        """The role's own work, until cancelled."""

    async def on_event(self, event: dict[str, Any]) -> None:
        """One event of the stream, in id order, each once."""


@dataclass(frozen=True)
class NodeSettings:
    """How often the runtime does its rounds; tests shorten them."""

    heartbeat_s: float = 15.0  # well under the server's node_silent_seconds (90 by default)
    supervise_s: float = 5.0  # how often every device is asked for its status (and reconnected)
    outbox_retry_s: float = 2.0
    idle_reset_s: float = 60.0  # a kiosk with nobody touching it this long goes back to its start screen
    policy: RetryPolicy = field(default_factory=RetryPolicy)


_RETRYING = re.compile(r";? *retrying in [0-9.]+ s$")


def device_report(device: Device, status: DeviceStatus) -> dict[str, Any]:
    """One device as POST /api/v1/nodes/{node}/health wants it (the reason without the driver's retry timer,
    which is the node's business, not the manager's)."""
    return {"name": device.name, "kind": device.kind, "state": status.state.value,
            "reason": _RETRYING.sub("", status.reason)[:200], "since": round(status.since, 3)}


class NodeRuntime:
    """One node of ``hall`` named ``node``: ``await runtime.run()`` until ``runtime.stop()``."""

    def __init__(self, hall: Hall, node: Node, *, server: str, token: str, data_dir: Path,
                 view: NodeView | None = None, settings: NodeSettings = NodeSettings(),
                 behaviour: Callable[[NodeRuntime], Behaviour] | None = None) -> None:
        self.hall = hall
        self.node = node
        self.data_dir = Path(data_dir)
        self.view: NodeView = view or LoggingView()
        self.settings = settings
        self.client = ServerClient(server, token, policy=settings.policy)
        self.devices: dict[str, Device] = {}
        self.outbox: Outbox | None = None
        self.memory = NodeMemory(self.data_dir / node.name)
        self.follower = EventFollower(self.client, self._on_event, after=self.memory.last_event_id,
                                      on_link=self._on_stream_link, on_reset=self._on_stream_reset)
        self.reachable: bool | None = None  # None: not known yet
        self.behaviour: Behaviour | None = None
        self._make_behaviour = behaviour
        #: what people put in: the touch UI puts Touch events here (a window console its keys); the role reads it
        self.inputs: asyncio.Queue[Any] = asyncio.Queue()
        self._reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self.started = asyncio.Event()  # devices open, outbox open, tasks running

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Ask ``run`` to end (from a signal handler or a test)."""
        self._stopping.set()

    async def run(self) -> None:
        """Open everything, work until ``stop()``, then close everything that was opened."""
        tasks: list[asyncio.Task[None]] = []
        try:
            self.outbox = await Outbox.open(self.data_dir / self.node.name)
            await self._open_devices()
            self.behaviour = self._build_behaviour()
            work: list[Callable[[], Awaitable[None]]] = [
                self._send_reports, self._heartbeats, self._supervise, self.follower.run, self.memory.run,
                lambda: self._outbox().run(self.client, self.settings.outbox_retry_s)]
            if self.behaviour is not None:
                work.append(self.behaviour.run)
            tasks = [asyncio.create_task(self._guarded(job)) for job in work]
            self.started.set()
            log.info("node %s (%s) running against %s with %d devices", self.node.name, self.node.role.value,
                     self.client.server, len(self.devices))
            await self._stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._close()

    async def _guarded(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run one of the node's loops; a bug in one is logged and stops the node rather than hiding."""
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("node %s: a loop failed; stopping the node", self.node.name)
            self.stop()

    def _build_behaviour(self) -> Behaviour | None:
        if self._make_behaviour is not None:
            return self._make_behaviour(self)
        ref = ROLE_BEHAVIOURS.get(self.node.role)
        if ref is None:
            return None  # a manager or booking node: heartbeat and stream only
        module, _, name = ref.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
            log.warning("node %s: no behaviour for role %s yet (%s missing); running heartbeat and stream only",
                        self.node.name, self.node.role.value, module)
            return None
        behaviour: Behaviour = cls(self)
        return behaviour

    async def _open_devices(self) -> None:
        for name, url in self.node.devices.items():
            device = open_device(url, name=name, listener=self._transition)
            self.devices[name] = device
            await device.open()

    async def _close(self) -> None:
        for device in self.devices.values():
            device.listener = None  # shutting down is not a fault to report
        for device in self.devices.values():
            try:
                await device.close()
            except Exception:
                log.exception("node %s: closing %s failed", self.node.name, device.describe())
        await self.client.close()
        try:
            await self.memory.flush()
        except OSError as err:
            log.warning("node %s: its memory was not saved (%s); the next start replays more", self.node.name, err)
        if self.outbox is not None:
            await self.outbox.close()

    def _outbox(self) -> Outbox:
        if self.outbox is None:
            raise RuntimeError("the node's outbox is not open")
        return self.outbox

    # ------------------------------------------------------------------ devices
    def _transition(self, device: Device, status: DeviceStatus) -> None:
        """A device changed state (the Device base calls this on transitions only): send it, in order."""
        self._reports.put_nowait(device_report(device, status))

    async def _send_reports(self) -> None:
        """Every transition becomes one outbox item, in the order the devices reported them.

        "connected" (link up, readiness not yet asked) is held for ``CONNECTED_SETTLE_S``: when the same device
        says how it is within that time (ready, fault …) only that is sent, so an unplug and replug is one
        transition down and one back, not two back."""
        pending: dict[str, Any] | None = None
        while True:
            if pending is None:
                report = await self._reports.get()
            else:
                report, pending = pending, None
            if report["state"] == DeviceState.CONNECTED.value:
                with contextlib.suppress(TimeoutError):
                    pending = await asyncio.wait_for(self._reports.get(), CONNECTED_SETTLE_S)
                if pending is not None and pending["name"] == report["name"]:
                    continue  # superseded by what the device said next
            await self._outbox().put("health", "POST", f"/api/v1/nodes/{self.node.name}/health",
                                     {"devices": [report]}, new_key(f"{self.node.name}-h-"))

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.settings.supervise_s)
            for device in list(self.devices.values()):
                with contextlib.suppress(Exception):  # status() never raises for a device fault; be sure
                    await asyncio.wait_for(device.status(), self.settings.supervise_s * 2)

    def device(self, name: str) -> Device | None:
        """The node's device called ``name`` in the config (idcard, ticket_printer …), if it has one."""
        return self.devices.get(name)

    # ------------------------------------------------------------------ server
    async def _heartbeats(self) -> None:
        while True:
            result = await self.client.heartbeat(self.node.name)
            self._set_reachable(isinstance(result, Answer))
            if isinstance(result, Answer) and not result.ok:
                log.error("node %s: the server refused the heartbeat: %s", self.node.name, result.words())
            await asyncio.sleep(self.settings.heartbeat_s)

    def _set_reachable(self, reachable: bool) -> None:
        if reachable == self.reachable:
            return
        was, self.reachable = self.reachable, reachable
        if reachable and was is None:
            return  # the first contact is not news for the screen
        self.view.server_link(reachable, SERVER_BACK if reachable else SERVER_UNREACHABLE)

    def _on_stream_link(self, linked: bool) -> None:
        if linked:
            self._set_reachable(True)

    async def _on_event(self, event: dict[str, Any]) -> None:
        if self.behaviour is not None:
            await self.behaviour.on_event(event)
        self.memory.applied(int(event["id"]))

    def _on_stream_reset(self) -> None:
        """The server's log is shorter than our id (a data reset): forget what the old log taught us."""
        self.memory.forget()

    def note_unreachable(self) -> None:
        """A request of the role's own found the server away (the screen says so at once, not at the next beat)."""
        self._set_reachable(False)

    def note_answer(self) -> None:
        self._set_reachable(True)
