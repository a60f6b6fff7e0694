"""Cancel tasks and wait until they have really ended, even when one swallowed a cancellation.

Why: on Python 3.11 ``asyncio.wait_for`` can lose a cancellation when the awaited future completes in the same
loop turn (CPython gh-86296, fixed in 3.12). The kiosk's card loops poll their readers through ``wait_for``
several times a second, so a node stopping at the wrong moment saw a loop survive its cancel, and a plain
``gather`` after ``cancel`` then waited for ever (the whole hall once hung in its shutdown; more often a kiosk
took 30 s and left its reader's pcscd and cupsd running). Cancelling again until the task ends fixes that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

__all__ = ["cancel_and_wait"]

log = logging.getLogger(__name__)

RECANCEL_S = 0.2


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]], limit_s: float = 30.0,
                          again_s: float = RECANCEL_S) -> None:
    """Cancel ``tasks`` and return once every one has ended (cancelling again, every ``again_s``, those that did
    not), or after ``limit_s``, logging the ones still running; their exceptions are not raised.

    Meant for leaf loops with no cleanup of their own: a second cancel also interrupts a ``finally`` that is
    still cleaning up, so a task with real cleanup needs an ``again_s`` longer than that cleanup takes."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            log.error("%d task(s) did not end within %.0f s of being cancelled: %s", len(pending), limit_s,
                      ", ".join(task.get_name() for task in pending))
            return
        _, pending = await asyncio.wait(pending, timeout=min(again_s, left))
