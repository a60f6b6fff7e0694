"""cancel_and_wait ends a task that swallows its first cancellation (as 3.11's wait_for can), where gather hangs."""

from __future__ import annotations

import asyncio

from kiosk.tasks import cancel_and_wait


async def _swallows_one_cancel(swallowed: list[int]) -> None:
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(1)  # what a lost cancellation looks like from outside: the loop goes on


async def test_a_task_that_swallowed_a_cancel_is_cancelled_again_until_it_ends() -> None:
    swallowed: list[int] = []
    task = asyncio.create_task(_swallows_one_cancel(swallowed))
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.5)
    assert not done and swallowed == [1]  # cancel + gather would wait here for ever
    await cancel_and_wait([task], limit_s=5)
    assert task.cancelled()


async def test_a_task_that_never_ends_is_given_up_after_the_limit() -> None:
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await cancel_and_wait([task], limit_s=0.5)
    assert not task.done()
    stop.set()
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done()
