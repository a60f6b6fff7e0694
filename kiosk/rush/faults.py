"""The rush's injected faults: each played once, at a set share of the morning, through the simulators' doors.

- ``paper_out``: the first kiosk's ticket printer runs out of paper, and is refilled after a while;
- ``card_pulled``: the next card read at the last kiosk is interrupted (the card taken away mid-read);
- ``bus_unplug``: the first window terminal's RS-485 line is unplugged, and plugged back in;
- ``server_kill``: the queue server is killed with SIGKILL and started again on the same data;
- ``kiosk_cutoff``: the last kiosk's network link to the server is cut for 30 simulated seconds.

Each fault is recorded with the real times it began and ended and the node and devices it concerns, so the
summary (and the end-to-end test) can check what the node reported about it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.faults import Fault
from kiosk.hall import RunningHall

__all__ = ["FAULTS", "FaultRecord", "play_faults"]

log = logging.getLogger(__name__)

#: fault → (share of the arrival span at which it starts, simulated seconds it lasts)
FAULTS: dict[str, tuple[float, float]] = {
    "paper_out": (0.15, 90.0), "card_pulled": (0.3, 0.0), "bus_unplug": (0.4, 40.0),
    "server_kill": (0.55, 20.0), "kiosk_cutoff": (0.7, 30.0),
}
SEEN_LIMIT_S = 30.0  # real seconds a paper-out may wait beyond its time for a citizen to meet it
MIN_OUTAGE_S = 3.0  # real seconds: long enough for the node to see a device down (its polls, a status query)


@dataclass
class FaultRecord:
    """One injected fault, as played."""

    name: str
    node: str
    devices: tuple[str, ...]
    started_at: float = 0.0  # time.time()
    ended_at: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"fault": self.name, "node": self.node, "devices": list(self.devices),
                "started_at": round(self.started_at, 3), "ended_at": round(self.ended_at, 3), "notes": self.notes}


def _kiosks(running: RunningHall) -> list[str]:
    return [name for name, rt in running.runtimes.items() if rt.node.role.value == "kiosk"]


def _windows(running: RunningHall) -> list[str]:
    return [name for name, rt in running.runtimes.items() if rt.node.role.value == "window" and "callpad" in rt.devices]


async def _until_seen(seen: Callable[[], int], before: int, limit_s: float) -> bool:
    """Keep a fault on until a citizen met it (their count rose above ``before``), at most ``limit_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while seen() <= before:  # the citizens' outcomes have no change event to wait on
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _play(name: str, running: RunningHall, outage_s: float, seen: Callable[[], int]) -> FaultRecord | None:
    kiosks, windows = _kiosks(running), _windows(running)
    if name == "paper_out" and kiosks:
        sim: Any = running.runtimes[kiosks[0]].devices["ticket_printer"].simulator
        record = FaultRecord(name, kiosks[0], ("ticket_printer",), time.time())
        before = seen()
        sim.inject(Fault.PAPER_OUT)
        await asyncio.sleep(outage_s)
        if not await _until_seen(seen, before, SEEN_LIMIT_S):
            record.notes.append(f"no citizen came to {kiosks[0]} in {SEEN_LIMIT_S:.0f} s more")
        sim.clear(Fault.PAPER_OUT)
    elif name == "card_pulled" and kiosks:
        sim = running.runtimes[kiosks[-1]].devices["idcard"].simulator
        record = FaultRecord(name, kiosks[-1], ("idcard",), time.time())
        sim.inject(Fault.CARD_PULLED, times=1)
    elif name == "bus_unplug" and windows:
        runtime = running.runtimes[windows[0]]
        sim = runtime.devices["callpad"].simulator
        record = FaultRecord(name, windows[0], tuple(d for d in runtime.devices if d in
                                                     ("callpad", "window_display", "rating_pad")), time.time())
        await sim.unplug()
        await asyncio.sleep(outage_s)
        await sim.replug()
    elif name == "server_kill":
        record = FaultRecord(name, "server", (), time.time())
        await running.kill_server()
        await asyncio.sleep(outage_s)
        await running.start_server()
    elif name == "kiosk_cutoff" and kiosks and kiosks[-1] in running.relays:
        relay = running.relays[kiosks[-1]]
        record = FaultRecord(name, kiosks[-1], (), time.time())
        relay.cut()
        await asyncio.sleep(outage_s)
        relay.mend()
    else:
        log.warning("fault %s cannot be played in this hall (no node for it)", name)
        return None
    record.ended_at = time.time()
    log.info("fault %s on %s played (%.1f s)", name, record.node, record.ended_at - record.started_at)
    return record


async def play_faults(names: list[str], running: RunningHall, span_real_s: float, speed: float,
                      records: list[FaultRecord], seen: Callable[[str], int] = lambda name: 0) -> None:
    """Play ``names`` at their share of the morning (real seconds from now), one after another. ``seen(name)``
    counts the citizens who met a fault so far: a paper-out stays until one did (within SEEN_LIMIT_S), so the
    rush always shows a citizen sent to the other kiosk, however the arrivals fell."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    for name in sorted(names, key=lambda n: FAULTS[n][0]):
        share, lasts_s = FAULTS[name]
        await asyncio.sleep(max(0.0, began + share * span_real_s - loop.time()))
        outage = max(MIN_OUTAGE_S, lasts_s / speed) if lasts_s else 0.0
        record = await _play(name, running, outage, functools.partial(seen, name))
        if record is not None:
            records.append(record)
