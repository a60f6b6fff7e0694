"""Fixtures of the node tests: the all-day hall with simulated kiosk devices, and the real server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server_support import ServerProcess
from tests.support.kiosk_rig import kiosk_hall


@pytest.fixture
def hall_file(tmp_path: Path) -> Path:
    """The all-day test hall whose kiosk-1 and kiosk-2 have a simulated ID-card reader and ticket printer."""
    return kiosk_hall(tmp_path)


@pytest.fixture
def server(tmp_path: Path, hall_file: Path) -> Iterator[ServerProcess]:
    """The real server on ``hall_file``, stopped after the test."""
    with ServerProcess(tmp_path / "data", config=hall_file) as proc:
        yield proc
