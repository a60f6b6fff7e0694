"""Wall display frame times (target: a frame with 200 rows of waiting services < 16 ms at 1080p).

- full: a fresh renderer each frame (everything painted: what the first frame after start costs), for
  1920×1080 and 3840×2160, with the view model built from the state in the same timed step.
- clock: the idle wall's frame (view model + compare + repaint of the header only), as each second does.
- call: a new call each frame (view model + repaint of the calling columns and the header).
- baseline: surface.fill of the whole frame, same run.
The state is bench data shaped like the stream (tests/support/screen_stream.py): 24 windows of which 10
call, 200 services with waiting counts, two alerts. Surfaces are offscreen (SDL dummy driver), so no
display transfer is timed. Each step is timed twice: wall clock (perf_counter) and the thread's own CPU time
(thread_time), which other processes on a shared machine disturb far less than the wall clock.
Run: SDL_VIDEODRIVER=dummy .venv/bin/python benchmarks/bench_wall.py [--frames 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame
from bench_server_support import machine, median, percentile

from screens.models import wall_view
from screens.wall import WallRenderer
from tests.support.screen_stream import TZ, Stream, busy_state

OPEN = ("正在办理", "open")


def ms(values: list[float]) -> str:
    return f"median {median(values) * 1000:.2f} ms, p99 {percentile(values, 99) * 1000:.2f} ms"


class Timed:
    """A timed step: appends its wall-clock seconds to ``out[name]`` and its CPU seconds to ``out[name + ' cpu']``."""

    def __init__(self, out: dict[str, list[float]], name: str) -> None:
        self.wall, self.cpu = out.setdefault(name, []), out.setdefault(f"{name} cpu", [])

    def __enter__(self) -> None:
        self.t0, self.c0 = time.perf_counter(), time.thread_time()

    def __exit__(self, *exc: object) -> None:
        self.wall.append(time.perf_counter() - self.t0)
        self.cpu.append(time.thread_time() - self.c0)


def bench(size: tuple[int, int], frames: int) -> dict[str, list[float]]:
    state, t = busy_state(services=200, windows=24, calling=10)
    surface = pygame.Surface(size)
    out: dict[str, list[float]] = {}
    warm = WallRenderer(surface)
    warm.draw(wall_view(state, dt.datetime.fromtimestamp(t, TZ), OPEN, warm.layout.max_columns))  # glyph caches
    for i in range(frames):
        with Timed(out, "full"):
            renderer = WallRenderer(surface)
            renderer.draw(wall_view(state, dt.datetime.fromtimestamp(t + i, TZ), OPEN, renderer.layout.max_columns),
                          tick=i)
    renderer = WallRenderer(surface)
    renderer.draw(wall_view(state, dt.datetime.fromtimestamp(t, TZ), OPEN, 10), tick=0)
    for i in range(1, frames + 1):
        now = dt.datetime.fromtimestamp(t + i * 0.001 + 1 if i % 2 else t + i * 0.001, TZ)
        with Timed(out, "clock"):
            renderer.draw(wall_view(state, now, OPEN, 10), tick=0)
    stream = Stream(start_id=state.last_event_id + 1, at=t)
    for i in range(frames):
        issued = stream.issued("A01", prefix="Z")
        state.apply_event(issued)
        with Timed(out, "call"):
            state.apply_event(stream.called(issued["data"]["ticket"], 1 + i % 10))
            renderer.draw(wall_view(state, dt.datetime.fromtimestamp(stream.at, TZ), OPEN, 10), tick=0)
    for _ in range(frames):
        with Timed(out, "fill"):
            surface.fill((0, 0, 0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    pygame.init()
    print(machine())
    for size in ((1920, 1080), (3840, 2160)):
        results = bench(size, args.frames)
        for name, values in results.items():
            print(f"{size[0]}x{size[1]} {name:9s}: {ms(values)}")
    pygame.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
