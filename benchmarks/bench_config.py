"""How long a node waits for its hall file to load and a staff member for a PIN check.

Figures: loading the county sample (TOML parse + every check) against a bare ``tomllib.loads`` of the
same text as baseline; and one ``verify_pin`` against one sha256 token hash.
Run: .venv/bin/python benchmarks/bench_config.py
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import parse_hall
from config.secrets import hash_pin, hash_token, verify_pin

COUNTY = Path(__file__).resolve().parents[1] / "config" / "samples" / "county_hall.toml"


def median_us(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``action`` in microseconds over ``repeats`` runs (after one warm-up)."""
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def main() -> None:
    text = COUNTY.read_text(encoding="utf-8")
    stored = hash_pin("123456")
    rows = [
        ("tomllib.loads(county_hall.toml) [baseline]", median_us(lambda: tomllib.loads(text), 50)),
        ("parse_hall(county_hall.toml)", median_us(lambda: parse_hall(text, "county"), 50)),
        ("hash_token (sha256) [baseline]", median_us(lambda: hash_token("demo-kiosk-1"), 1000)),
        ("verify_pin (scrypt N=2^14 r=8 p=1)", median_us(lambda: verify_pin("123456", stored), 20)),
    ]
    print(f"python {platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"county sample: {len(text)} characters")
    for name, us in rows:
        print(f"{name:48s} median {us:10.1f} µs")


if __name__ == "__main__":
    main()
