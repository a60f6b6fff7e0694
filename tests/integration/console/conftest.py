"""What the console's tests share: a real server per test, a headless Chromium page, the API as a node sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import PIN, ServerProcess
from tests.support.cdp import Chromium, Page, screenshot_dir


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as running:
        yield running


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A fresh browser (its own profile) per test; a test fails if the page threw."""
    async with Chromium() as browser:
        opened = await browser.new_page()
        yield opened
        assert opened.exceptions == [], f"the page threw: {opened.exceptions}"


@pytest.fixture
async def api() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
def shots() -> Path:
    return screenshot_dir()


async def call(api: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
               body: dict[str, Any] | None = None) -> Any:
    """A node's request that must succeed; its JSON answer."""
    async with api.request(method, url, headers=headers, json=body) as answer:
        assert answer.status < 300, await answer.text()
        return await answer.json()


async def sign_in_page(page: Page, server: ServerProcess, staff: str = "s001", pin: str = PIN) -> None:
    """Fill the sign-in form and submit it (the demo manager by default)."""
    await page.goto(f"{server.url}/manage/sign-in")
    await page.type_into("#staff", staff)
    await page.type_into("#pin", pin)
    await page.click("#pin-submit")


async def dashboard(page: Page, server: ServerProcess) -> None:
    """Signed in as the demo manager, on the dashboard with every section read once and the stream live;
    ``window.__notReloaded`` is set so a test can tell the page was never reloaded."""
    await sign_in_page(page, server)
    await page.wait_for("location.pathname === '/manage' && document.body.dataset.ready !== undefined",
                        "the dashboard read and live")
    await page.evaluate("window.__notReloaded = true")
