"""The node's touch UI wiring without a display: which SDL video driver, which window size."""

from __future__ import annotations

import pytest

from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from kiosk.node import SERVER_BACK, SERVER_UNREACHABLE
from kiosk.node_ui import ACTIVE_S, DEFAULT_SIZE, IDLE_HZ, PUMP_HZ, TouchUI, choose_video_driver, ui_size
from tests.support.kiosk_flows import hall


@pytest.mark.parametrize(("environ", "headless", "driver"), [
    ({}, False, "dummy"),  # no display at all: headless without being asked
    ({"DISPLAY": ":0"}, False, ""),  # an X display: SDL picks its driver
    ({"WAYLAND_DISPLAY": "wayland-0"}, False, ""),
    ({"DISPLAY": ":0"}, True, "dummy"),  # --headless wins over a display
    ({"SDL_VIDEODRIVER": "kmsdrm"}, False, "kmsdrm"),  # a technician's choice (a kiosk on the console) is kept
    ({"SDL_VIDEODRIVER": "kmsdrm"}, True, "dummy"),
])
def test_the_video_driver_is_dummy_without_a_display_or_when_headless(environ: dict[str, str], headless: bool,
                                                                      driver: str) -> None:
    env = dict(environ)
    assert choose_video_driver(env, headless) == driver
    assert env.get("SDL_VIDEODRIVER", "") == driver


def test_the_window_size() -> None:
    assert ui_size("", fullscreen=False) == DEFAULT_SIZE == (1080, 1920)
    assert ui_size("", fullscreen=True) == (0, 0)  # the panel's own resolution
    assert ui_size("1920x1080", fullscreen=True) == (1920, 1080)
    with pytest.raises(ValueError, match="could not parse size '1920'"):
        ui_size("1920", fullscreen=False)


def test_the_server_link_is_said_over_the_screen_and_taken_away_when_it_is_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    ui = TouchUI(hall(), "test", (1080, 1920))
    try:
        ui.show(Show(Screen.START, choices=(Touch(Button.SERVICE, "A01"),)))
        ui.server_link(False, SERVER_UNREACHABLE)
        assert ui.screen.view.header.zh == SERVER_UNREACHABLE.zh
        ui.screen.pump()
        drawn = [text for text, _ in ui.screen.renderer.painter.drawn]
        assert any(SERVER_UNREACHABLE.zh.startswith(text) for text in drawn)
        ui.server_link(True, SERVER_BACK)
        assert ui.screen.view.header.zh == "自助取号"
    finally:
        ui.close()


def test_the_pump_slows_down_when_nobody_uses_the_kiosk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    now = [100.0]
    ui = TouchUI(hall(), "test", (1080, 1920), clock=lambda: now[0])
    try:
        assert ui.period_s() == 1 / PUMP_HZ
        now[0] += ACTIVE_S + 0.1
        assert ui.period_s() == 1 / IDLE_HZ
        ui.show(Show(Screen.START))  # a new screen: someone may be about to touch it
        assert ui.period_s() == 1 / PUMP_HZ
    finally:
        ui.close()
