"""The keyboard console of a window terminal: a window with only a PC works like one with a call pad.

A plain line-based terminal UI (it works the same in a real terminal, over ssh, in tmux and through a pipe):
one letter and Enter per action, drives the very window_calls flow the pad drives (as PadKey events with
the console's own sequence numbers, session 0, so the two never collide), and prints what the window's LED
display and the pad's line show whenever they change. A call pad and rating pad in the node's config keep
working alongside.

    n 叫号 call next    r 重呼 recall     s 过号 skip       a 开始办理 start
    t 转移 transfer     p 暂停 pause      c 恢复 resume     f 办结 finish
    i 签到 sign in      o 签退 sign out   q 退出 quit
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
from typing import Any, TextIO

from devices.bus485.registers import Key
from kiosk.flows import window_calls as wc
from kiosk.flows.window_io import PadKey, SignInTyped
from kiosk.flows.window_words import PAUSE_REASONS
from kiosk.node import NodeRuntime
from kiosk.window_node import WindowNode

__all__ = ["KEYS", "WindowConsole"]

#: console letter → the pad key it stands for
KEYS: dict[str, Key] = {"n": Key.CALL_NEXT, "r": Key.RECALL, "s": Key.SKIP, "a": Key.START, "t": Key.TRANSFER,
                        "p": Key.PAUSE, "c": Key.RESUME, "f": Key.FINISH, "o": Key.SIGN_OUT}
HELP = ("n 叫号  r 重呼  s 过号  a 开始办理  t 转移  p 暂停  c 恢复  f 办结  i 签到  o 签退  q 退出 "
        "(a letter, then Enter)")


class WindowConsole:
    """The window behaviour with a terminal on top: ``servicehall node --node window-N --console``."""

    def __init__(self, runtime: NodeRuntime, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.runtime = runtime
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout
        self.node = WindowNode(runtime, on_state=self._render)
        self.seq = 0
        self._shown: tuple[Any, ...] | None = None
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._pending = b""

    async def on_event(self, event: dict[str, Any]) -> None:
        await self.node.on_event(event)

    async def run(self) -> None:
        """The window node and the keyboard together; ``q`` (or the end of input) stops the node."""
        loop = asyncio.get_running_loop()
        loop.add_reader(self.stdin.fileno(), self._readable)
        node = asyncio.create_task(self.node.run(), name="window node")
        try:
            self._say(f"{self.node.ctx.window}号窗口 console. {HELP}")
            self._render(self.node.state)
            await self._keys()
        finally:
            loop.remove_reader(self.stdin.fileno())
            node.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await node
        self.runtime.stop()

    def _readable(self) -> None:
        """Bytes from the terminal (read raw, so several lines typed or piped at once are all seen)."""
        data = os.read(self.stdin.fileno(), 4096)
        if not data:
            self._lines.put_nowait(None)
            return
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self._lines.put_nowait(line.decode("utf-8", "replace").strip())

    async def _ask(self, prompt: str, *, secret: bool = False) -> str | None:
        with self._no_echo(secret):  # before the prompt: whatever is typed after it is not echoed
            self.out.write(prompt)
            self.out.flush()
            answer = await self._lines.get()
        if secret:
            self.out.write("\n")
        return answer

    @contextlib.contextmanager
    def _no_echo(self, secret: bool) -> Any:
        """Hide a PIN as it is typed when the console is a terminal (a pipe echoes nothing anyway)."""
        fd = self.stdin.fileno()
        if not secret or not self.stdin.isatty():
            yield
            return
        before = termios.tcgetattr(fd)
        quiet = list(before)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, before)

    async def _keys(self) -> None:
        while True:
            line = await self._lines.get()
            if line is None or line == "q":
                return
            if not line:
                continue
            letter = line[0].lower()
            if letter == "i":
                staff = await self._ask("工号 staff id: ")
                pin = await self._ask("密码 PIN: ", secret=True) if staff else None
                if staff and pin is not None:
                    self.node.feed(SignInTyped(staff, pin))
            elif letter in KEYS:
                arg = await self._arg(KEYS[letter], line[1:].strip())
                if arg is not None:
                    self.seq += 1
                    self.node.feed(PadKey(KEYS[letter], arg, self.seq, session=0))
            else:
                self._say(HELP)

    async def _arg(self, key: Key, given: str) -> int | None:
        """The pad's arg for a transfer (a window number or a service code) or a pause (the reason's number)."""
        ctx = self.node.ctx
        if key is Key.TRANSFER:
            target = given or await self._ask("转往窗口号或业务代码 window or service (e.g. 5 or A01): ") or ""
            if target.isdigit():
                return int(target)
            if target.upper() in ctx.services:
                return wc.SERVICE_TARGET_BASE + ctx.services.index(target.upper()) + 1
            self._say(f"没有这个窗口或业务 no window or service {target!r}")
            return None
        if key is Key.PAUSE:
            reasons = " ".join(f"{n} {r}" for n, r in PAUSE_REASONS.items())
            reason = given or await self._ask(f"暂停原因 reason ({reasons}): ") or ""
            return int(reason) if reason.isdigit() else 0
        return 0

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _render(self, state: wc.WindowCalls) -> None:
        """One line whenever what the display or the pad shows changes."""
        display, (line, _leds) = wc.display_of(state), wc.pad_line_of(state)
        shown = (display.number, display.text, display.state, line)
        if shown == self._shown:
            return
        self._shown = shown
        number = f"【{display.number}】 " if display.number else ""
        self._say(f"显示屏 display: {number}{display.text} | 呼叫器 pad: {line}")
