"""The clip library's checks and joins: broken clips are refused with words, recordings are kept."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

import pytest

from devices.speaker.clips import (
    RATE,
    ClipLibrary,
    ClipLibraryError,
    chime_pcm,
    default_clip_dir,
    join,
    read_clip,
    trim_silence,
    write_wav,
)
from devices.speaker.tts import CHIME, PAUSE, TOKENS


def tone(seconds: float, freq: float = 440.0, amp: int = 8000) -> bytes:
    return array.array("h", (int(amp * math.sin(2 * math.pi * freq * n / RATE))
                             for n in range(int(seconds * RATE)))).tobytes()


def write_raw(path: Path, pcm: bytes, rate: int = RATE, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(pcm)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_trim_cuts_silent_edges_and_keeps_the_sound() -> None:
    silence = bytes(int(0.3 * RATE) * 2)
    sound = tone(0.2)
    trimmed = trim_silence(silence + sound + silence)
    assert len(sound) <= len(trimmed) < len(sound) + int(0.06 * RATE) * 2
    assert sound[400:800] in trimmed
    assert trim_silence(silence) == silence  # nothing to keep: left alone, then refused as silent by read_clip


def test_chime_is_a_valid_clip(tmp_path: Path) -> None:
    path = tmp_path / "chime.wav"
    write_wav(path, chime_pcm())
    pcm = read_clip(path)
    assert len(pcm) == int(0.9 * RATE) * 2
    assert not list(tmp_path.glob(".*")), "the atomic write left a temporary file"


@pytest.mark.parametrize(("kind", "words"), [
    ("rate", "44100 Hz"), ("stereo", "2 channel"), ("short", "ms long"), ("silent", "is silent"),
    ("garbage", "not a readable WAV"), ("missing", "is missing"),
])
def test_broken_clips_are_refused_with_words(tmp_path: Path, kind: str, words: str) -> None:
    path = tmp_path / "qing.wav"
    if kind == "rate":
        write_raw(path, tone(0.3), rate=44100)
    elif kind == "stereo":
        write_raw(path, tone(0.3) * 2, channels=2)
    elif kind == "short":
        write_raw(path, tone(0.01))
    elif kind == "silent":
        write_raw(path, bytes(RATE))
    elif kind == "garbage":
        path.write_bytes(b"RIFF\x00\x00not a wave file at all")
    with pytest.raises(ClipLibraryError, match=words) as info:
        read_clip(path)
    assert "qing.wav" in str(info.value)
    if kind not in ("missing",):
        assert "sox" in str(info.value) or "delete" in str(info.value)


def test_wrong_voice_is_refused() -> None:
    with pytest.raises(ClipLibraryError, match="cmn-latn-pinyin"):
        ClipLibrary("/tmp/unused", voice="cmn")


def test_default_directory_is_per_voice_and_speed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_clip_dir("cmn-latn-pinyin", 160) == tmp_path / "servicehall/clips/cmn-latn-pinyin-s160"
    assert ClipLibrary(speed=200).directory == tmp_path / "servicehall/clips/cmn-latn-pinyin-s200"


def test_join_puts_gaps_between_clips_and_a_pause_between_repeats() -> None:
    clips = {"请": b"\x01\x00" * 100, "A": b"\x02\x00" * 50}
    pcm = join(["请", PAUSE, "A"], clips, gap_s=0.01, pause_s=0.1)
    gap, pause = int(0.01 * RATE) * 2, int(0.1 * RATE) * 2
    assert pcm == clips["请"] + bytes(gap) + bytes(pause) + clips["A"] + bytes(gap)
    with pytest.raises(ClipLibraryError, match="no voice clip for token 'B'"):
        join(["B"], clips)


async def test_missing_espeak_is_reported_with_the_remedy(tmp_path: Path) -> None:
    library = ClipLibrary(tmp_path, espeak="/nonexistent/espeak-ng")
    with pytest.raises(ClipLibraryError, match=r"espeak-ng is not installed.*apt-get install espeak-ng"):
        await library.load()


async def test_complete_library_needs_no_espeak_and_keeps_recordings(tmp_path: Path) -> None:
    """A library of recordings (here: tones) loads without espeak-ng and nothing in it is rewritten."""
    library = ClipLibrary(tmp_path, espeak="/nonexistent/espeak-ng")
    for i, token in enumerate(t for t in TOKENS.values() if t.id != PAUSE):
        write_raw(library.path(token), tone(0.05, 300 + 10 * i))
    before = snapshot(tmp_path)
    clips = await library.load()
    assert set(clips) == set(TOKENS) - {PAUSE}
    assert clips[CHIME] == before["chime.wav"][44:]
    assert snapshot(tmp_path) == before


async def test_incomplete_library_with_one_broken_clip_is_refused(tmp_path: Path) -> None:
    library = ClipLibrary(tmp_path, espeak="/nonexistent/espeak-ng")
    for token in (t for t in TOKENS.values() if t.id != PAUSE):
        write_raw(library.path(token), tone(0.05))
    write_raw(library.path(TOKENS["号窗口"]), tone(0.3), rate=16000)
    with pytest.raises(ClipLibraryError, match=r"hao_chuangkou\.wav is 16000 Hz"):
        await library.load()


def test_speaker_url_with_the_wrong_voice_is_refused() -> None:
    from devices.speaker.announcer import Speaker

    with pytest.raises(ClipLibraryError, match="reads Chinese characters as English"):
        Speaker("espeak://?voice=cmn")
