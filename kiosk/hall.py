"""``servicehall hall``: the whole hall on one machine: the queue server, the e-licence library and every node.

The server and the e-licence library simulator are child processes (``servicehall serve``, ``servicehall
elicence-sim``), so the server can be killed with -9 and restarted on the same data like a real one; every
node of the config (kiosks, window terminals, the speaker's display node) runs in this process's event loop
as a NodeRuntime, each device on its configured URL, so ``sim+`` devices' simulators are objects the rush
(kiosk/rush/) can reach. Ctrl-C or SIGTERM stops the nodes, then the children; nothing is left running.

Adaptations for running every node in one process, all only for simulators: a simulated RS-485 line
(``sim+modbus+serial://?…``) is shared per line name within a process, and every window of the samples uses
the unnamed line, so each node's unnamed line is named after the node (one line per window terminal, as in the
hall); those lines are polled a little slower with a longer timeout (``SHARED_LOOP_BUS``); and the kiosks are
given the e-licence simulator's URL when the config names none, so certificate printing works on the samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from config.model import Hall, Node, NodeRole
from kiosk.flows.effects import Show
from kiosk.flows.words import Words
from kiosk.hall_link import LinkRelay
from kiosk.hall_procs import ChildProcess, free_port
from kiosk.node import NodeRuntime, NodeSettings, NodeView
from kiosk.tasks import cancel_and_wait

__all__ = ["BothViews", "HallOptions", "PumpedView", "RunningHall", "hall_nodes", "in_process_devices", "serve_hall"]

log = logging.getLogger(__name__)

#: the roles that do something in the hall (a manager or booking node is a person's browser or another system)
RUN_ROLES = frozenset({NodeRole.KIOSK, NodeRole.WINDOW, NodeRole.DISPLAY})
NODE_START_TIMEOUT_S = 60.0
NODE_STOP_TIMEOUT_S = 30.0
#: simulated RS-485 lines of a hall in one process: every window's line shares this loop, so a poll answer may
#: wait behind the others' work; a 50 ms master timeout (right for a real line) would then flap devices "down"
SHARED_LOOP_BUS = {"timeout": "0.3", "poll": "0.2"}


@dataclass(frozen=True)
class HallOptions:
    """How to run the hall: where its files go, where the server listens, whose clock it keeps."""

    config: Path
    data: Path
    out: Path
    host: str = "127.0.0.1"
    port: int = 8080
    relays: bool = False  # every node through its own LinkRelay (so the rush can cut one off)
    speaker_url: str | None = None  # replaces a silent:// speaker (the rush wants WAVs)
    settings: NodeSettings = field(default_factory=NodeSettings)


@runtime_checkable
class PumpedView(Protocol):
    """A view with a loop of its own beside the node (the kiosk touch UI pumps pygame), closed at the end."""

    async def run(self, runtime: NodeRuntime) -> None: ...

    def close(self) -> None: ...


class BothViews:
    """Two views of one node: what one is shown, the other is too (the rush's eyes and the touch UI)."""

    def __init__(self, first: NodeView, second: NodeView) -> None:
        self.views = (first, second)

    def show(self, show: Show) -> None:
        for view in self.views:
            view.show(show)

    def speak(self, words: Words) -> None:
        for view in self.views:
            view.speak(words)

    def server_link(self, reachable: bool, words: Words) -> None:
        for view in self.views:
            view.server_link(reachable, words)

    async def run(self, runtime: NodeRuntime) -> None:
        pumped = [view.run(runtime) for view in self.views if isinstance(view, PumpedView)]
        await asyncio.gather(*pumped)

    def close(self) -> None:
        for view in self.views:
            if isinstance(view, PumpedView):
                view.close()


def in_process_devices(node: Node, speaker_url: str | None = None) -> dict[str, str]:
    """The node's device URLs for a run with every node in one process (see the module docstring)."""
    devices: dict[str, str] = {}
    for name, url in node.devices.items():
        scheme, sep, rest = url.partition("://")
        if scheme.startswith("sim+modbus+") and sep and (rest == "" or rest.startswith("?")):
            url = f"{scheme}://{node.name}{rest}"
        if scheme.startswith("sim+modbus+"):
            for option, value in SHARED_LOOP_BUS.items():
                if f"{option}=" not in url:
                    url += f"{'&' if '?' in url else '?'}{option}={value}"
        if name == "speaker" and speaker_url and scheme == "silent":
            url = speaker_url
        devices[name] = url
    return devices


def hall_nodes(hall: Hall) -> list[Node]:
    """The nodes the hall runs: those with a role that acts and a demo token (others are named in the log)."""
    chosen = []
    for node in hall.nodes:
        if node.role not in RUN_ROLES:
            continue
        if not node.demo_token:
            log.warning("node %s has only a token hash in the config; it is not started here", node.name)
            continue
        chosen.append(node)
    return chosen


class RunningHall:
    """The server, the e-licence library and the nodes of ``hall``; ``async with`` starts and stops them all."""

    def __init__(self, hall: Hall, options: HallOptions,
                 view_for: Callable[[Node], NodeView | None] = lambda node: None) -> None:
        self.hall = hall
        self.options = options
        self.view_for = view_for
        port = options.port or free_port(options.host)
        self.server_url = f"http://{options.host}:{port}"
        self.server = ChildProcess(
            "queue server", ["serve", "--config", str(options.config), "--data", str(options.data / "server"),
                             "--host", options.host, "--port", str(port)],
            f"{self.server_url}/api/v1/health", options.data / "logs" / "server.log")
        elicence_port = free_port()
        self.elicence_url = f"http://127.0.0.1:{elicence_port}"
        self.elicence = ChildProcess("e-licence library", ["elicence-sim", "--port", str(elicence_port)],
                                     f"{self.elicence_url}/health", options.data / "logs" / "elicence.log")
        self.runtimes: dict[str, NodeRuntime] = {}
        self.relays: dict[str, LinkRelay] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> RunningHall:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.server.start()
        await self.elicence.start()
        node_hall = self.hall if self.hall.elicence_url else replace(self.hall, elicence_url=self.elicence_url)
        for node in hall_nodes(self.hall):
            await self._start_node(node_hall, node)
        log.info("hall %s running: server %s, %d nodes", self.hall.name, self.server_url, len(self.runtimes))

    async def _start_node(self, hall: Hall, node: Node) -> None:
        url = self.server_url
        if self.options.relays:
            host, _, port = self.server_url.removeprefix("http://").rpartition(":")
            relay = self.relays[node.name] = LinkRelay(node.name, host, int(port))
            url = await relay.start()
        assert node.demo_token is not None
        view = self.view_for(node)
        runtime = NodeRuntime(hall, replace(node, devices=in_process_devices(node, self.options.speaker_url)),
                              server=url, token=node.demo_token, data_dir=self.options.data / "nodes",
                              view=view, settings=self.options.settings)
        task = asyncio.create_task(_run_node(runtime, view), name=f"node {node.name}")
        self.runtimes[node.name] = runtime
        self._tasks[node.name] = task
        started = asyncio.create_task(runtime.started.wait())
        await asyncio.wait({task, started}, timeout=NODE_START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():
            task.result()  # raise what stopped it
        if not runtime.started.is_set():
            raise RuntimeError(f"node {node.name} did not start within {NODE_START_TIMEOUT_S:.0f} s")

    async def stop(self) -> None:
        """Stop the nodes (devices closed), the relays, then the children; safe to call twice."""
        for runtime in self.runtimes.values():
            runtime.stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks.values(), timeout=NODE_STOP_TIMEOUT_S)
            for name, task in self._tasks.items():
                if task in late:
                    log.error("node %s did not stop within %.0f s; cancelling it", name, NODE_STOP_TIMEOUT_S)
            await cancel_and_wait(late, again_s=5.0)
            for name, task in self._tasks.items():
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("node %s stopped with an error", name, exc_info=task.exception())
        self._tasks.clear()
        for relay in self.relays.values():
            await relay.stop()
        await self.elicence.stop()
        await self.server.stop()

    def failed_nodes(self) -> list[str]:
        """Nodes whose runtime ended by itself (a loop failed)."""
        return [name for name, task in self._tasks.items() if task.done()]

    async def kill_server(self) -> None:
        await self.server.kill()

    async def start_server(self) -> None:
        await self.server.start()


async def _run_node(runtime: NodeRuntime, view: NodeView | None) -> None:
    """The node, and beside it its view's own loop if it has one (stopped and closed when the node ends)."""
    if not isinstance(view, PumpedView):
        await runtime.run()
        return
    pump = asyncio.create_task(view.run(runtime))
    try:
        await runtime.run()
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        view.close()


async def serve_hall(hall: Hall, options: HallOptions,
                     job: Callable[[RunningHall], asyncio.Future[object] | asyncio.Task[object]] | None = None,
                     view_for: Callable[[Node], NodeView | None] = lambda node: None) -> int:
    """Run the hall until SIGINT/SIGTERM (or until ``job`` ends); 0 after a clean stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    code = 0
    try:
        async with RunningHall(hall, options, view_for) as running:
            waiter = asyncio.create_task(stop.wait())
            work = job(running) if job is not None else None
            pending = {waiter} | ({work} if work is not None else set())
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if work is not None and work in done:
                result = work.result()
                code = result if isinstance(result, int) else 0
            elif work is not None:
                log.info("stopping the rush")
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
            waiter.cancel()
            log.info("stopping the hall")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return code
