"""The wall and counter screens drawn under SDL's dummy driver: PNGs for people, regions and glyphs for tests,
and one wall fed by a real server over its WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from pathlib import Path

import aiohttp
import pygame
import pytest

from screens.feed import Feed, stop
from screens.models import HallState, wall_view, window_view
from screens.snapshot import save
from screens.wall import WallRenderer
from screens.widgets import missing_glyphs
from screens.window import WindowRenderer
from tests.integration.server_support import ServerProcess, kiosk, sign_in, window
from tests.support.screen_stream import TZ, busy_state

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
OPEN = ("正在办理", "open")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = tmp_path / "screens"
    out.mkdir()
    print(f"\nscreen snapshots for people to look at: {out}")
    return out


def no_tofu(drawn: list[tuple[str, pygame.Rect]]) -> None:
    assert drawn
    for text, _ in drawn:
        assert missing_glyphs(text) == [] and missing_glyphs(text, bold=True) == [], text


def inside(inner: pygame.Rect, outer: pygame.Rect) -> bool:
    return outer.contains(inner) and inner.width > 0


def drawn_pixels(surface: pygame.Surface, rect: pygame.Rect, colour: tuple[int, int, int]) -> int:
    return sum(1 for x in range(rect.left, rect.right, 2) for y in range(rect.top, rect.bottom, 2)
               if surface.get_at((x, y))[:3] == colour)


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160), (1080, 1920)], ids=["1080p", "4k", "portrait"])
def test_wall_draws_every_called_number_inside_its_column(size: tuple[int, int], shots: Path) -> None:
    state, t = busy_state(services=4, windows=12, calling=8)
    surface = pygame.Surface(size)
    renderer = WallRenderer(surface)
    view = wall_view(state, dt.datetime.fromtimestamp(t + 2, TZ), OPEN, renderer.layout.max_columns)
    renderer.draw(view)
    path = save(surface, shots / f"wall-{size[0]}x{size[1]}.png")
    assert path.stat().st_size > 10_000
    calling = renderer.layout.boxes["calling"]
    columns = {c.number: c for c in view.columns}
    numbers = {text for text, _ in renderer.painter.drawn}
    for w in range(1, 9):
        first = renderer.placed[f"call:{w}:0"]
        assert inside(first, calling)
        assert columns[w].calls[0].number in numbers
        for j in range(1, len(columns[w].calls)):  # older calls sit under the newest, in the same column
            older = renderer.placed[f"call:{w}:{j}"]
            assert older.top >= first.bottom and abs(older.centerx - first.centerx) <= 2
        # the highlighted number really is drawn there, in the accent colour
        from screens import theme
        assert drawn_pixels(surface, first, theme.ACCENT) > 20
    # columns do not overlap each other
    firsts = [renderer.placed[f"call:{w}:0"] for w in range(1, 9)]
    assert all(not a.colliderect(b) for i, a in enumerate(firsts) for b in firsts[i + 1:])
    no_tofu(renderer.painter.drawn)


def test_wall_repaints_only_what_changed(shots: Path) -> None:
    state, t = busy_state()
    surface = pygame.Surface((1920, 1080))
    renderer = WallRenderer(surface)
    now = dt.datetime.fromtimestamp(t + 2, TZ)
    first = renderer.draw(wall_view(state, now, OPEN, 10), tick=0)
    assert first == [surface.get_rect()]
    assert renderer.draw(wall_view(state, now, OPEN, 10), tick=1) == []  # nothing changed: nothing drawn
    later = now + dt.timedelta(seconds=1)
    assert renderer.draw(wall_view(state, later, OPEN, 10), tick=2) == [renderer.layout.boxes["header"]]
    state.lost(later.timestamp() - 10)
    dirty = renderer.draw(wall_view(state, later, OPEN, 10), tick=3)
    assert dirty == [renderer.layout.boxes["header"]]
    save(surface, shots / "wall-stale.png")
    assert any(text.startswith("数据未更新（") for text, _ in renderer.painter.drawn)
    no_tofu(renderer.painter.drawn)


def test_wall_with_200_services_pages_them_and_draws_no_tofu(shots: Path) -> None:
    state, t = busy_state(services=200, windows=24, calling=10)
    surface = pygame.Surface((1920, 1080))
    renderer = WallRenderer(surface)
    renderer.draw(wall_view(state, dt.datetime.fromtimestamp(t, TZ), OPEN, 10), tick=0)
    save(surface, shots / "wall-200-services.png")
    titles = [text for text, _ in renderer.painter.drawn if text.startswith("等候情况")]
    assert titles and titles[0].endswith("（1/29）"), titles
    services = renderer.layout.boxes["services"]
    assert all(inside(rect, services) for text, rect in renderer.painter.drawn if text.startswith("综合事项"))
    no_tofu(renderer.painter.drawn)


@pytest.mark.parametrize("size", [(800, 480), (1280, 400)], ids=["800x480", "1280x400"])
@pytest.mark.parametrize("which", ["serving", "paused-stale"])
def test_window_screens(size: tuple[int, int], which: str, shots: Path) -> None:
    state, t = busy_state()
    number = 3
    if which == "paused-stale":
        number = 12
        state.windows[12].reason = "系统维护"
        state.lost(t)
        t += 60
    state.upcoming[number] = ("A007", "B007", "C007")
    surface = pygame.Surface(size)
    renderer = WindowRenderer(surface)
    view = window_view(state, number, dt.datetime.fromtimestamp(t, TZ), OPEN)
    assert renderer.draw(view) == [surface.get_rect()]
    assert renderer.draw(view) == []
    save(surface, shots / f"window-{which}-{size[0]}x{size[1]}.png")
    texts = [text for text, _ in renderer.painter.drawn]
    if which == "serving":
        assert "C005" in texts and inside(renderer.placed["serving"], surface.get_rect())
        assert renderer.placed["serving"].height >= size[1] // 4  # the served number dominates the screen
    else:
        assert any("系统维护" in text for text in texts)
        assert any(text.startswith("数据未更新（") for text in texts)
    no_tofu(renderer.painter.drawn)


async def test_a_ticket_called_through_the_api_reaches_the_wall_through_the_real_feed(tmp_path: Path) -> None:
    state = HallState()
    changed = asyncio.Event()
    with ServerProcess(tmp_path / "data") as server:
        feed = Feed(server.url, "demo-display", state, on_change=changed.set)
        task = asyncio.create_task(feed.run())
        try:
            await _until(lambda: state.connected, changed)
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1, "wall-1"),
                                        json={"service": "B01"}) as answer:
                    assert answer.status in (200, 201), await answer.text()
                    ticket = await answer.json()
                await sign_in(session, server, 4)
                async with session.post(f"{server.url}/api/v1/windows/4/call-next", headers=window(4, "wall-2"),
                                        json={}) as answer:
                    assert answer.status == 200, await answer.text()
            await _until(lambda: bool(state.windows.get(4) and state.windows[4].serving == ticket["number"]),
                         changed)
            now = dt.datetime.now(TZ)
            view = wall_view(state, now, OPEN)
            column = next(c for c in view.columns if c.number == 4)
            assert column.calls[0].number == ticket["number"] and column.calls[0].highlighted
            await _until(lambda: any(s.get("service") == "B01" for s in state.live.get("services", ())), changed)
            assert view.header.stale_zh == ""
            # the server goes away: the wall says so; it comes back: the wall resumes without a duplicate
            last = state.last_event_id
            server.stop()
            await _until(lambda: not state.connected, changed)
            port = server.port
            server.start(same_port=True)
            assert server.port == port, "the restarted server took another port; the feed cannot follow it"
            # the feed's back-off is capped at 10 s, and a restart on a loaded machine takes seconds more
            await _until(lambda: state.connected and feed.connects >= 2, changed, timeout_s=60.0)
            assert state.last_event_id >= last and [n for n, _ in state.windows[4].calls].count(ticket["number"]) == 1
        finally:
            await stop(task)


async def _until(condition, changed: asyncio.Event, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for the feed to make ``condition`` true (bounded, so a broken feed fails rather than hangs)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 1.0)
