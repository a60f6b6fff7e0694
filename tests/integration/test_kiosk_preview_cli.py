"""``servicehall screen kiosk --snapshot``: a county kiosk's start screen, run as a technician runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygame
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "servicehall"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "kiosk.cli"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
COUNTY = ROOT / "config" / "samples" / "county_hall.toml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "screen", "kiosk", *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=ENV, check=False)


@pytest.mark.parametrize("size", ["1080x1920", "1920x1080"])
def test_the_start_screen_of_a_kiosk_is_written_as_a_png(size: str, tmp_path: Path) -> None:
    out = tmp_path / f"kiosk-1-{size}.png"
    run = cli("--config", str(COUNTY), "--node", "kiosk-1", "--size", size, "--snapshot", str(out))
    assert run.returncode == 0, run.stderr
    assert str(out) in run.stdout
    image = pygame.image.load(str(out))
    assert image.get_size() == tuple(int(n) for n in size.split("x"))
    colours = {image.get_at((x, y))[:3] for x in range(0, image.get_width(), 40)
               for y in range(0, image.get_height(), 40)}
    assert len(colours) > 3  # drawn, not a blank frame


def test_a_node_that_is_not_a_kiosk_is_refused_with_the_kiosks_named(tmp_path: Path) -> None:
    run = cli("--config", str(COUNTY), "--node", "window-1", "--snapshot", str(tmp_path / "x.png"))
    assert run.returncode == 1
    assert "no kiosk node named 'window-1'" in run.stderr and "kiosk-1" in run.stderr
    assert not (tmp_path / "x.png").exists()
    bad = cli("--config", str(COUNTY), "--node", "kiosk-1", "--size", "big", "--snapshot", str(tmp_path / "y.png"))
    assert bad.returncode == 1 and "WIDTHxHEIGHT" in bad.stderr
