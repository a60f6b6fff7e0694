"""The rating pad (评价器): invites one rating of five levels after a matter, then thanks the citizen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

from devices.bus485 import registers as rg
from devices.bus485.driver import BusDevice
from devices.bus485.poller import BusPoller

__all__ = ["Rating", "RatingPad"]


@dataclass(frozen=True)
class Rating:
    """One answer to an invitation: level 5 非常满意 … 1 非常不满意, or None when it timed out unrated."""

    level: int | None
    seq: int = 0

    @property
    def words(self) -> str:
        return "未评价" if self.level is None else rg.RATING_WORDS[self.level]

    @property
    def bad(self) -> bool:
        """不满意 and 非常不满意 are bad ratings (差评) that open a follow-up."""
        return self.level is not None and self.level <= 2


class RatingPad(BusDevice):
    """The pad itself takes one key per invitation and goes idle (one rating per matter, no forcing);
    an invitation is not restored after a restart, since the citizen may be gone."""

    device_kind: ClassVar[rg.DeviceKind] = rg.DeviceKind.RATING_PAD
    kind_option: ClassVar[str] = "rating_pad"
    poll_count: ClassVar[int] = 4 + rg.EVENT_SIZE
    restore_after_reboot: ClassVar[bool] = False

    async def _after_status(self, bus: BusPoller, regs: tuple[int, ...]) -> None:
        await self._take_events(bus, regs)

    def _on_event(self, seq: int, code: int, arg: int) -> None:
        if code == rg.RATING_TIMEOUT:
            self._deliver(Rating(None, seq))
        elif 1 <= code <= 5:
            self._deliver(Rating(code, seq))

    def events(self) -> AsyncIterator[Rating]:
        """Ratings and no-rating timeouts, each once, until the device is closed."""
        return self._iterate()

    def _compose(self, mode: rg.RatingMode, lamp: rg.Lamp, timeout_s: int = 0, ticket: str = "",
               staff: str = "") -> list[int]:
        b = rg.RatingBlock
        block = [0] * (b.SIZE - 1)
        block[b.MODE - 1], block[b.LAMP - 1], block[b.TIMEOUT - 1] = int(mode), int(lamp), timeout_s
        block[b.TICKET.offset - 1:b.TICKET.offset + b.TICKET.registers] = rg.encode_text(ticket, b.TICKET)
        block[b.STAFF.offset - 1:b.STAFF.offset + b.STAFF.registers] = rg.encode_text(staff, b.STAFF)
        return block

    async def invite(self, ticket_number: str, staff_id: str, timeout_s: int = 30) -> None:
        """Light the lamp and ask for a rating of this ticket's matter; a no-rating event after ``timeout_s``."""
        if not 1 <= timeout_s <= 600:
            raise ValueError("timeout_s must be 1..600")
        block = self._compose(rg.RatingMode.INVITING, rg.Lamp.BLINK, timeout_s, ticket_number, staff_id)
        await self._write_block(block)

    async def thank(self) -> None:
        """Show the thank-you screen with the lamp off."""
        await self._write_block(self._compose(rg.RatingMode.THANK_YOU, rg.Lamp.OFF))

    async def idle(self) -> None:
        """Back to the idle screen (an invitation withdrawn)."""
        await self._write_block(self._compose(rg.RatingMode.IDLE, rg.Lamp.OFF))
