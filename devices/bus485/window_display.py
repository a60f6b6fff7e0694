"""The window display (窗口屏 / 条屏): the number being served, a line of text and the window state."""

from __future__ import annotations

from typing import ClassVar

from devices.bus485 import registers as rg
from devices.bus485.driver import BusDevice

__all__ = ["WindowDisplay"]


class WindowDisplay(BusDevice):
    """``show`` writes one command block; a restarted display gets it back from the next poll."""

    device_kind: ClassVar[rg.DeviceKind] = rg.DeviceKind.WINDOW_DISPLAY
    kind_option: ClassVar[str] = "window_display"

    async def show(self, number: str, text: str = "", state: rg.WindowState = rg.WindowState.SERVING, *,
                   mode: rg.DisplayMode = rg.DisplayMode.STATIC, brightness: int = 80) -> None:
        """Show ``number`` (≤ 8 bytes, e.g. "A012") and ``text`` (≤ 64 GB18030 bytes, 32 hanzi)."""
        if not 0 <= brightness <= 100:
            raise ValueError("brightness is a percentage 0..100")
        b = rg.DisplayBlock
        block = [0] * (b.SIZE - 1)
        block[b.MODE - 1], block[b.BRIGHTNESS - 1], block[b.STATE - 1] = int(mode), brightness, int(state)
        block[b.NUMBER.offset - 1:b.NUMBER.offset + b.NUMBER.registers] = rg.encode_text(number, b.NUMBER)
        block[b.TEXT.offset - 1:b.TEXT.offset + b.TEXT.registers] = rg.encode_text(text, b.TEXT)
        await self._write_block(block)
