"""The screen programs: a pygame loop that draws the view of a ``HallState`` kept current by a ``Feed``.

The loop wakes ten times a second, builds the view model (cheap) and hands only the changed rectangles
to ``display.update``; the clock changes once a second, so an idle screen repaints its header and
nothing else. ``--snapshot FILE --exit-after S`` saves the screen after S seconds and stops, for tests
and for people checking a layout without a panel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame

from screens import snapshot
from screens.feed import Feed, stop
from screens.hours import day_sessions, opening_state
from screens.models import HallState, wall_view, window_view

log = logging.getLogger(__name__)
FRAME_S = 0.1


@dataclass(frozen=True)
class ScreenConfig:
    """What a screen needs to run: where the server is, its credential, the hall's hours and time zone."""

    server: str
    token: str
    size: tuple[int, int]
    tz: dt.tzinfo
    hours: Any  # config.model.HallHours, read duck-typed by screens.hours
    window: int | None = None  # None: the wall
    snapshot: Path | None = None
    exit_after_s: float | None = None
    fullscreen: bool = False


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' → (1920, 1080), with an error that quotes the input."""
    try:
        w, h = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"could not parse size {text!r}: the syntax is WIDTHxHEIGHT, e.g. 1920x1080") from None
    if not (100 <= w <= 8192 and 100 <= h <= 8192):
        raise ValueError(f"size {text!r} is out of range: each side 100 to 8192 pixels")
    return w, h


def opening_fn(cfg: ScreenConfig) -> Callable[[dt.datetime], tuple[str, str]]:
    def opening(now: dt.datetime) -> tuple[str, str]:
        return opening_state(day_sessions(cfg.hours, now.date()), now.time())
    return opening


async def run(cfg: ScreenConfig) -> int:
    """Show the wall (or window ``cfg.window``) until closed, or until ``exit_after_s`` with a snapshot."""
    from screens.wall import WallRenderer
    from screens.window import WindowRenderer

    pygame.display.init()
    flags = pygame.FULLSCREEN if cfg.fullscreen else 0
    surface = pygame.display.set_mode(cfg.size, flags)
    pygame.display.set_caption("servicehall " + ("wall" if cfg.window is None else f"window {cfg.window}"))
    state = HallState()
    feed = Feed(cfg.server, cfg.token, state, window=cfg.window)
    task = asyncio.create_task(feed.run(), name="screen feed")
    opening = opening_fn(cfg)
    wall = WallRenderer(surface) if cfg.window is None else None
    counter = WindowRenderer(surface) if cfg.window is not None else None
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        while True:
            if any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key == pygame.K_ESCAPE)
                   for e in pygame.event.get()):
                break
            now = dt.datetime.now(cfg.tz)
            if wall is not None:
                dirty = wall.draw(wall_view(state, now, opening(now), wall.layout.max_columns), int(now.timestamp()))
            else:
                assert counter is not None and cfg.window is not None
                dirty = counter.draw(window_view(state, cfg.window, now, opening(now)))
            if dirty:
                pygame.display.update(dirty)
            if cfg.exit_after_s is not None and loop.time() - started >= cfg.exit_after_s:
                if cfg.snapshot is not None:
                    log.info("snapshot written to %s", snapshot.save(surface, cfg.snapshot))
                break
            await asyncio.sleep(FRAME_S)
    finally:
        await stop(task)
        pygame.display.quit()
    return 0
