"""The Speaker really plays through pygame.mixer (SDL_AUDIODRIVER=dummy plays in real time).

These tests are about queueing and faults, so they use a synthetic library of 40 ms tones: one
announcement lasts well under a second instead of the ten seconds of the real espeak-ng voice.
"""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import wave
from pathlib import Path

import pytest

from devices.errors import DeviceDisconnected, DeviceStatusError
from devices.registry import open_device
from devices.speaker.announcer import Speaker
from devices.speaker.clips import RATE, ClipLibrary
from devices.speaker.tts import PAUSE, TOKENS
from devices.state import DeviceState


def write_tone_library(directory: Path, seconds: float = 0.04) -> None:
    library = ClipLibrary(directory)
    for i, token in enumerate(t for t in TOKENS.values() if t.id != PAUSE):
        freq = 300 + 15 * i
        pcm = array.array("h", (int(9000 * math.sin(2 * math.pi * freq * n / RATE))
                                for n in range(int(seconds * RATE)))).tobytes()
        with wave.open(str(library.path(token)), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm)


@pytest.fixture
def tones(tmp_path: Path) -> Path:
    write_tone_library(tmp_path)
    return tmp_path


def quick(directory: Path, repeat: int = 1) -> Speaker:
    return Speaker(f"espeak://?clips={directory}&repeat={repeat}", gap_s=0.01, pause_s=0.05,
                   espeak="/nonexistent/espeak-ng")


async def test_three_quick_calls_come_out_in_order_whole_and_never_overlapping(tones: Path) -> None:
    async with quick(tones, repeat=2) as speaker:
        assert (await speaker.status()).state is DeviceState.READY
        handles = [await speaker.announce("A012", 3), await speaker.announce("A013", 12),
                   await speaker.announce("G001", 1, green=True)]
        assert speaker.speaking is not None or speaker.pending == 3
        spoken = [await h.wait() for h in handles]
    assert [s.call.ticket for s in speaker.spoken] == ["A012", "A013", "G001"]
    assert all(s.complete for s in spoken)
    for s in spoken:
        assert s.queued_at <= s.started_at < s.ended_at  # type: ignore[operator]
        # It really played: a real-time driver takes at least as long as the sound (>= 20 tokens of 40 ms).
        assert s.ended_at - s.started_at >= 20 * 0.04  # type: ignore[operator]
    for before, after in itertools.pairwise(spoken):
        assert before.ended_at <= after.started_at  # type: ignore[operator]


async def test_a_call_in_progress_is_not_cut_off_by_a_new_one(tones: Path) -> None:
    async with quick(tones) as speaker:
        first = await speaker.announce("A001", 1)
        await first.wait_started()
        second = await speaker.announce("A002", 2)
        assert speaker.speaking is not None
        assert speaker.speaking.call.ticket == "A001"
        one, two = await first.wait(), await second.wait()
    assert one.complete and two.complete and one.ended_at <= two.started_at  # type: ignore[operator]


async def test_close_mid_announcement_stops_and_leaves_no_task(tones: Path) -> None:
    import pygame

    mixer_before = pygame.mixer.get_init()  # None unless something else in the process opened it
    speaker = quick(tones, repeat=5)
    await speaker.open()
    playing = await speaker.announce("A001", 1)
    waiting = await speaker.announce("A002", 2)
    await playing.wait_started()
    await speaker.close()
    await speaker.close()  # idempotent
    with pytest.raises(DeviceDisconnected, match="closed while saying"):
        await playing.wait()
    with pytest.raises(DeviceDisconnected, match="before this call was said"):
        await waiting.wait()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("speaker")]
    assert pygame.mixer.get_init() == mixer_before, "the speaker left the mixer open"


async def test_mixer_that_cannot_open_is_a_fault_in_words(tones: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "nosuchdriver")
    async with open_device(f"espeak://?clips={tones}") as speaker:
        status = await speaker.status()
        assert status.state is DeviceState.FAULT
        assert "cannot open the sound output" in status.reason and "nosuchdriver" in status.reason
        with pytest.raises(DeviceStatusError, match="cannot announce A001"):
            await speaker.announce("A001", 1)


async def test_missing_espeak_with_an_empty_library_is_a_fault_in_words(tmp_path: Path) -> None:
    async with Speaker(f"espeak://?clips={tmp_path}", espeak="/nonexistent/espeak-ng") as speaker:
        status = await speaker.status()
    assert status.state is DeviceState.FAULT
    assert "espeak-ng is not installed" in status.reason and "apt-get install espeak-ng" in status.reason


async def test_broken_clip_library_is_refused_with_words(tones: Path) -> None:
    (tones / "digit_7.wav").write_bytes(b"")
    async with quick(tones) as speaker:
        status = await speaker.status()
    assert status.state is DeviceState.FAULT
    assert "digit_7.wav" in status.reason
