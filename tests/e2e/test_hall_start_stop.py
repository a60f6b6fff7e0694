"""``servicehall hall`` without a rush: the whole county sample starts, answers, and stops on SIGTERM with every
process of its tree gone (server, e-licence library, the private pcscd of the smart-card readers)."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.hall_support import HallProcess, alive, descendants
from tests.integration.server_support import REPO

pytestmark = pytest.mark.slow
COUNTY = REPO / "config" / "samples" / "county_hall.toml"


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: dict[str, object] = json.loads(answer.read())
        return body


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_the_county_hall_starts_and_stops_cleanly(tmp_path: Path, signum: int) -> None:
    hall = HallProcess(["--config", str(COUNTY), "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
                        "--port", "0"], tmp_path / "hall.log")
    try:
        url, nodes = hall.wait_running()
        assert nodes == 16  # 2 kiosks, 12 window terminals, the wall and the speaker's display node
        assert _get(f"{url}/api/v1/health")["status"] == "ok"
        tree = descendants(hall.proc.pid)
        assert len(tree) >= 3, tree  # the server, the e-licence library, the private pcscd (at least)
        deadline = time.monotonic() + 30
        online: list[str] = []
        while time.monotonic() < deadline:
            request = urllib.request.Request(f"{url}/api/v1/nodes",
                                             headers={"Authorization": "Bearer demo-manager"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                online = [n["node"] for n in json.loads(answer.read())["nodes"] if n["online"]]
            if len(online) == nodes:
                break
            time.sleep(0.2)
        assert len(online) == nodes, online  # every node's heartbeat reached the server
        assert hall.signal(signum) == 0, hall.log_text()[-3000:]
        left = [pid for pid in tree if alive(pid)]
        assert not left, f"processes left running after the hall stopped: {left}"
        text = hall.log_text()
        assert "Traceback" not in text and "ERROR" not in text, text[-3000:]
    finally:
        if hall.proc.poll() is None:
            hall.kill_tree()
