"""Suite-wide fixtures: nothing may leak (devices, simulators, threads), and screens run headless."""

from __future__ import annotations

import os
import threading

import pytest

pytest_plugins = ["tests.support.postgres"]

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves a device, a simulator or a thread running (python-can's habit)."""
    from devices.base import open_devices
    from devices.simulator import running_simulators

    threads_before = set(threading.enumerate())
    yield
    leaked = [d.describe() for d in open_devices()]
    leaked += [f"{s.kind} simulator" for s in running_simulators()]
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=2.0)
        if thread.is_alive() and not thread.daemon:
            leaked.append(f"thread {thread.name}")
    assert not leaked, f"test left open: {', '.join(leaked)}"
