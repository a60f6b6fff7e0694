"""How long the engine takes to pick and call the next citizen in a big, busy hall (target: < 1 ms).

In process, no I/O: a hall of 200 windows and 20 services (each window serves 4, weights 2/1/1/1),
10,000 waiting tickets (5 % green channel), all 200 windows signed in. Each timed step is one
``engine.call_next`` (which also finishes the window's previous citizen implicitly and applies both
events); between steps, untimed, the called ticket is started and a new ticket is issued so the line
stays at 10,000. The decision alone (``_choose``) is timed too. Baselines in the same run: one
``heapq.heappop`` + ``heappush`` on a 10,000-item heap, and one dict lookup.
Run: .venv/bin/python benchmarks/bench_server_call_next.py [--calls N]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import time

from bench_server_support import at, big_hall, machine, median, percentile

from queue_server.engine.engine import QueueEngine


def build(waiting: int, seed: int = 7) -> tuple[QueueEngine, random.Random, float]:
    hall = big_hall()
    engine = QueueEngine(hall)
    rng = random.Random(seed)
    now = at("08:00")
    codes = [s.code for s in hall.services]
    for _ in range(waiting):
        now += 0.5
        engine.issue(rng.choice(codes), now, priority="green" if rng.random() < 0.05 else "normal")
    for window in hall.windows:
        engine.sign_in(window.number, f"s{window.number}", now)
    return engine, rng, now


def time_call_next(engine: QueueEngine, rng: random.Random, now: float, calls: int,
                   ) -> tuple[list[float], list[float]]:
    """Per-call times (µs) of call_next and of the bare decision, keeping the line length constant."""
    codes = [s.code for s in engine.hall.services]
    windows = [w.number for w in engine.hall.windows]
    full, decide = [], []
    perf = time.perf_counter_ns
    for _ in range(calls):
        now += 0.05
        window = rng.choice(windows)
        t0 = perf()
        engine._choose(window)
        t1 = perf()
        ticket = engine.call_next(window, now).outcome
        t2 = perf()
        decide.append((t1 - t0) / 1000)
        full.append((t2 - t1) / 1000)
        engine.act("start", ticket.id, now, window=window)
        engine.issue(rng.choice(codes), now, priority="green" if rng.random() < 0.05 else "normal")
    return full, decide


def time_baseline(size: int, repeats: int) -> tuple[list[float], list[float]]:
    rng = random.Random(1)
    heap = [(rng.random(), n, f"t{n}") for n in range(size)]
    heapq.heapify(heap)
    table = {f"t{n}": n for n in range(size)}
    perf = time.perf_counter_ns
    pops, lookups = [], []
    for n in range(repeats):
        t0 = perf()
        item = heapq.heappop(heap)
        heapq.heappush(heap, (item[0] + 1.0, item[1], item[2]))
        t1 = perf()
        table.get(f"t{n % size}")
        t2 = perf()
        pops.append((t1 - t0) / 1000)
        lookups.append((t2 - t1) / 1000)
    return pops, lookups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--waiting", type=int, default=10_000)
    args = parser.parse_args()
    started = time.perf_counter()
    engine, rng, now = build(args.waiting)
    built = time.perf_counter() - started
    waiting = sum(len(line) for line in engine.lines.values())
    gc.collect()
    full, decide = time_call_next(engine, rng, now, args.calls)
    pops, lookups = time_baseline(args.waiting, args.calls)
    print(machine())
    print(f"hall: {len(engine.hall.windows)} windows, {len(engine.hall.services)} services; "
          f"{waiting} waiting before, {sum(len(line) for line in engine.lines.values())} after; "
          f"built in {built:.2f} s; {args.calls} timed calls")
    rows = [("call_next (decide + finish previous + call, 2 events)", full),
            ("_choose only (the decision)", decide),
            ("heappop + heappush, 10,000 items [baseline]", pops),
            ("dict lookup [baseline]", lookups)]
    for name, values in rows:
        print(f"{name:56s} median {median(values):8.2f} µs   p99 {percentile(values, 99):8.2f} µs   "
              f"max {max(values):8.1f} µs")


if __name__ == "__main__":
    main()
