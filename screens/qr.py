"""QR codes as pygame surfaces: black modules on white with the standard 4-module quiet zone, sized in whole
pixels per module (a blurred, resampled module is what makes a phone camera give up)."""

from __future__ import annotations

import pygame
import qrcode
import qrcode.constants

_cache: dict[tuple[str, int], pygame.Surface] = {}
CACHE_KEPT = 32
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def modules(text: str) -> list[list[bool]]:
    """The code's module matrix, quiet zone included (level M: survives a scuffed screen or print)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return [[bool(v) for v in row] for row in code.get_matrix()]


def qr_surface(text: str, side: int) -> pygame.Surface:
    """The largest whole-module QR code of ``text`` that fits a ``side`` × ``side`` square (cached)."""
    key = (text, side)
    found = _cache.get(key)
    if found is None:
        matrix = modules(text)
        n = len(matrix)
        unit = max(1, side // n)
        found = pygame.Surface((n * unit, n * unit))
        found.fill(WHITE)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    found.fill(BLACK, (x * unit, y * unit, unit, unit))
        if len(_cache) >= CACHE_KEPT:
            _cache.clear()
        _cache[key] = found
    return found
