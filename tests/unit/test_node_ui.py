"""The node's touch UI wiring without a display: which SDL video driver, which window size."""

from __future__ import annotations

import pytest

from kiosk.node_ui import DEFAULT_SIZE, choose_video_driver, ui_size


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
