"""Memory the RatingBook keeps per 10,000 ratings (all ratings stay in memory for the export).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_rating_memory.py
"""

from __future__ import annotations

import gc
import tracemalloc

from queue_server.engine import events as ev
from queue_server.engine.events import Event
from tests.support.engine_kit import new_engine
from tests.support.halls import at

COUNT = 10_000


def main() -> None:
    engine = new_engine()
    base = at("2026-11-23", "09:00")

    def given(i: int) -> Event:
        return Event(i + 1, ev.RATING_GIVEN, base + i, {
            "ticket": f"{i:012x}", "number": f"A{i:03d}", "level": 5, "channel": "pad", "comment": "",
            "service": "A01", "department": "SB", "window": 1, "staff": "s1", "finished_at": base + i - 60})

    gc.collect()
    tracemalloc.start()
    for i in range(COUNT):
        engine.ratings._on_given(given(i))
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    print(f"{current / 1e6:.2f} MB kept for {COUNT} ratings")


if __name__ == "__main__":
    main()
