"""``silent://``: a speaker that says nothing and remembers what it would have said.

Other parts (window nodes, the wall display, end-to-end tests) need a speaker with the real queue
semantics and the real token sequences but no audio device and no seconds of playback; this one
takes an estimated announcement time (``pace`` seconds per spoken token, 0 for none) instead.
"""

from __future__ import annotations

import asyncio

from devices.base import TransitionListener
from devices.speaker.announcer import Announcement, QueuedSpeaker
from devices.speaker.tts import CHIME, PAUSE
from devices.url import DeviceAddress, UrlError

__all__ = ["SilentSpeaker"]

# The chime and the pause between repeats last about as long as this many spoken tokens.
CHIME_TOKENS = 2.5
PAUSE_TOKENS = 2.0


class SilentSpeaker(QueuedSpeaker):
    """``silent://[?repeat=N][&pace=S]``: same queue and sentences as ``espeak://``, recorded, not played."""

    def __init__(self, address: DeviceAddress | str, *, name: str | None = None,
                 listener: TransitionListener | None = None) -> None:
        super().__init__(address, name=name, listener=listener)
        self.pace_s = float(self.address.option("pace", 0.35))
        if not 0 <= self.pace_s <= 5:
            raise UrlError(f"could not use {self.address.url!r}: pace={self.pace_s} must be 0..5 seconds per token")

    def duration_s(self, tokens: list[str]) -> float:
        """How long the announcement would take; zero when ``pace=0``."""
        units = {CHIME: CHIME_TOKENS, PAUSE: PAUSE_TOKENS}
        return self.pace_s * sum(units.get(t, 1.0) for t in tokens)

    async def _play(self, item: Announcement) -> None:
        self._started(item)
        await asyncio.sleep(self.duration_s(item.spoken.tokens))
