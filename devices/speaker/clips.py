"""The clip library: one WAV per token, synthesised offline by espeak-ng, replaceable by recordings.

Halls cannot reach online TTS, and a whole-sentence TTS call per announcement makes every call wait
for synthesis; so each token is synthesised once (``espeak-ng -v cmn-latn-pinyin``, never ``cmn``,
which reads hanzi as English words) into a cache directory, trimmed of its silent edges, and calls
are joined from those clips. A file already in the directory is never overwritten, so a human
recording dropped in under the same name (22050 Hz mono 16-bit WAV) replaces the synthetic voice.
"""

from __future__ import annotations

import array
import asyncio
import io
import logging
import math
import os
import shutil
import sys
import tempfile
import uuid
import wave
from pathlib import Path

from devices.errors import DeviceError
from devices.speaker.tts import CHIME, PAUSE, TOKENS, Token

log = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "DEFAULT_SPEED",
    "DEFAULT_VOICE",
    "RATE",
    "SAMPLE_WIDTH",
    "ClipLibrary",
    "ClipLibraryError",
    "chime_pcm",
    "default_clip_dir",
    "join",
    "read_clip",
    "trim_silence",
    "wav_bytes",
    "write_wav",
]

RATE = 22050
SAMPLE_WIDTH = 2
CHANNELS = 1
DEFAULT_VOICE = "cmn-latn-pinyin"
DEFAULT_SPEED = 160  # espeak-ng words per minute; its default 175 runs digits together
_WRONG_VOICES = {"cmn", "zh", "zh-cmn", "sit/cmn", "mandarin"}
_MIN_FRAMES = RATE * 30 // 1000  # a clip shorter than 30 ms is no word
_MIN_PEAK = 300  # of 32767: below this the clip is silence
_TRIM_LEVEL = 600
_AMPLITUDE = 70  # espeak-ng -a (default 100, at which 二, R and Y reach full scale and clip)
_README = """Voice clips for servicehall announcements (语音叫号).

Each file is one token of a call ("请", "A", "零", "号窗口" …), synthesised by espeak-ng.
To use a human voice, replace any file by a recording of the same name:
WAV, 22050 Hz, mono, 16-bit (convert with: sox in.wav -r 22050 -c 1 -b 16 NAME.wav).
Files already here are never overwritten; delete one to have it synthesised again.
"""


class ClipLibraryError(DeviceError):
    """The clip library cannot be built or a clip in it is unusable; the words say which and what to do."""


def default_clip_dir(voice: str = DEFAULT_VOICE, speed: int = DEFAULT_SPEED) -> Path:
    """Per-user cache, one directory per voice and speed, so changing either never mixes clips."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "servicehall" / "clips" / f"{voice.replace('/', '_')}-s{speed}"


def _samples(pcm: bytes) -> array.array[int]:
    samples = array.array("h", pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _pcm(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def trim_silence(pcm: bytes, level: int = _TRIM_LEVEL, lead_s: float = 0.015, tail_s: float = 0.04) -> bytes:
    """Cut espeak-ng's silent lead-in and tail (about 0.3 s per clip) so joined digits flow like speech."""
    samples = _samples(pcm)
    loud = [i for i, v in enumerate(samples) if abs(v) > level]
    if not loud:
        return pcm
    start = max(0, loud[0] - int(lead_s * RATE))
    end = min(len(samples), loud[-1] + int(tail_s * RATE))
    return _pcm(samples[start:end])


def chime_pcm(seconds: float = 0.9) -> bytes:
    """A two-note "ding-dong" (E5 then C5, bell-like decay) that makes waiting citizens look up."""
    out = array.array("h")
    for freq, start, length in ((659.25, 0.0, 0.42), (523.25, 0.38, seconds - 0.38)):
        first = int(start * RATE)
        while len(out) < first + int(length * RATE):
            out.append(0)
        for n in range(int(length * RATE)):
            t = n / RATE
            env = math.exp(-4.0 * t) * min(1.0, t / 0.005)
            value = env * (0.8 * math.sin(2 * math.pi * freq * t) + 0.2 * math.sin(4 * math.pi * freq * t))
            out[first + n] = max(-32767, min(32767, out[first + n] + int(value * 14000)))
    return _pcm(out)


def wav_bytes(pcm: bytes) -> bytes:
    """A complete in-memory WAV of library-format PCM, for pygame to load (and convert) in one call."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return buf.getvalue()


def write_wav(path: Path, pcm: bytes) -> None:
    """Write atomically (temp file + rename), so a crash or a second builder never leaves half a clip."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(wav_bytes(pcm))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_clip(path: Path) -> bytes:
    """The clip's PCM, or ClipLibraryError saying what is wrong with it and how to fix it."""
    fix = (f"delete {path} to have it synthesised again, or record it as 22050 Hz mono 16-bit WAV "
           f"(sox in.wav -r 22050 -c 1 -b 16 {path.name})")
    try:
        with wave.open(str(path), "rb") as clip:
            fmt = (clip.getframerate(), clip.getnchannels(), clip.getsampwidth())
            pcm = clip.readframes(clip.getnframes())
    except FileNotFoundError as err:
        raise ClipLibraryError(f"voice clip {path} is missing") from err
    except (wave.Error, EOFError, OSError) as err:
        raise ClipLibraryError(f"voice clip {path} is not a readable WAV file ({err}); {fix}") from err
    if fmt != (RATE, CHANNELS, SAMPLE_WIDTH):
        raise ClipLibraryError(f"voice clip {path} is {fmt[0]} Hz, {fmt[1]} channel(s), {8 * fmt[2]}-bit; "
                               f"the library needs 22050 Hz mono 16-bit; {fix}")
    samples = _samples(pcm)
    if len(samples) < _MIN_FRAMES:
        raise ClipLibraryError(f"voice clip {path} is only {len(samples) / RATE * 1000:.0f} ms long; {fix}")
    if max(abs(min(samples)), max(samples)) < _MIN_PEAK:
        raise ClipLibraryError(f"voice clip {path} is silent; {fix}")
    return pcm


class ClipLibrary:
    """The directory of token clips: what is missing, building it with espeak-ng, loading and joining."""

    def __init__(self, directory: Path | str | None = None, *, voice: str = DEFAULT_VOICE,
                 speed: int = DEFAULT_SPEED, espeak: str = "espeak-ng", timeout_s: float = 10.0) -> None:
        if voice.lower() in _WRONG_VOICES:
            raise ClipLibraryError(f"espeak-ng voice {voice!r} reads Chinese characters as English words "
                                   f"(espeak-ng issue #1236); use voice={DEFAULT_VOICE}")
        self.voice = voice
        self.speed = speed
        self.espeak = espeak
        self.timeout_s = timeout_s
        self.directory = Path(directory) if directory else default_clip_dir(voice, speed)

    def path(self, token: Token) -> Path:
        return self.directory / f"{token.stem}.wav"

    @property
    def clip_tokens(self) -> list[Token]:
        """Every token that has a file (all but the pause, which is generated silence)."""
        return [t for t in TOKENS.values() if t.id != PAUSE]

    def missing(self) -> list[Token]:
        return [t for t in self.clip_tokens if not self.path(t).is_file()]

    async def build(self) -> list[Token]:
        """Synthesise every missing clip (existing files, such as recordings, are kept); return those made."""
        todo = self.missing()
        if not todo:
            return []
        speech = [t for t in todo if t.say is not None]
        if speech and shutil.which(self.espeak) is None:
            names = ", ".join(self.path(t).name for t in speech[:5])
            raise ClipLibraryError(f"espeak-ng is not installed ({self.espeak!r} not found) and {len(speech)} "
                                   f"voice clip(s) are missing in {self.directory} ({names}…); install it "
                                   "(apt-get install espeak-ng) or copy a complete clip library there")
        await asyncio.to_thread(self._prepare_directory)
        slots = asyncio.Semaphore(os.cpu_count() or 2)

        async def make(token: Token) -> None:
            async with slots:
                if token.id == CHIME:
                    await asyncio.to_thread(write_wav, self.path(token), chime_pcm())
                else:
                    await self._synthesise(token)

        await asyncio.gather(*(make(t) for t in todo))
        log.info("built %d voice clips in %s with espeak-ng voice %s", len(todo), self.directory, self.voice)
        return todo

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            readme = self.directory / "README.txt"
            if not readme.exists():
                readme.write_text(_README, encoding="utf-8")
        except OSError as err:
            raise ClipLibraryError(f"cannot create the voice clip directory {self.directory}: {err}; "
                                   "set clips=DIR in the speaker URL to a writable directory") from err

    async def _synthesise(self, token: Token) -> None:
        """One espeak-ng run as an asyncio subprocess (the loop never waits on it), then trim and store."""
        assert token.say is not None
        target = self.path(token)
        raw = self.directory / f".{token.stem}.raw.{uuid.uuid4().hex}.wav"
        made = False
        try:
            proc = await asyncio.create_subprocess_exec(
                self.espeak, "-v", self.voice, "-s", str(self.speed), "-a", str(_AMPLITUDE), "-w", str(raw),
                token.say,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise ClipLibraryError(f"espeak-ng took more than {self.timeout_s:.0f} s to say {token.say!r}; "
                                       "check that espeak-ng runs on this machine") from None
            if proc.returncode != 0:
                words = err.decode(errors="replace").strip() or f"exit status {proc.returncode}"
                raise ClipLibraryError(f"espeak-ng -v {self.voice} could not say {token.say!r}: {words}; "
                                       f"check that the voice exists (espeak-ng --voices=cmn)")
            made = True
        finally:
            await asyncio.to_thread(self._store, raw, target if made else None)

    @staticmethod
    def _store(raw: Path, target: Path | None) -> None:
        """Check and trim the raw espeak-ng output into the library (unless synthesis failed), then remove it."""
        try:
            if target is not None:
                write_wav(target, trim_silence(read_clip(raw)))
        finally:
            raw.unlink(missing_ok=True)

    def load_sync(self) -> dict[str, bytes]:
        """Every clip's PCM by token id, checked; ClipLibraryError names the first broken or missing one."""
        missing = self.missing()
        if missing:
            names = ", ".join(self.path(t).name for t in missing[:5])
            raise ClipLibraryError(f"voice clip library {self.directory} is incomplete: {len(missing)} clip(s) "
                                   f"missing ({names}…)")
        return {t.id: read_clip(self.path(t)) for t in self.clip_tokens}

    async def load(self) -> dict[str, bytes]:
        """Build what is missing, then load and check every clip (file reads in a worker thread)."""
        await self.build()
        return await asyncio.to_thread(self.load_sync)


def join(tokens: list[str], clips: dict[str, bytes], gap_s: float = 0.06, pause_s: float = 0.7) -> bytes:
    """One PCM buffer for a token sequence, so playback is a single sound that nothing can cut or reorder."""
    gap = bytes(int(gap_s * RATE) * SAMPLE_WIDTH)
    pause = bytes(int(pause_s * RATE) * SAMPLE_WIDTH)
    parts: list[bytes] = []
    for token in tokens:
        if token == PAUSE:
            parts.append(pause)
            continue
        try:
            parts.append(clips[token])
        except KeyError:
            raise ClipLibraryError(f"no voice clip for token {token!r}") from None
        parts.append(gap)
    return b"".join(parts)
