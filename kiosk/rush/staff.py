"""Simulated window staff: sign in on the call pad, call, wait for the citizen, serve, finish; the citizen rates.

Staff press keys on the simulated pad of their window's RS-485 line, exactly as a person would; the window
node (kiosk/window_node.py) turns the keys into server actions and lights the rating pad after a finish.
What the staff member does next is read from the window node's flow state (stage, called number), the
terminal's screen for staff. The citizen being served presses the rating pad after a short pause (or not at
all: level 0 in the plan). Every rating-pad invitation the node sends is counted per ticket number, so the
rush can prove each finished matter was invited exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.bus485.registers import Key
from devices.bus485.simulator import BusSimulator
from kiosk.flows import window_calls as wc
from kiosk.node import NodeRuntime
from kiosk.rush.plan import RATE_AFTER_S, WALK_S, Citizen

__all__ = ["Counter", "StaffTally", "WindowDesk", "work_window"]

log = logging.getLogger(__name__)

STEP_WAIT_S = 15.0  # how long a key's effect may take to show in the node's state (bus poll + server)


@dataclass
class StaffTally:
    """What the staff of the hall did, for the summary."""

    signed_in: set[int] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    finished: Counter[str] = field(default_factory=Counter)
    invitations: Counter[str] = field(default_factory=Counter)
    rated: Counter[str] = field(default_factory=Counter)
    empty_calls: int = 0


@dataclass
class WindowDesk:
    """One window terminal as its staff member uses it."""

    window: int
    staff: str
    runtime: NodeRuntime

    @property
    def node(self) -> Any:
        return self.runtime.behaviour

    @property
    def state(self) -> wc.WindowCalls:
        state: wc.WindowCalls = self.node.state
        return state

    def _bus(self, name: str) -> tuple[BusSimulator, int]:
        device: Any = self.runtime.device(name)
        sim = device.simulator
        assert isinstance(sim, BusSimulator), f"window {self.window}'s {name} is not simulated"
        return sim, int(device.bus_address)

    def press(self, key: Key, arg: int = 0) -> None:
        sim, address = self._bus("callpad")
        sim.press(address, key, arg)

    def rate(self, level: int) -> bool:
        """Press ``level`` on the rating pad; False when the pad was not asking (the press does nothing)."""
        sim, address = self._bus("rating_pad")
        return sim.rate(address, level) is not None

    def count_invitations(self, tally: StaffTally) -> None:
        """Count every invitation the node sends to its rating pad (by ticket number)."""
        pad = self.node.rating_pad
        if pad is None:
            return
        invite = pad.invite

        async def counted(number: str, staff: str, timeout_s: int = 30) -> None:
            tally.invitations[number] += 1
            await invite(number, staff, timeout_s)

        pad.invite = counted


async def _until(condition: Callable[[], bool], limit_s: float = STEP_WAIT_S) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():  # the window flow's state has no change event to wait on
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def sign_in(desk: WindowDesk, pin: str) -> bool:
    digits = int("".join(ch for ch in desk.staff if ch.isdigit()) or "0")
    desk.press(Key.SIGN_IN, digits)
    for digit in pin:
        desk.press(Key.DIGIT, int(digit))
    desk.press(Key.ENTER)
    return await _until(lambda: desk.state.stage not in (wc.Stage.SIGNED_OUT, wc.Stage.PIN))


async def work_window(desk: WindowDesk, pin: str, speed: float, citizens: dict[str, Citizen],
                      default_handling_s: Callable[[str], float], tally: StaffTally, closing: asyncio.Event,
                      rate_tasks: set[asyncio.Task[None]]) -> None:
    """The staff member's morning at ``desk`` until ``closing`` is set and nobody is at the window."""
    idle_poll_s = max(1.0, 30.0 / speed)  # simulated seconds between two calls into an empty queue
    while True:
        state = desk.state
        if state.pending is not None:
            await asyncio.sleep(0.05)
            continue
        if state.stage in (wc.Stage.SIGNED_OUT, wc.Stage.PIN):
            if closing.is_set():
                return
            if await sign_in(desk, pin):
                tally.signed_in.add(desk.window)
            else:
                log.warning("window %d: sign-in of %s did not go through; trying again", desk.window, desk.staff)
                desk.press(Key.CLEAR)
                desk.press(Key.CLEAR)
                await asyncio.sleep(1.0)
            continue
        if state.stage is wc.Stage.IDLE:
            if closing.is_set():
                return
            desk.press(Key.CALL_NEXT)
            if not await _until(lambda: desk.state.stage is not wc.Stage.IDLE, idle_poll_s):
                tally.empty_calls += 1
            continue
        number = state.number
        if state.stage is wc.Stage.CALLED:
            tally.called.add(number)
            await asyncio.sleep(WALK_S / speed)
            desk.press(Key.START)
            await _until(lambda: desk.state.stage is not wc.Stage.CALLED)
            continue
        if state.stage is wc.Stage.SERVING:
            citizen = citizens.get(number)
            handling = citizen.handling_s if citizen else default_handling_s(number)
            await asyncio.sleep(handling / speed)
            desk.press(Key.FINISH)
            if await _until(lambda: desk.state.stage is not wc.Stage.SERVING):
                tally.finished[number] += 1
                level = citizen.rating if citizen else 5
                if level:
                    task = asyncio.create_task(_rate_later(desk, number, level, RATE_AFTER_S / speed, tally))
                    rate_tasks.add(task)
                    task.add_done_callback(rate_tasks.discard)
            continue
        await asyncio.sleep(0.05)


async def _rate_later(desk: WindowDesk, number: str, level: int, after_s: float, tally: StaffTally) -> None:
    """The citizen looks at the lit rating pad and presses a level (if it is still asking about them)."""
    await asyncio.sleep(after_s)
    if not await _until(lambda: desk.state.invited is not None and desk.state.invited[1] == number, 5.0):
        return
    # the node's state says "inviting" a moment before the pad itself lights up: press once it asks
    with contextlib.suppress(Exception):
        if await _until(lambda: desk.rate(level), 5.0):
            tally.rated[number] += 1
