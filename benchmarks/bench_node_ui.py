"""The kiosk node with its touch UI (as ``servicehall node`` runs a kiosk): idle CPU, a pump round, tap → pixels.

The node runs in this process (NodeRuntime + KioskNode on simulated devices) against the real queue server in a
child process, once without a view (the baseline, what the node costs without its screen) and once with the
TouchUI under SDL's dummy driver, pumped on the asyncio loop (30 Hz while in use, 10 Hz after ACTIVE_S with
nobody there). Idle: CPU time of this process over ``--idle-s`` with nobody at the kiosk, measured once the pump
has slowed down. Pump round: ``TouchUI.pump_once`` timed with nothing to draw (what each round of the loop
costs) and with a new screen to draw (a Show just arrived). Tap → pixels: a mouse press and release
posted at a featured service's centre until the NUMBER screen is drawn (printer status, server, print included).

Run: SDL_VIDEODRIVER=dummy .venv/bin/python benchmarks/bench_node_ui.py [--idle-s S] [--taps N] [--size WxH]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import pygame
from bench_server_support import machine, percentile

from config.loader import load_hall
from kiosk.flows.effects import Screen
from kiosk.flows.events import Button, Touch
from kiosk.node_ui import ACTIVE_S, IDLE_HZ, PUMP_HZ, TouchUI, choose_video_driver
from screens.app import parse_size
from tests.integration.server_support import ServerProcess
from tests.support.kiosk_rig import kiosk_hall, running_node
from tests.support.waiting import until

SERVICE = Touch(Button.SERVICE, "A01")


async def idle_cpu(hall_file: Path, server: ServerProcess, data: Path, idle_s: float, ui: TouchUI | None) -> float:
    """Share of one core this process used over ``idle_s`` with the node (and ``ui``) running, nobody there."""
    async with running_node(hall_file, "kiosk-1", server.url, data, ui=ui) as node:
        await node.view.wait_for(Screen.START)
        await asyncio.sleep(ACTIVE_S + 1.0)  # the first health reports out, the pump at its idle rate
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(idle_s)
        return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


async def with_ui(hall_file: Path, server: ServerProcess, data: Path, ui: TouchUI,
                  taps: int) -> tuple[list[float], list[float], list[float]]:
    """Pump rounds (nothing to draw; a new screen) and tap → NUMBER drawn, in ms."""
    quiet: list[float] = []
    fresh: list[float] = []
    tapped: list[float] = []
    async with running_node(hall_file, "kiosk-1", server.url, data, ui=ui) as node:
        screen = ui.screen
        for _ in range(taps):
            await until(lambda: screen.view.screen is Screen.START and screen.settled
                        and screen.renderer.last_view == screen.view, "the home screen drawn and settled")
            for _ in range(20):
                t0 = time.perf_counter()
                ui.pump_once(node.runtime)
                quiet.append((time.perf_counter() - t0) * 1000)
            target = next(t for t in screen.view.targets if t.touch == SERVICE)
            pos = (target.box[0] + target.box[2] // 2, target.box[1] + target.box[3] // 2)
            t0 = time.perf_counter()
            for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
                pygame.event.post(pygame.event.Event(kind, pos=pos, button=1, touch=False))
            while not (screen.view.screen is Screen.NUMBER and screen.renderer.last_view == screen.view):
                assert time.perf_counter() - t0 < 30, "no number screen 30 s after the tap"
                await asyncio.sleep(0.001)  # a fine poll: the figure includes up to one 33 ms pump period
            tapped.append((time.perf_counter() - t0) * 1000)
            await until(lambda: screen.settled, "the number screen settled")
            done = next(t for t in screen.view.targets if t.touch == Touch(Button.DONE))
            pos = (done.box[0] + done.box[2] // 2, done.box[1] + done.box[3] // 2)
            for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
                pygame.event.post(pygame.event.Event(kind, pos=pos, button=1, touch=False))
            await until(lambda: screen.view.screen is Screen.START, "home again")
            t0 = time.perf_counter()
            ui.pump_once(node.runtime)  # the home screen's first frame after the number screen
            fresh.append((time.perf_counter() - t0) * 1000)
    return quiet, fresh, tapped


def _line(name: str, values: list[float]) -> str:
    return (f"{name}: median {statistics.median(values):.3f} ms, p90 {percentile(values, 90):.3f} ms "
            f"({len(values)} samples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--taps", type=int, default=10)
    parser.add_argument("--size", default="1080x1920")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    choose_video_driver(os.environ, headless=True)
    size = parse_size(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        hall_file = kiosk_hall(Path(tmp))
        hall = load_hall(hall_file)
        with ServerProcess(Path(tmp) / "data", config=hall_file) as server:
            bare = asyncio.run(idle_cpu(hall_file, server, Path(tmp) / "bare", args.idle_s, None))
            ui = TouchUI(hall, "bench", size)
            shown = asyncio.run(idle_cpu(hall_file, server, Path(tmp) / "ui", args.idle_s, ui))
            quiet, fresh, tapped = asyncio.run(with_ui(hall_file, server, Path(tmp) / "taps",
                                                       TouchUI(hall, "bench", size), args.taps))
    print(f"machine: {machine()}; load {os.getloadavg()[0]:.1f}; UI {size[0]}x{size[1]}, SDL dummy, "
          f"pump {PUMP_HZ:g} Hz in use, {IDLE_HZ:g} Hz idle")
    print(f"node idle CPU without a view (baseline): {bare * 100:.2f} % of one core over {args.idle_s:g} s")
    print(f"node idle CPU with its touch UI: {shown * 100:.2f} % of one core over {args.idle_s:g} s")
    print(_line("pump round, nothing to draw", quiet))
    print(_line("pump round, a new screen to draw", fresh))
    print(_line("tap → NUMBER screen drawn (status, server, print included)", tapped))


if __name__ == "__main__":
    main()
