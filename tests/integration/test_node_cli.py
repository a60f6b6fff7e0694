"""``servicehall node``: --check in words with the right exit code, and a node run until SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server_support import PYTHON, REPO, ServerProcess, free_port, manager

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 60.0


def _node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "kiosk.cli", "node", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env={**os.environ, **(env or {})})




def test_check_says_every_device_and_the_server_in_words(hall_file: Path, server: ServerProcess) -> None:
    done = _node("--config", str(hall_file), "--node", "kiosk-1", "--server", server.url, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "node kiosk-1 (kiosk): 2 devices"
    assert any(line.startswith("idcard on sim+") and "ready" in line for line in lines)
    assert any(line.startswith("ticket_printer on sim+") and "paper ok" in line for line in lines)
    assert f"server {server.url} (全天测试大厅): reachable; token accepted" in lines
    assert lines[-1] == "all ready"
    assert "{" not in done.stdout and "retrying in" not in done.stdout


def test_check_tells_a_refused_token_from_an_absent_server(hall_file: Path, server: ServerProcess) -> None:
    wrong = _node("--config", str(hall_file), "--node", "kiosk-1", "--server", server.url, "--check",
                  env={"SERVICEHALL_TOKEN": "not-the-token"})
    assert wrong.returncode == 1 and "refuses this node's token" in wrong.stdout
    absent = _node("--config", str(hall_file), "--node", "kiosk-1", "--server", f"http://127.0.0.1:{free_port()}",
                   "--check")
    assert absent.returncode == 1 and "unreachable; cannot connect" in absent.stdout
    assert absent.stdout.splitlines()[-1] == "NOT ready: see above"


def test_an_unknown_node_and_a_bad_holder_key_are_refused_in_words(hall_file: Path) -> None:
    unknown = _node("--config", str(hall_file), "--node", "kiosk-99")
    assert unknown.returncode == 1 and "no node named 'kiosk-99'" in unknown.stderr
    bad = _node("--config", str(hall_file), "--node", "kiosk-1", env={"SERVICEHALL_HOLDER_KEY": "short"})
    assert bad.returncode == 1 and "kiosk 'kiosk-1' cannot start" in bad.stderr and "64 to 128" in bad.stderr


def _nodes(server: ServerProcess) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}/api/v1/nodes", headers=manager())
    with urllib.request.urlopen(request, timeout=5.0) as answer:
        return {n["node"]: n for n in json.load(answer)["nodes"]}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_node_runs_reports_its_devices_and_stops_on_a_signal(tmp_path: Path, hall_file: Path,
                                                               server: ServerProcess, sig: signal.Signals) -> None:
    log_path = tmp_path / "node.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([PYTHON, "-m", "kiosk.cli", "node", "--config", str(hall_file), "--node", "kiosk-1",
                                 "--server", server.url, "--data", str(tmp_path / "node-data")],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            me = _nodes(server)["kiosk-1"]
            states = {d["device"]: d["state"] for d in me["devices"]}
            if me["online"] and states == {"idcard": "ready", "ticket_printer": "ready"}:
                break
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"the node never reported ready devices: {me}"
            time.sleep(0.1)
        proc.send_signal(sig)
        assert proc.wait(timeout=RUN_TIMEOUT_S) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "node-data" / "kiosk-1" / "outbox.sqlite3").exists()


def test_a_kiosks_ui_size_is_checked_in_words(hall_file: Path) -> None:
    wrong = _node("--config", str(hall_file), "--node", "kiosk-1", "--size", "big", "--headless")
    assert wrong.returncode == 1 and "could not parse size 'big'" in wrong.stderr and "WIDTHxHEIGHT" in wrong.stderr
