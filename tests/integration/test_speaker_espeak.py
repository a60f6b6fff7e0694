"""The real clip library: espeak-ng builds it, every clip is a valid WAV, and a real call plays."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from pathlib import Path

from devices.registry import open_device
from devices.speaker.announcer import Speaker
from devices.speaker.clips import RATE, ClipLibrary, join
from devices.speaker.tts import PAUSE, TOKENS
from devices.state import DeviceState


async def soxi(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec("soxi", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


def listing(directory: Path) -> tuple[list[Path], list[Path]]:
    """The library's WAV files, and any temporary (dot) files left behind."""
    return sorted(directory.glob("*.wav")), [p for p in directory.iterdir() if p.name.startswith(".")]


async def test_espeak_builds_a_valid_library_keeps_recordings_and_plays_a_call(tmp_path: Path) -> None:
    library = ClipLibrary(tmp_path, speed=260)
    # A "human recording" of 请 dropped in before the first build must survive it untouched.
    recorded = library.path(TOKENS["请"])
    with wave.open(str(recorded), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(array.array("h", (int(6000 * math.sin(n / 5)) for n in range(RATE // 4))).tobytes())
    original = recorded.read_bytes()

    built = await library.build()
    assert {t.id for t in built} == set(TOKENS) - {PAUSE, "请"}
    assert recorded.read_bytes() == original
    assert (tmp_path / "README.txt").is_file()
    wavs, hidden = listing(tmp_path)
    assert not hidden, "temporary files left behind"
    assert len(wavs) == len(TOKENS) - 1
    for path in wavs:
        with wave.open(str(path), "rb") as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (22050, 1, 2), path.name
            assert clip.getnframes() > RATE // 20, path.name
            samples = array.array("h", clip.readframes(clip.getnframes()))
        assert 3000 < max(map(abs, samples)) < 32000, f"{path.name} is too quiet or clips"
    rates = (await soxi("-r", *map(str, wavs))).split()
    assert set(rates) == {"22050"}
    durations = [float(d) for d in (await soxi("-D", *map(str, wavs))).split()]
    assert all(0.05 < d < 2.0 for d in durations), dict(zip((p.name for p in wavs), durations, strict=True))
    # espeak-ng's silent edges (about 0.3 s of a 0.7 s syllable) were trimmed from synthesised clips.
    assert float(await soxi("-D", str(library.path(TOKENS["三"])))) < 0.5

    async with open_device(f"espeak://?clips={tmp_path}&repeat=1&speed=260") as speaker:
        assert isinstance(speaker, Speaker)
        assert (await speaker.status()).state is DeviceState.READY
        handle = await speaker.announce("A012", 3)
        spoken = await handle.wait()
    assert spoken.complete and spoken.text == "请A零一二号到三号窗口办理"
    # The dummy driver plays in real time: the call took at least as long as its joined clips last.
    seconds = len(join(spoken.tokens, library.load_sync(), speaker.gap_s, speaker.pause_s)) / 2 / RATE
    assert seconds > 2.0
    assert spoken.ended_at - spoken.started_at >= 0.9 * seconds  # type: ignore[operator]
    assert speaker.spoken == [spoken]
