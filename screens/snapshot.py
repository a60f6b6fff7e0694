"""PNG files of what a screen shows, for tests to check regions in and for people to look at."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame

from screens.models import WallView, WindowView


def save(surface: pygame.Surface, path: str | Path) -> Path:
    """Write ``surface`` as a PNG (parents made); the path written."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, str(out))
    return out


def wall_png(view: WallView, size: tuple[int, int], path: str | Path, tick: int = 0) -> Path:
    """The wall's frame for ``view`` at ``size``, drawn offscreen and saved."""
    from screens.wall import WallRenderer

    surface = pygame.Surface(size)
    WallRenderer(surface).draw(view, tick)
    return save(surface, path)


def window_png(view: WindowView, size: tuple[int, int], path: str | Path) -> Path:
    """A counter screen's frame for ``view`` at ``size``, drawn offscreen and saved."""
    from screens.window import WindowRenderer

    surface = pygame.Surface(size)
    WindowRenderer(surface).draw(view)
    return save(surface, path)
