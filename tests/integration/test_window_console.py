"""``servicehall node --node window-1 --console`` on a pty: staff type letters, the real server acts, the screen
says so. The node runs as a child process exactly as staff start it; the test is the keyboard and the eyes.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server_support import ALLDAY_HALL, PIN, PYTHON, REPO, ServerProcess, kiosk, manager

WAIT_S = 30.0


class Terminal:
    """The console's pty: ``type`` a line, ``expect`` new text on the screen (bounded), everything seen kept."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, cwd=REPO, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.screen = ""
        self.read_upto = 0  # expect looks only at what came after its last match

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def expect(self, text: str, limit_s: float = WAIT_S) -> None:
        self.expect_first(text, limit_s=limit_s)

    def expect_first(self, *texts: str, limit_s: float = WAIT_S) -> str:
        """Whichever of ``texts`` appears first after the last match."""
        deadline = time.monotonic() + limit_s
        while True:
            found = [(self.screen.find(t, self.read_upto), t) for t in texts]
            hits = sorted((at, t) for at, t in found if at >= 0)
            if hits:
                at, text = hits[0]
                self.read_upto = at + len(text)
                return text
            left = deadline - time.monotonic()
            assert left > 0, f"none of {texts!r} appeared; the screen:\n{self.screen[-3000:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:
                    assert self.proc.poll() is None, f"the console exited:\n{self.screen}"

    def close(self, failed: bool = False) -> int:
        if failed:  # the test failed: no "q" will come
            self.proc.kill()
        try:
            return self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=WAIT_S)
            raise AssertionError(f"the console did not quit; the screen:\n{self.screen[-3000:]}") from None
        finally:
            os.close(self.master)


def http(server: ServerProcess, method: str, path: str, headers: dict[str, str],
         body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


BUSY = "请稍候，正在处理"


def press(term: Terminal, key: str, expected: str) -> None:
    """Type ``key`` as staff would: the stream may show what a request did before its answer is in, and a key
    pressed meanwhile is dropped with BUSY; the pad's next line says it takes keys again, and staff press once
    more (three tries)."""
    for _ in range(3):
        term.type(key)
        if term.expect_first(expected, BUSY) == expected:
            return
        term.expect("呼叫器 pad:")
    raise AssertionError(f"{key!r} was dropped three times")


def test_a_window_with_only_a_keyboard_signs_in_calls_and_finishes(server: ServerProcess, tmp_path: Path) -> None:
    ticket = http(server, "POST", "/api/v1/tickets", kiosk(1, "k-1"), {"service": "A01"})
    other = http(server, "POST", "/api/v1/tickets", kiosk(1, "k-2"), {"service": "A01"})
    term = Terminal([PYTHON, "-m", "kiosk.cli", "node", "--config", str(ALLDAY_HALL), "--node", "window-1",
                     "--server", server.url, "--data", str(tmp_path / "node"), "--console"])
    try:
        term.expect("1号窗口 console")
        term.expect("请输入工号并签到")
        term.type("n")
        term.expect("请先输入工号并签到")  # refused in words before signing in
        term.type("i")
        term.expect("工号 staff id:")
        term.type("s001")
        term.expect("密码 PIN:")
        term.type(PIN)
        term.expect("s001 签到成功")
        assert PIN not in term.screen, "the PIN was echoed"

        press(term, "n", f"【{ticket['number']}】 请{ticket['number']}号到1号窗口办理")
        assert http(server, "GET", f"/api/v1/tickets/{ticket['id']}", manager())["state"] == "called"
        press(term, "n", "未到，请过号或开始")  # the server's refusal, in words
        press(term, "p 2", "暂停服务：休息")
        press(term, "c", f"已呼叫 {ticket['number']}")
        press(term, "f", "欢迎办理")
        assert http(server, "GET", f"/api/v1/tickets/{ticket['id']}", manager())["state"] == "finished"

        press(term, "n", f"【{other['number']}】")
        press(term, "t B01", f"{other['number']}已转移")
        assert http(server, "GET", f"/api/v1/tickets/{other['id']}", manager())["service"] == "B01"
        press(term, "o", "1号窗口 暂停办理")
        term.type("q")
    except BaseException:
        term.close(failed=True)
        raise
    code = term.close()
    assert code == 0, term.screen[-3000:]
    windows = http(server, "GET", "/api/v1/windows", manager())["windows"]
    assert next(w for w in windows if w["number"] == 1)["staff"] == ""
