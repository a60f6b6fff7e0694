"""Kiosk touch UI frame costs: the view model, a whole screen, and the partial repaint of a tap.

- view model: ``kiosk_view`` of every Show the scripted sessions of the real flows emit (no drawing).
- full: a fresh renderer drawing each of those screens (what a screen change costs), portrait 1080×1920
  and landscape 1920×1080.
- digit: on the appointment keypad, one digit typed (the code box repainted) and the key lit while
  pressed (one key repainted): what a citizen's tap costs between screen changes.
- baseline: ``surface.fill`` of the whole frame, same run.
Offscreen surfaces (SDL dummy driver); each step timed by wall clock and by the thread's CPU time.
Run: SDL_VIDEODRIVER=dummy .venv/bin/python benchmarks/bench_kiosk_ui.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
from bench_server_support import machine
from bench_wall import Timed, ms

from kiosk.flows.effects import Screen
from kiosk.flows.events import Button, Touch
from screens.kiosk_models import Names, kiosk_view
from screens.kiosk_ui import KioskRenderer
from tests.support.kiosk_flows import hall
from tests.support.kiosk_shows import every_show


def bench(size: tuple[int, int], rounds: int) -> dict[str, list[float]]:
    names = Names.from_hall(hall())
    shows = [show for _, show in every_show()]
    surface = pygame.Surface(size)
    out: dict[str, list[float]] = {}
    KioskRenderer(surface).draw(kiosk_view(shows[0], names, size))  # font and glyph caches
    for _ in range(rounds):
        for show in shows:
            with Timed(out, "view model"):
                view = kiosk_view(show, names, size)
            with Timed(out, "full"):
                KioskRenderer(surface).draw(view)
    entry = [s for s in shows if s.screen is Screen.CODE_ENTRY]
    renderer = KioskRenderer(surface)
    renderer.draw(kiosk_view(entry[0], names, size))
    for _ in range(rounds * 4):
        for show in entry[1:]:
            with Timed(out, "digit"):
                renderer.draw(kiosk_view(show, names, size))
            with Timed(out, "press"):
                renderer.draw(kiosk_view(show, names, size, pressed=Touch(Button.DIGIT, "5")))
    for _ in range(rounds * len(shows)):
        with Timed(out, "fill"):
            surface.fill((0, 0, 0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pygame.init()
    print(machine(), f"load {os.getloadavg()[0]:.1f}")
    started = time.monotonic()
    for size in ((1080, 1920), (1920, 1080)):
        for name, values in bench(size, args.rounds).items():
            print(f"{size[0]}x{size[1]} {name:14s}: {ms(values)} ({len(values)} steps)")
    print(f"load {os.getloadavg()[0]:.1f}, {time.monotonic() - started:.1f} s")
    pygame.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
