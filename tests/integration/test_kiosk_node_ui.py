"""The node with its touch UI, as ``servicehall node`` runs a kiosk, under SDL's dummy driver: taps posted as
pygame mouse events at the centres of the targets the view models place → a ticket printed on the simulator;
the number screen saved as a PNG and checked region by region."""

from __future__ import annotations

import os
from pathlib import Path

import pygame
import pytest

from config.loader import load_hall
from kiosk.flows.effects import Screen
from kiosk.flows.events import Button, Touch
from kiosk.node_ui import TouchUI, choose_video_driver
from screens import theme
from screens.kiosk_models import Target
from screens.snapshot import save
from tests.integration.server_support import ServerProcess
from tests.support.kiosk_rig import running_node
from tests.support.waiting import until

pytestmark = pytest.mark.slow


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return box[0] + box[2] // 2, box[1] + box[3] // 2


async def tap(ui: TouchUI, touch: Touch) -> None:
    """Wait until ``touch``'s target is on screen and the screen has settled, then press and lift a mouse
    button at its centre (the events a real click gives; the node's pump reads them)."""
    found: list[Target] = []

    def ready() -> bool:
        found[:] = [t for t in ui.screen.view.targets if t.touch == touch]
        return bool(found) and ui.screen.settled

    await until(ready, f"a settled screen with {touch} (now {ui.screen.view.screen.value})")
    pos = centre(found[0].box)
    for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
        assert pygame.event.post(pygame.event.Event(kind, pos=pos, button=1, touch=False))


def accent_share(surface: pygame.Surface, box: pygame.Rect) -> float:
    points = [(x, y) for x in range(box.left, box.right, 4) for y in range(box.top, box.bottom, 4)]
    return sum(1 for p in points if surface.get_at(p)[:3] == theme.ACCENT) / len(points)


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080)], ids=["portrait", "landscape"])
async def test_taps_on_the_nodes_touch_ui_print_a_ticket_and_draw_its_number(
        tmp_path: Path, hall_file: Path, server: ServerProcess, monkeypatch: pytest.MonkeyPatch,
        size: tuple[int, int]) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    assert choose_video_driver(os.environ, headless=False) == "dummy"  # no display: the dummy driver
    ui = TouchUI(load_hall(hall_file), "kiosk-1 under test", size)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node", ui=ui) as node:
        await tap(ui, Touch(Button.SERVICE, "A01"))  # a featured service on the home screen: one touch
        shown = await node.view.wait_for(Screen.NUMBER)
        paper = node.printer.tickets[-1]
        assert shown.number and shown.number in paper.text
        await until(lambda: ui.screen.view.screen is Screen.NUMBER
                    and ui.screen.renderer.last_view == ui.screen.view, "the number screen drawn")
        view = ui.screen.view
        png = save(ui.screen.surface, tmp_path / f"node-ui-number-{size[0]}x{size[1]}.png")
        print(f"\nthe node's number screen: {png}")
        image = pygame.image.load(str(png))
        assert image.get_size() == size
        assert view.number is not None and view.number.text == shown.number
        number_box = pygame.Rect(view.number.box)
        placed = ui.screen.renderer.placed["number"]
        assert number_box.contains(placed) and placed.height > 100
        assert accent_share(image, placed) > 0.05  # the digits are drawn, in the accent colour
        band = pygame.Rect(0, 0, size[0], view.header.box[3])
        assert image.get_at((band.right - 2, band.centery))[:3] == view.header.background
        assert accent_share(image, pygame.Rect(view.message.box)) == 0  # no stray number in the words
        reprint = next(t for t in view.targets if t.touch == Touch(Button.REPRINT))
        assert image.get_at((reprint.box[0] + 20, reprint.box[1] + reprint.box[3] // 2))[:3] == theme.ACCENT
        mark = len(node.view.shown)
        await tap(ui, Touch(Button.DONE))
        home = await node.view.wait_for(Screen.START, mark)
        assert Touch(Button.CHECK_IN) in home.choices
        assert len(node.printer.tickets) == 1  # one tap, one ticket: the mouse-up is not a second tap
