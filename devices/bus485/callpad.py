"""The call pad (呼叫器): window staff's keys in, a one-line display, LEDs and a beeper out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar

from devices.bus485 import registers as rg
from devices.bus485.driver import BusDevice
from devices.bus485.poller import BusPoller

log = logging.getLogger(__name__)

__all__ = ["CallPad", "KeyEvent"]


@dataclass(frozen=True)
class KeyEvent:
    """One key press as the staff meant it: ``arg`` is the transfer target, the pause reason code, the staff
    number or the PIN digit. ``session`` is the pad's power-on session: seqs restart after a reboot, so a
    node that remembers handled presses keys them by (session, seq)."""

    key: rg.Key
    arg: int = 0
    seq: int = 0
    session: int = field(default=0, compare=False)


class CallPad(BusDevice):
    """Each press reaches the node once: seqs already handled are dropped (lost ack, retried frame,
    DUPLICATE_EVENT), and a second press of the same key with the same arg within ``debounce_s`` of the
    first (a new seq: the staff pressed twice quickly) is acknowledged but not delivered.

    The debounce clock is the master's receipt time, so presses queued in the pad while the line was
    down arrive together and identical ones fold into one: staff who pressed call-next three times
    because nothing happened meant one call.
    """

    device_kind: ClassVar[rg.DeviceKind] = rg.DeviceKind.CALLPAD
    kind_option: ClassVar[str] = "callpad"
    poll_count: ClassVar[int] = 4 + rg.EVENT_SIZE  # status, session, write_seq, count, head event

    def __init__(self, *args: object, debounce_s: float = 0.5, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.debounce_s = debounce_s
        self._last_press: dict[tuple[int, int], float] = {}
        self.debounced = 0
        self._line = ""
        self._leds = rg.Led(0)

    async def _after_status(self, bus: BusPoller, regs: tuple[int, ...]) -> None:
        await self._take_events(bus, regs)

    def _on_event(self, seq: int, code: int, arg: int) -> None:
        if code not in set(rg.Key):
            log.warning("%s sent unknown key code %d (seq %d); ignored", self.describe(), code, seq)
            return
        now = time.monotonic()
        last = self._last_press.get((code, arg))
        if last is not None and now - last < self.debounce_s and code not in rg.UNDEBOUNCED_KEYS:
            self.debounced += 1
            log.info("%s: second %s press within %.1f s counted once",
                     self.describe(), rg.Key(code).name, self.debounce_s)
            return
        self._last_press[(code, arg)] = now
        self._deliver(KeyEvent(rg.Key(code), arg, seq, self._session or 0))

    def events(self) -> AsyncIterator[KeyEvent]:
        """Key presses, each once, until the device is closed."""
        return self._iterate()

    def _block_for(self, line: str, leds: rg.Led, beeps: int) -> list[int]:
        block = [0] * (rg.CallPadBlock.SIZE - 1)
        block[rg.CallPadBlock.LEDS - 1] = int(leds)
        block[rg.CallPadBlock.BEEPS - 1] = beeps
        fld = rg.CallPadBlock.LINE
        block[fld.offset - 1:fld.offset - 1 + 1 + fld.registers] = rg.encode_text(line, fld)
        return block

    def _block_for_restore(self, block: list[int]) -> list[int]:
        restored = list(block)
        restored[rg.CallPadBlock.BEEPS - 1] = 0  # a restarted pad gets its line back, not an old beep
        return restored

    async def show(self, text: str, *, leds: rg.Led | None = None, beeps: int = 0) -> None:
        """Put ``text`` (≤ 32 GB18030 bytes, 16 hanzi) on the pad's line; optionally set LEDs and beep."""
        if not 0 <= beeps <= 5:
            raise ValueError("beeps must be 0..5")
        if leds is not None:
            self._leds = leds
        block = self._block_for(text, self._leds, beeps)
        self._line = text
        await self._write_block(block)

    async def set_leds(self, leds: rg.Led, beeps: int = 0) -> None:
        """Light the serving/paused/waiting LEDs, keeping the line as it is."""
        await self.show(self._line, leds=leds, beeps=beeps)
