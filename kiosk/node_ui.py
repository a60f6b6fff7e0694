"""The kiosk touch UI inside ``servicehall node``: the KioskScreen on a pygame display as the node's view.

This is the node command's own wiring (only kiosk/node_cli.py imports it), the one place where the node
program and the screens' code meet: the node's flows emit Show effects, ``TouchUI.show`` hands them to the
KioskScreen, and the taps the screen turns back into Touch events go into ``runtime.inputs``, where the
kiosk's event loop reads them like any other input.

pygame is not asyncio-aware, so it is pumped *on* the event loop, never in a blocking wait: each round
reads the queued pygame events (non-blocking), draws what changed, then sleeps ``1 / PUMP_HZ`` s with
``asyncio.sleep``. A round costs a few microseconds when nothing changed (the renderer compares views), so
the loop stays free for the devices and the server; with nobody at the kiosk for ``ACTIVE_S`` the pump slows
to ``IDLE_HZ`` (benchmarks/bench_node_ui.py measures both).

With no display (SDL_VIDEODRIVER unset and neither DISPLAY nor WAYLAND_DISPLAY) or with ``--headless``, SDL's
dummy driver is used: the same code runs, the frames are drawn into an offscreen surface.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, MutableMapping
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame

from kiosk.flows.effects import Show
from kiosk.flows.words import Words
from kiosk.node import NodeRuntime
from screens.app import parse_size
from screens.kiosk_models import DEFAULT_DPI, Names
from screens.kiosk_ui import KioskScreen

__all__ = ["ACTIVE_S", "DEFAULT_SIZE", "IDLE_HZ", "PUMP_HZ", "TouchUI", "choose_video_driver", "run_with_ui", "ui_size"]

log = logging.getLogger(__name__)

PUMP_HZ = 30.0  # taps feel instant at 33 ms; faster only burns CPU
IDLE_HZ = 10.0  # nobody there: a first touch waits at most 100 ms to be read, and the idle node spends less
ACTIVE_S = 10.0  # this long after a screen change or a tap the pump runs at PUMP_HZ
DEFAULT_SIZE = (1080, 1920)  # the common kiosk panel, portrait


def choose_video_driver(environ: MutableMapping[str, str], headless: bool) -> str:
    """Set SDL_VIDEODRIVER to ``dummy`` when asked to or when there is no display to open; the driver in use
    ("" for SDL's own choice)."""
    no_display = not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY")
    if headless or ("SDL_VIDEODRIVER" not in environ and no_display):
        environ["SDL_VIDEODRIVER"] = "dummy"
    return environ.get("SDL_VIDEODRIVER", "")


def ui_size(text: str, fullscreen: bool) -> tuple[int, int]:
    """The ``--size`` WxH (an error quoting it when wrong); without one, the panel's own size full screen,
    else DEFAULT_SIZE."""
    if text:
        return parse_size(text)
    return (0, 0) if fullscreen else DEFAULT_SIZE


class TouchUI:
    """The kiosk screen of one node: a NodeView (``show``, ``speak``, ``server_link``) that draws on a display.

    ``size`` (0, 0) with ``fullscreen`` takes the panel's own resolution.
    """

    def __init__(self, hall: Any, title: str, size: tuple[int, int] = DEFAULT_SIZE, *, fullscreen: bool = False,
                 dpi: float = DEFAULT_DPI, clock: Callable[[], float] = time.monotonic) -> None:
        pygame.display.init()
        flags = pygame.FULLSCREEN if fullscreen else 0
        surface = pygame.display.set_mode(size, flags)
        pygame.display.set_caption(title)
        self.screen = KioskScreen(surface, Names.from_hall(hall), dpi=dpi)
        self._clock = clock
        self._active_at = clock()

    # ------------------------------------------------------------------ NodeView
    def show(self, show: Show) -> None:
        self.screen.show(show)
        self._active_at = self._clock()

    def speak(self, words: Words) -> None:
        log.debug("kiosk says: %s", words.en)  # the kiosk has no speaker of its own yet

    def server_link(self, reachable: bool, words: Words) -> None:
        self.screen.notice(None if reachable else words)
        (log.info if reachable else log.warning)("%s", words.en)

    # ------------------------------------------------------------------ the loop
    def pump_once(self, runtime: NodeRuntime) -> bool:
        """One round: taps into ``runtime.inputs``, changes drawn; False when the window was closed."""
        if pygame.event.peek(pygame.QUIT):
            pygame.event.clear(pygame.QUIT)
            return False
        for touch in self.screen.touches():
            runtime.inputs.put_nowait(touch)
            self._active_at = self._clock()
        self.screen.pump()
        return True

    def period_s(self) -> float:
        """The pause before the next round: short while someone is using the kiosk, longer when nobody is."""
        busy = self._clock() - self._active_at < ACTIVE_S
        return 1.0 / (PUMP_HZ if busy else IDLE_HZ)

    async def run(self, runtime: NodeRuntime) -> None:
        """Pump until cancelled; closing the window stops the node."""
        while True:
            if not self.pump_once(runtime):
                break
            await asyncio.sleep(self.period_s())  # a frame clock, not a wait for a condition
        log.info("the kiosk window was closed; stopping node %s", runtime.node.name)
        runtime.stop()

    def close(self) -> None:
        """Let go of the display; idempotent."""
        pygame.display.quit()


async def run_with_ui(runtime: NodeRuntime, ui: TouchUI) -> None:
    """Run the node with ``ui`` pumped beside it until the node stops; the pump is stopped and the display
    closed on the way out."""
    pump = asyncio.create_task(ui.run(runtime))
    try:
        await runtime.run()
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        ui.close()
