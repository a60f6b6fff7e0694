"""A headless Chromium driven over the Chrome DevTools protocol with aiohttp (no new dependency).

Debian's ``chromium`` is started with a fresh profile directory and ``--remote-debugging-port=0``; the
port it picked is read from the profile's ``DevToolsActivePort`` file, a page target is opened over
the /json HTTP endpoint and then driven over its WebSocket: navigate, evaluate, wait for a condition
(polled, with a generous bound: never a fixed sleep), click, type, screenshot. Everything it starts
(the browser process, its profile directory) is stopped and removed on exit, whatever happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost")  # no lookups off the box
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"  # git-ignored; kept after runs
START_TIMEOUT_S = 30.0
WAIT_TIMEOUT_S = 20.0


def screenshot_dir() -> Path:
    """Where browser tests save their screenshots for people (pytest's temporary folders are pruned by other runs)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots for people to look at: {SCREENSHOTS}")
    return SCREENSHOTS


class BrowserError(AssertionError):
    """The page did not do what the test waited for; the message says what and shows the page's text."""


class Page:
    """One tab: commands answered by id, events kept for ``wait_event``, page exceptions collected."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: list[dict[str, Any]] = []
        self._event_seen = asyncio.Event()
        self.exceptions: list[str] = []
        self._viewport = (1366, 768, False)
        self._reader = asyncio.create_task(self._read(), name="cdp reader")

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            item = json.loads(message.data)
            if "id" in item:
                future = self._answers.pop(item["id"], None)
                if future is not None and not future.done():
                    future.set_result(item)
            else:
                if item.get("method") == "Runtime.exceptionThrown":
                    details = item["params"]["exceptionDetails"]
                    self.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
                self._events.append(item)
                self._event_seen.set()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the page's connection"))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[call_id] = future
        await self._ws.send_json({"id": call_id, "method": method, "params": params})
        answer = await asyncio.wait_for(future, WAIT_TIMEOUT_S)
        if "error" in answer:
            raise BrowserError(f"{method} failed: {answer['error']}")
        return answer.get("result", {})

    async def wait_event(self, method: str, since: int = 0, timeout_s: float = WAIT_TIMEOUT_S) -> dict[str, Any]:
        """The first event ``method`` at or after position ``since`` of the event list."""
        return (await self._wait_event_at(method, since, timeout_s))[1]

    async def _wait_event_at(self, method: str, since: int, timeout_s: float = WAIT_TIMEOUT_S,
                             ) -> tuple[int, dict[str, Any]]:
        async with asyncio.timeout(timeout_s):
            while True:
                for index in range(since, len(self._events)):
                    if self._events[index].get("method") == method:
                        return index, self._events[index]
                self._event_seen.clear()
                await self._event_seen.wait()

    async def goto(self, url: str) -> None:
        mark = len(self._events)
        await self.send("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired", mark)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JS expression (promises awaited), as JSON."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout_s: float = WAIT_TIMEOUT_S) -> Any:
        """Poll a JS expression until it is truthy; on time-out say ``what`` was awaited and show the page."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            with contextlib.suppress(BrowserError):  # a navigation in between destroys the context: try again
                value = await self.evaluate(expression)
                if value:
                    return value
            if loop.time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText.slice(0, 3000) : ''")
                raise BrowserError(f"waited {timeout_s} s for {what}; the page shows:\n{text}")
            await asyncio.sleep(0.1)

    async def click(self, selector: str) -> None:
        found = await self.evaluate(f"(() => {{ const n = document.querySelector({json.dumps(selector)});"
                                    " if (!n) return false; n.click(); return true; })()")
        if not found:
            raise BrowserError(f"nothing to click at {selector!r}")

    async def type_into(self, selector: str, text: str) -> None:
        """Set an input's value as typing would (the input event fires)."""
        done = await self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); if (!n) return false;"
            f" n.focus(); n.value = {json.dumps(text)}; n.dispatchEvent(new Event('input', {{bubbles: true}}));"
            " return true; })()")
        if not done:
            raise BrowserError(f"no input at {selector!r}")

    async def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self._viewport = (width, height, mobile)
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=mobile)

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page (all of it when ``full_page``: the viewport is made as tall as the page for the
        shot, so the layout is the one a person scrolling would see), for people to look at."""
        width, height, mobile = self._viewport
        if full_page:
            tall = await self.evaluate("document.documentElement.scrollHeight")
            await self.send("Emulation.setDeviceMetricsOverride", width=width, height=max(height, tall),
                            deviceScaleFactor=1, mobile=mobile)
        try:
            shot = await self.send("Page.captureScreenshot", format="png")
        finally:
            if full_page:
                await self.viewport(width, height, mobile=mobile)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def allow_downloads(self, folder: Path) -> None:
        """Save what the page downloads (an ``<a download>`` clicked) into ``folder`` under its own name."""
        await self.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder), eventsEnabled=True)

    async def download(self, selector: str, folder: Path) -> Path:
        """Click a download link and return the finished file (its browser-chosen name, complete on disk)."""
        mark = len(self._events)
        await self.click(selector)
        begun = await self.wait_event("Browser.downloadWillBegin", mark)
        guid, name = begun["params"]["guid"], begun["params"]["suggestedFilename"]
        while True:
            index, progress = await self._wait_event_at("Browser.downloadProgress", mark)
            mark = index + 1
            if progress["params"]["guid"] == guid and progress["params"]["state"] in ("completed", "canceled"):
                break
        if progress["params"]["state"] != "completed":
            raise BrowserError(f"the download of {name} was cancelled")
        return folder / name

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Chromium:
    """``async with Chromium() as browser: page = await browser.new_page()``; stops and cleans up on exit."""

    def __init__(self, width: int = 1366, height: int = 768) -> None:
        self._size = (width, height)
        self._profile = Path(tempfile.mkdtemp(prefix="console-chromium-"))
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pages: list[Page] = []
        self._base = ""

    async def __aenter__(self) -> Chromium:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
            f"--window-size={self._size[0]},{self._size[1]}", "--lang=zh-CN", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)  # its own process group, so stopping it stops every helper it started
        marker = self._profile / "DevToolsActivePort"
        async with asyncio.timeout(START_TIMEOUT_S):
            while not (marker.exists() and marker.read_text().count("\n") >= 1):
                if self._proc.returncode is not None:
                    raise BrowserError(f"chromium exited with {self._proc.returncode} before it listened")
                await asyncio.sleep(0.05)
        port = int(marker.read_text().split("\n")[0])
        self._base = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()

    async def new_page(self) -> Page:
        assert self._http is not None
        async with self._http.put(f"{self._base}/json/new?about:blank") as answer:
            target = await answer.json()
        ws = await self._http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
        page = Page(ws)
        self._pages.append(page)
        for domain in ("Page", "Runtime"):
            await page.send(f"{domain}.enable")
        await page.viewport(*self._size)
        return page

    async def __aexit__(self, *exc: object) -> None:
        for page in self._pages:
            with contextlib.suppress(Exception):
                await page.close()
        if self._http is not None:
            await self._http.close()
        if self._proc is not None:
            await self._stop(self._proc)
        for _ in range(50):  # a helper may still be letting go of a file for a moment after the group is gone
            shutil.rmtree(self._profile, ignore_errors=True)
            if not self._profile.exists():
                return
            await asyncio.sleep(0.1)
        raise BrowserError(f"could not remove the browser profile {self._profile}")

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the browser's own process group (it and its zygote, renderers, crash handler), then
        SIGKILL to whatever of that group is left; only this browser's group, by its id."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10.0)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
