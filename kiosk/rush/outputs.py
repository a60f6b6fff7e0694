"""What a rush leaves in ``--out`` for people to look at: the printed tickets, the calls, the certificates, the wall.

- ``tickets/KIOSK-NNN.png``: every ticket each kiosk's simulated printer printed (devices/ticket_printer/render.py);
- ``announcements/NNN-NUMBER-wWINDOW.wav``: every call the speaker said, the same clips it played;
- ``certificates/KIOSK-NNN.pdf``: every PDF the simulated certificate printer received from CUPS;
- ``wall/live.json`` (GET /api/v1/stats/live at the end) and ``wall/wall.png``, a snapshot of the wall screen
  (``servicehall screen wall --snapshot``, a child process, so the hall's nodes never import the screens).
Personal data never reaches these files: tickets carry masked names, the figures none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

from config.model import NodeRole
from devices.speaker.announcer import Announcement, QueuedSpeaker, Speaker, Spoken
from devices.speaker.clips import join, wav_bytes
from kiosk.hall import RunningHall

__all__ = ["CallRecorder", "write_all"]

log = logging.getLogger(__name__)

TICKET_NUMBER = re.compile(r"[A-Z][0-9]{3,5}")
WALL_SNAPSHOT_AFTER_S = 4.0
WALL_TIMEOUT_S = 60.0


def _tickets(running: RunningHall, folder: Path) -> int:
    """Each ticket as a PNG, and ``printed.json``: the number each one shows, whole or torn off, reprint or not."""
    from devices.ticket_printer.render import save_ticket_png

    listed = []
    for name, runtime in running.runtimes.items():
        sim: Any = getattr(runtime.devices.get("ticket_printer"), "simulator", None)
        for i, ticket in enumerate(getattr(sim, "tickets", []), start=1):
            path = save_ticket_png(ticket, folder / f"{name}-{i:03d}.png")
            numbers = [line.text for line in ticket.lines if TICKET_NUMBER.fullmatch(line.text.strip())]
            listed.append({"file": path.name, "kiosk": name, "number": numbers[0].strip() if numbers else "",
                           "complete": ticket.cut and ticket.interrupted is None, "reprint": "补打" in ticket.text})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "printed.json").write_text(json.dumps(listed, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(listed)


def _certificates(running: RunningHall, folder: Path) -> int:
    count = 0
    for name, runtime in running.runtimes.items():
        sim: Any = getattr(runtime.devices.get("certificate_printer"), "simulator", None)
        for i, pdf in enumerate(getattr(sim, "spool", []), start=1):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}-{i:03d}.pdf").write_bytes(pdf)
            count += 1
    return count


def _speaker(running: RunningHall) -> Any:
    return next((rt.devices["speaker"] for rt in running.runtimes.values() if "speaker" in rt.devices), None)


class CallRecorder:
    """Every announcement the hall's speaker was asked to make during the rush (said or still queued at the end:
    the speaker says calls at talking speed, a sped-up rush calls faster than that)."""

    def __init__(self, running: RunningHall) -> None:
        self.spoken: list[Spoken] = []
        self.speaker = _speaker(running)
        if isinstance(self.speaker, QueuedSpeaker):
            announce = self.speaker.announce

            async def recorded(ticket_number: str, window: int, *, green: bool = False,
                               recall: bool = False) -> Announcement:
                item = await announce(ticket_number, window, green=green, recall=recall)
                self.spoken.append(item.spoken)
                return item

            self.speaker.announce = recorded  # type: ignore[method-assign]

    async def write(self, folder: Path) -> tuple[int, str]:
        """Each call as a WAV of the very clips the speaker plays; in words why not, without a sounding speaker."""
        speaker = self.speaker
        if speaker is None:
            return 0, "no node of the hall has a speaker"
        if not isinstance(speaker, Speaker):
            return 0, f"the hall's speaker is {speaker.address.url}, which makes no sound to keep"
        clips = await speaker.library.load()
        sounds = [(f"{i:03d}-{s.call.ticket}-w{s.call.window}.wav",
                   wav_bytes(join(s.tokens, clips, speaker.gap_s, speaker.pause_s)))
                  for i, s in enumerate(self.spoken, start=1)]
        count = await asyncio.to_thread(_write_files, folder, sounds)
        said = sum(1 for s in self.spoken if s.started_at is not None)
        return count, f"{count} calls announced, {said} of them said before the rush ended"


def _write_files(folder: Path, files: list[tuple[str, bytes]]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
    return len(files)


async def _wall_snapshot(running: RunningHall, path: Path) -> str:
    node = next((n for n in running.hall.nodes if n.role is NodeRole.DISPLAY and n.demo_token
                 and "speaker" not in n.devices), None)
    if node is None:
        return "no display node without a speaker to draw the wall as"
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kiosk.cli", "screen", "wall", "--config", str(running.options.config),
        "--node", node.name, "--server", running.server_url, "--snapshot", str(path),
        "--exit-after", str(WALL_SNAPSHOT_AFTER_S), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), WALL_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return "the wall screen did not finish its snapshot in time"
    if proc.returncode != 0 or not await asyncio.to_thread(path.exists):
        return f"the wall screen failed: {err.decode(errors='replace')[-300:]}"
    return str(path)


async def write_all(running: RunningHall, calls: CallRecorder, summary: dict[str, Any]) -> dict[str, Any]:
    """Write every file; what was written, counted, for the summary."""
    out = running.options.out
    out.mkdir(parents=True, exist_ok=True)
    tickets = await asyncio.to_thread(_tickets, running, out / "tickets")
    certificates = _certificates(running, out / "certificates")
    sounds, sound_words = await calls.write(out / "announcements")
    wall = out / "wall"
    wall.mkdir(parents=True, exist_ok=True)
    (wall / "live.json").write_text(json.dumps(summary.get("live", {}), ensure_ascii=False, indent=2),
                                    encoding="utf-8")
    snapshot = await _wall_snapshot(running, wall / "wall.png")
    return {"ticket_pngs": tickets, "certificate_pdfs": certificates, "announcement_wavs": sounds,
            "announcements": sound_words, "wall_figures": str(wall / "live.json"), "wall_snapshot": snapshot}
