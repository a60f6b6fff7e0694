"""How long a citizen waits between a clerk's call and the first sound, and what a clip library costs.

Figures (SDL_AUDIODRIVER=dummy, which plays in real time like a sound card):
* announce() → first sound on an idle Speaker with a built clip library (the chime starts at once);
* baseline in the same run: espeak-ng synthesising the whole sentence in one go, then load and play;
* clip-library build time (46 espeak-ng runs + trimming, and the chime) against one whole-sentence synthesis;
* how long one sentence lasts either way.
Run: .venv/bin/python benchmarks/bench_speaker.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pygame

from devices.speaker.announcer import Speaker
from devices.speaker.clips import DEFAULT_SPEED, DEFAULT_VOICE, RATE, ClipLibrary, join
from devices.speaker.tts import Call

SENTENCE = "请 A 零一二 号 到 三 号窗口 办理"


async def first_sound_clips(clips: Path, runs: int) -> list[float]:
    """announce() to the moment the joined announcement starts playing, on an idle speaker."""
    out = []
    for i in range(runs):
        async with Speaker(f"espeak://?clips={clips}") as speaker:
            handle = await speaker.announce(f"A{i:03d}", 3)
            spoken = await handle.wait_started()
            out.append(spoken.started_at - spoken.queued_at)  # type: ignore[operator]
    return out


async def first_sound_whole_sentence(work: Path, runs: int) -> list[float]:
    """Baseline: synthesise the whole sentence with espeak-ng on each call, then load and play it."""
    out = []
    pygame.mixer.init(frequency=RATE, size=-16, channels=1, buffer=512)
    try:
        for i in range(runs):
            wav = work / f"sentence{i}.wav"
            start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                "espeak-ng", "-v", DEFAULT_VOICE, "-s", str(DEFAULT_SPEED), "-w", str(wav), SENTENCE)
            await proc.wait()
            sound = pygame.mixer.Sound(str(wav))
            sound.play()
            out.append(time.perf_counter() - start)
            sound.stop()
    finally:
        pygame.mixer.quit()
    return out


async def build_times(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            await ClipLibrary(tmp).build()
            out.append(time.perf_counter() - start)
    return out


async def whole_synthesis_times(work: Path, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            "espeak-ng", "-v", DEFAULT_VOICE, "-s", str(DEFAULT_SPEED), "-w", str(work / f"w{i}.wav"), SENTENCE)
        await proc.wait()
        out.append(time.perf_counter() - start)
    return out


def sentence_seconds(clips: Path, work: Path) -> tuple[float, float]:
    library = ClipLibrary(clips)
    joined = join(Call("A012", 3).tokens, library.load_sync())
    pygame.mixer.init(frequency=RATE, size=-16, channels=1, buffer=512)
    try:
        whole = pygame.mixer.Sound(str(work / "sentence0.wav")).get_length()
    finally:
        pygame.mixer.quit()
    return len(joined) / 2 / RATE, whole


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = work / "clips"
        await ClipLibrary(clips).build()
        clip_first = await first_sound_clips(clips, runs)
        whole_first = await first_sound_whole_sentence(work, runs)
        builds = await build_times(max(3, runs // 4))
        synth = await whole_synthesis_times(work, runs)
        clip_len, whole_len = sentence_seconds(clips, work)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.2f} ms"

    print(f"# speaker benchmark: {os.cpu_count()} cores, Linux {platform.release()}, "
          f"Python {platform.python_version()}, pygame {pygame.version.ver}, SDL {pygame.get_sdl_version()}")
    print("| measure | median |")
    print("| --- | --- |")
    print(f"| announce() → first sound, clip library ({runs} runs) | {ms(clip_first)} |")
    print(f"| announce() → first sound, whole-sentence espeak-ng per call [baseline] ({runs} runs) "
          f"| {ms(whole_first)} |")
    print(f"| clip-library build, 47 clips ({len(builds)} runs) | {ms(builds)} |")
    print(f"| one whole-sentence espeak-ng synthesis [baseline] ({runs} runs) | {ms(synth)} |")
    print(f"| one sentence lasts: clips joined / whole sentence | {clip_len:.2f} s / {whole_len:.2f} s |")


if __name__ == "__main__":
    asyncio.run(main())
