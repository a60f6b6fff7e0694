"""Any node role run in-process against the real server: a NodeRuntime of the all-day test hall with the
devices a test gives it, and the behaviour it builds, until the block ends (then stopped, devices closed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from config.loader import load_hall
from kiosk.node import Behaviour, NodeRuntime, NodeSettings
from tests.integration.server_support import ALLDAY_HALL
from tests.support.kiosk_rig import FAST
from tests.support.waiting import until

B = TypeVar("B", bound=Behaviour)


@contextlib.asynccontextmanager
async def running_behaviour(server_url: str, name: str, devices: dict[str, str], data_dir: Path,
                            make: Callable[[NodeRuntime], B], settings: NodeSettings = FAST,
                            ) -> AsyncIterator[tuple[NodeRuntime, B]]:
    """Node ``name`` (token demo-NAME) with ``devices`` instead of its configured ones, running ``make(runtime)``."""
    hall = load_hall(ALLDAY_HALL)
    node = replace(next(n for n in hall.nodes if n.name == name), devices=devices)
    made: list[B] = []

    def behaviour(runtime: NodeRuntime) -> B:
        made.append(make(runtime))
        return made[0]

    runtime = NodeRuntime(hall, node, server=server_url, token=f"demo-{name}", data_dir=data_dir, settings=settings,
                          behaviour=behaviour)
    task = asyncio.create_task(runtime.run())
    try:
        await until(lambda: runtime.started.is_set() or task.done(), f"node {name} to start")
        if task.done():
            task.result()  # raise what stopped it
        yield runtime, made[0]
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 30)
