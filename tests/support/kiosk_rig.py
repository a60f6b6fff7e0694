"""A kiosk node run in-process against the real server (a child process), on device simulators.

``kiosk_hall(tmp)`` writes the all-day test hall with simulated devices on kiosk-1 and kiosk-2; ``running_node``
starts a NodeRuntime for one of them and yields it once its devices are open; ``RecordingView`` keeps every
screen the flow showed so a test waits for the one it expects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.loader import load_hall
from devices.certificate.simulator import CupsSimulator
from devices.idcard.cards import deck
from devices.idcard.record import IdCardRecord, parse_text_block
from devices.idcard.simulator import IdCardSimulator
from devices.smartcard.virtual_card import VirtualCardSimulator
from devices.ticket_printer.simulator import PrinterSimulator
from kiosk.flows.effects import Screen, Show
from kiosk.flows.home import Home
from kiosk.flows.take_ticket import TakeTicket
from kiosk.flows.words import Words
from kiosk.kiosk_node import KioskNode
from kiosk.node import NodeRuntime, NodeSettings, NodeView
from kiosk.server_client import RetryPolicy
from tests.integration.server_support import ALLDAY_HALL
from tests.support.waiting import until

if TYPE_CHECKING:  # the touch UI loads pygame: only the tests that use it import it
    from kiosk.node_ui import TouchUI

KIOSK_DEVICES = '[nodes.devices]\nidcard = "sim+sam+tcp://?realtime=0"\nticket_printer = "sim+escpos+tcp://"\n'
SMARTCARD_DEVICE = 'smartcard = "sim+pcsc://?deck=open"\n'
CERTIFICATE_DEVICE = 'certificate_printer = "sim+cups://"\n'
FAST = NodeSettings(heartbeat_s=0.5, supervise_s=0.5, outbox_retry_s=0.1,
                    policy=RetryPolicy(attempts=3, first_delay_s=0.05, max_delay_s=0.2, timeout_s=10.0))


def kiosk_hall(directory: Path, kiosks: tuple[str, ...] = ("kiosk-1", "kiosk-2"), *, smartcard: bool = False,
               elicence_url: str = "") -> Path:
    """The all-day hall with an ID-card reader and a ticket printer (simulated) on each of ``kiosks``, and with
    ``smartcard`` a social-security card reader (PC/SC, needs the private pcscd) on the first; with
    ``elicence_url`` the hall's e-licence library and a simulated A4 printer (sim+cups) on the first."""
    text = ALLDAY_HALL.read_text(encoding="utf-8")
    if elicence_url:
        text = text.replace("[hall]\n", f'[hall]\nelicence_url = "{elicence_url}"\n', 1)
    for i, name in enumerate(kiosks):
        head = f'name = "{name}"\nrole = "kiosk"\ntoken = "demo-{name}"\n'
        assert text.count(head) == 1, f"the test hall no longer has node {name} as expected"
        extra = SMARTCARD_DEVICE if smartcard and i == 0 else ""
        extra += CERTIFICATE_DEVICE if elicence_url and i == 0 else ""
        text = text.replace(head, head + KIOSK_DEVICES + extra)
    path = directory / "kiosk_hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def card_holder(index: int = 0) -> IdCardRecord:
    """The record on the simulator deck's card ``index`` (to check what must never appear)."""
    return parse_text_block(deck("default")[index].text)


@dataclass
class RecordingView:
    """A NodeView that keeps what was shown, said and the link changes."""

    shown: list[Show] = field(default_factory=list)
    said: list[Words] = field(default_factory=list)
    links: list[bool] = field(default_factory=list)
    forward: NodeView | None = None  # the real view (the touch UI) that also gets everything

    def show(self, show: Show) -> None:
        self.shown.append(show)
        if self.forward is not None:
            self.forward.show(show)

    def speak(self, words: Words) -> None:
        self.said.append(words)
        if self.forward is not None:
            self.forward.speak(words)

    def server_link(self, reachable: bool, words: Words) -> None:
        self.links.append(reachable)
        if self.forward is not None:
            self.forward.server_link(reachable, words)

    def last(self) -> Show | None:
        return self.shown[-1] if self.shown else None

    async def wait_for(self, screen: Screen, after: int = 0, what: str = "",
                       match: Callable[[Show], bool] = lambda show: True) -> Show:
        """The first screen ``screen`` shown at index ``after`` or later (and matching ``match``)."""
        found: list[Show] = []

        def seen() -> bool:
            found[:] = [s for s in self.shown[after:] if s.screen is screen and match(s)]
            return bool(found)

        await until(seen, what or f"screen {screen.value} (shown so far: {[s.screen.value for s in self.shown]})")
        return found[0]


@dataclass
class Kiosk:
    """One running kiosk node and handles on its simulators."""

    runtime: NodeRuntime
    behaviour: KioskNode
    view: RecordingView

    @property
    def ticket_state(self) -> TakeTicket:
        """The take-a-ticket flow's state inside the kiosk's home dispatcher."""
        state = self.behaviour.state
        assert isinstance(state, Home), state
        return state.ticket

    @property
    def reader(self) -> IdCardSimulator:
        device = self.runtime.device("idcard")
        assert device is not None and isinstance(device.simulator, IdCardSimulator)
        return device.simulator

    @property
    def card_slot(self) -> VirtualCardSimulator:
        device = self.runtime.device("smartcard")
        assert device is not None and isinstance(device.simulator, VirtualCardSimulator)
        return device.simulator

    @property
    def certificate_printer(self) -> CupsSimulator:
        device = self.runtime.device("certificate_printer")
        assert device is not None and isinstance(device.simulator, CupsSimulator)
        return device.simulator

    @property
    def printer(self) -> PrinterSimulator:
        device = self.runtime.device("ticket_printer")
        assert device is not None and isinstance(device.simulator, PrinterSimulator)
        return device.simulator

    async def tap(self, card: int = 0) -> int:
        """Lift whatever lies on the reader, wait until the node saw it lifted, then place ``card``; the index of
        the next screen (for ``view.wait_for``)."""
        self.reader.remove_card()
        watch = self.behaviour.id_watch
        await until(lambda: watch.armed, "the kiosk to see the reader empty")
        mark = len(self.view.shown)
        self.reader.place_card(card)
        return mark

    async def touch(self, event: Any) -> int:
        mark = len(self.view.shown)
        await self.behaviour.inbox.put(event)
        return mark


@contextlib.asynccontextmanager
async def running_node(hall_file: Path, name: str, server_url: str, data_dir: Path,
                       settings: NodeSettings = FAST, ui: TouchUI | None = None) -> AsyncIterator[Kiosk]:
    """A kiosk node ``name`` running until the block ends (then stopped and every device closed); with ``ui``
    the touch UI is its view too, pumped beside it as ``servicehall node`` does."""
    hall = load_hall(hall_file)
    node = next(n for n in hall.nodes if n.name == name)
    view = RecordingView(forward=ui)
    made: list[KioskNode] = []

    def behaviour(runtime: NodeRuntime) -> KioskNode:
        made.append(KioskNode(runtime))
        return made[0]

    runtime = NodeRuntime(hall, node, server=server_url, token=f"demo-{name}", data_dir=data_dir, view=view,
                          settings=settings, behaviour=behaviour)
    if ui is not None:
        from kiosk.node_ui import run_with_ui

        task = asyncio.create_task(run_with_ui(runtime, ui))
    else:
        task = asyncio.create_task(runtime.run())
    try:
        await until(lambda: runtime.started.is_set() or task.done(), f"node {name} to start")
        if task.done():
            task.result()  # raise what stopped it
        kiosk = Kiosk(runtime, made[0], view)
        kiosk.reader.remove_card()  # the simulator starts with a card on it: tests place cards themselves
        yield kiosk
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 30)
