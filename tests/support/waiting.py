"""Bounded waiting on a condition for async tests: generous limits, short polls, never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

WAIT_S = 30.0


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, limit_s: float = WAIT_S) -> None:
    """Return once ``condition()`` (sync or async) is true; fail naming ``what`` after ``limit_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)
