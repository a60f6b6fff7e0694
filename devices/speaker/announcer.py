"""The hall speaker (语音叫号): a queue of calls, each said whole, in order, twice, after a chime.

Field systems cut a call off when the next one came, or dropped it; here every call goes into one
queue that a single worker task plays to the end before taking the next, and each announcement is
one pygame Sound (chime + sentence + pause + sentence joined in memory), so pygame's one-queued-sound
per-channel rule never comes into play. Waiting for the end polls ``get_num_channels`` with
``asyncio.sleep``; the loop never blocks on audio.

``QueuedSpeaker`` holds the queue semantics shared with ``SilentSpeaker``; ``Speaker`` plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devices.base import Device, TransitionListener
from devices.errors import DeviceDisconnected, DeviceError, DeviceStatusError
from devices.speaker.clips import DEFAULT_SPEED, DEFAULT_VOICE, ClipLibrary, join, wav_bytes
from devices.speaker.tts import Call, announcement_tokens, spoken_text
from devices.state import DeviceState, DeviceStatus
from devices.url import DeviceAddress, UrlError

log = logging.getLogger(__name__)

__all__ = ["Announcement", "QueuedSpeaker", "Speaker", "Spoken"]


@dataclass
class Spoken:
    """One announcement as said: tokens, and monotonic queue/start/end times (for order and overlap checks)."""

    call: Call
    tokens: list[str]
    queued_at: float
    started_at: float | None = None
    ended_at: float | None = None
    wall_time: float | None = None  # time.time() at start, for the wall display
    complete: bool = False  # False if cut off by close() or a playback failure

    @property
    def text(self) -> str:
        return spoken_text(self.tokens)


@dataclass
class Announcement:
    """The handle ``announce`` returns: ``await a.wait()`` until it has been said (or failed, with words)."""

    spoken: Spoken
    error: DeviceError | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event)
    _begun: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def finish(self, error: DeviceError | None = None) -> None:
        self.error = error
        self._done.set()
        self._begun.set()

    async def wait_started(self) -> Spoken:
        """Wait until its first sound goes out (or it failed), e.g. to highlight the call on a screen."""
        await self._begun.wait()
        if self.error is not None:
            raise self.error
        return self.spoken

    async def wait(self) -> Spoken:
        await self._done.wait()
        if self.error is not None:
            raise self.error
        return self.spoken


class QueuedSpeaker(Device):
    """Queue semantics for every speaker: announce enqueues, one worker says each call whole, in order."""

    kind = "speaker"
    history_size = 500

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None) -> None:
        super().__init__(address, name=name, listener=listener)
        self.repeat = int(self.address.option("repeat", 2))
        if not 1 <= self.repeat <= 5:
            raise UrlError(f"could not use {self.address.url!r}: repeat={self.repeat} must be 1..5")
        self._spoken: deque[Spoken] = deque(maxlen=self.history_size)
        self._queue: deque[Announcement] = deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._current: Announcement | None = None
        self._fault: str | None = None
        self._fault_checked = 0.0

    # ---- what subclasses provide -----------------------------------------------------------------
    async def _setup(self) -> None:
        """Make the speaker able to speak; raise DeviceError with words when it cannot."""

    async def _teardown(self) -> None:
        """Release what ``_setup`` took; called on close."""

    async def _play(self, item: Announcement) -> None:
        """Say one announcement to the end; call ``_started(item)`` when its first sound goes out."""
        raise NotImplementedError

    # ---- public ----------------------------------------------------------------------------------
    @property
    def spoken(self) -> list[Spoken]:
        """Announcements started so far, oldest first (the last ``history_size``)."""
        return list(self._spoken)

    @property
    def speaking(self) -> Spoken | None:
        return self._current.spoken if self._current is not None else None

    @property
    def pending(self) -> int:
        """Announcements queued and not yet started."""
        return len(self._queue)

    async def announce(self, ticket_number: str, window: int, *, green: bool = False,
                       recall: bool = False) -> Announcement:
        """Queue "请 <ticket> 号到 <window> 号窗口办理" and return at once; it is said after those before it."""
        call = Call(ticket_number, window, green=green, recall=recall)
        if self._closed or self._wake is None:
            raise DeviceDisconnected(f"{self.describe()} is closed; open it before announcing {call.ticket}")
        if self._fault is not None:
            await self.status()  # one retry, rate-limited, in case the fault has gone
            if self._fault is not None:
                raise DeviceStatusError(f"{self.describe()} cannot announce {call.ticket}: {self._fault}")
        if self._closed or self._wake is None:  # closed while the fault was re-checked
            raise DeviceDisconnected(f"{self.describe()} is closed; open it before announcing {call.ticket}")
        item = Announcement(Spoken(call, announcement_tokens(call, self.repeat), time.monotonic()))
        self._queue.append(item)
        self._wake.set()
        if len(self._queue) % 20 == 1 and len(self._queue) > 1:  # once per 20 more, not on every call
            log.warning("%s has %d announcements waiting; calls are being made faster than they can be said",
                        self.describe(), len(self._queue))
        return item

    async def drain(self) -> None:
        """Wait until every queued announcement has been said."""
        while self._queue or self._current is not None:
            last = self._queue[-1] if self._queue else self._current
            assert last is not None
            await last._done.wait()

    # ---- Device primitives -----------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        await self._try_setup()
        self._wake = asyncio.Event()
        self._worker = asyncio.create_task(self._work(), name=f"speaker {self.name}")

    async def _disconnect(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._wake = None
        closed = DeviceDisconnected(f"{self.describe()} was closed before this call was said")
        while self._queue:
            self._queue.popleft().finish(closed)
        await self._teardown()

    async def _read_status(self) -> DeviceStatus:
        if self._fault is not None and time.monotonic() - self._fault_checked >= self.backoff.cap_s:
            await self._try_setup()
        details: dict[str, Any] = {"queued": len(self._queue), "speaking": self._current is not None}
        if self._fault is not None:
            return DeviceStatus(DeviceState.FAULT, self._fault, details=details)
        return DeviceStatus(DeviceState.READY, "ready to announce", details=details)

    async def _try_setup(self) -> None:
        self._fault_checked = time.monotonic()
        try:
            await self._setup()
        except (DeviceError, OSError) as err:
            self._fault = str(err)
        else:
            self._fault = None

    # ---- the worker ------------------------------------------------------------------------------
    def _started(self, item: Announcement) -> None:
        item.spoken.started_at = time.monotonic()
        item.spoken.wall_time = time.time()
        self._spoken.append(item.spoken)
        item._begun.set()

    async def _work(self) -> None:
        """Take announcements one at a time; a failure is reported and the next call still goes out."""
        assert self._wake is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._current = self._queue.popleft()
            try:
                await self._play(item)
            except asyncio.CancelledError:
                item.spoken.ended_at = time.monotonic()
                item.finish(DeviceDisconnected(f"{self.describe()} was closed while saying this call"))
                raise
            except Exception as err:  # the worker must outlive any one failure, or later calls would hang
                item.spoken.ended_at = time.monotonic()
                failure = err if isinstance(err, DeviceError) else None
                if failure is None:
                    log.exception("%s: unexpected failure while saying a call", self.describe())
                    failure = DeviceError(f"{self.describe()} broke while saying {item.spoken.call.ticket}: {err!r}")
                self._report(DeviceStatus(DeviceState.FAULT, str(failure)))
                item.finish(failure)
            else:
                item.spoken.ended_at = time.monotonic()
                item.spoken.complete = True
                item.finish()
                if self._status.state is DeviceState.FAULT and self._fault is None:
                    self._report(DeviceStatus(DeviceState.READY, "announcing again"))
            finally:
                self._current = None


# ---- pygame.mixer, shared by every Speaker in the process ----------------------------------------
_mixer_lock = threading.Lock()
_mixer_users = 0
_mixer_ours = False


def _mixer_acquire() -> None:
    """Open the mixer (22050 Hz mono 16-bit, the clips' own format) or join it if a screen opened it."""
    global _mixer_users, _mixer_ours
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    with _mixer_lock:
        if _mixer_users == 0 and pygame.mixer.get_init() is None:
            pygame.mixer.init(frequency=22050, size=-16, channels=1, buffer=512)
            _mixer_ours = True
        _mixer_users += 1


def _mixer_release() -> None:
    global _mixer_users, _mixer_ours
    import pygame

    with _mixer_lock:
        _mixer_users = max(0, _mixer_users - 1)
        if _mixer_users == 0 and _mixer_ours:
            pygame.mixer.quit()
            _mixer_ours = False


class Speaker(QueuedSpeaker):
    """``espeak://[?voice=…][&clips=DIR][&repeat=N][&speed=WPM]``: offline clips played through pygame.mixer."""

    poll_s = 0.02

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None, gap_s: float = 0.06, pause_s: float = 0.7,
                 espeak: str = "espeak-ng") -> None:
        super().__init__(address, name=name, listener=listener)
        self.gap_s = gap_s
        self.pause_s = pause_s
        self.library = ClipLibrary(self.address.option("clips"), voice=self.address.option("voice", DEFAULT_VOICE),
                                   speed=int(self.address.option("speed", DEFAULT_SPEED)), espeak=espeak)
        self._clips: dict[str, bytes] = {}
        self._mixer = False

    async def _setup(self) -> None:
        if not self._clips:
            self._clips = await self.library.load()
        if not self._mixer:
            try:
                await asyncio.to_thread(_mixer_acquire)
            except Exception as err:  # pygame.error, or SDL refusing the device
                raise DeviceError(f"cannot open the sound output ({err}); check the audio device, or set "
                                  "SDL_AUDIODRIVER (alsa, pulseaudio, dummy)") from err
            self._mixer = True

    async def _teardown(self) -> None:
        if self._mixer:
            self._mixer = False
            await asyncio.to_thread(_mixer_release)

    async def _play(self, item: Announcement) -> None:
        import pygame

        pcm = join(item.spoken.tokens, self._clips, self.gap_s, self.pause_s)
        try:
            sound = pygame.mixer.Sound(file=io.BytesIO(wav_bytes(pcm)))
            channel = sound.play()
        except pygame.error as err:
            raise DeviceError(f"the mixer refused to play ({err}); check the audio device") from err
        if channel is None:
            raise DeviceError("no free mixer channel; another program holds every channel")
        self._started(item)
        deadline = time.monotonic() + sound.get_length() + 5.0
        try:
            while sound.get_num_channels() > 0:
                if time.monotonic() > deadline:
                    raise DeviceError(f"playback of a {sound.get_length():.1f} s announcement did not end; "
                                      "the audio output is stuck: check the audio device")
                await asyncio.sleep(self.poll_s)
        finally:
            sound.stop()
