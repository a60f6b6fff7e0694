"""Words for the window's LED display and the call pad, cut to what their GB18030 fields hold.

The pad's line holds 32 bytes (16 hanzi) and the display's text 64 (32 hanzi): the server's own refusal
messages are often longer, so each refusal a window meets has a short line of its own, and anything else is
cut at a character boundary with "…" (never half a character, which the device would show as garbage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices.bus485.registers import CallPadBlock, DisplayBlock

__all__ = ["DISPLAY_NUMBER_BYTES", "DISPLAY_TEXT_BYTES", "PAD_LINE_BYTES", "PAUSE_REASONS", "fit", "refusal_line"]

PAD_LINE_BYTES = CallPadBlock.LINE.max_bytes
DISPLAY_TEXT_BYTES = DisplayBlock.TEXT.max_bytes
DISPLAY_NUMBER_BYTES = DisplayBlock.NUMBER.max_bytes

#: the pad's pause reason codes (REGISTERS.md) and the reason the server records
PAUSE_REASONS: dict[int, str] = {1: "会议", 2: "休息", 3: "系统故障", 4: "其他"}

#: server error code → the pad's line ({number} from the error's details when it has one)
_SHORT: dict[str, str] = {
    "queue_empty": "当前没有等候的号",
    "ticket_still_called": "{number}未到，请过号或开始",
    "not_signed_in": "本窗口尚未签到",
    "window_paused": "窗口已暂停，请先恢复",
    "wrong_pin": "工号或密码错误",
    "too_many_attempts": "错误过多，{retry_after_s}秒后再试",
    "staff_not_allowed": "不能在本窗口签到",
    "recall_limit": "重呼次数已满，请过号",
    "not_served_here": "目标窗口不办理此业务",
    "transfer_target_missing": "请输入转往窗口号",
    "holder_has_ticket": "办事人已有同业务号",
    "other_window": "该号不在本窗口",
    "forbidden": "无权执行此操作",
    "invalid_state": "该号当前不能这样操作",
    "already_rated": "该事项已评价",
    "rating_expired": "评价已过期",
}


def fit(text: str, max_bytes: int) -> str:
    """``text`` if it fits ``max_bytes`` of GB18030, else cut at a character boundary and ended with "…"."""
    if len(text.encode("gb18030")) <= max_bytes:
        return text
    room = max_bytes - len("…".encode("gb18030"))
    out = ""
    for char in text:
        if len((out + char).encode("gb18030")) > room:
            break
        out += char
    return out + "…"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def refusal_line(error: Mapping[str, Any]) -> str:
    """The pad's line for a server refusal: the short words for its code, else the server's own, fitted."""
    code = str(error.get("code", ""))
    short = _SHORT.get(code)
    if short is None and code.startswith("invalid_state"):
        short = _SHORT["invalid_state"]
    if short is not None:
        return fit(short.format_map(_Blank(error.get("details") or {})), PAD_LINE_BYTES)
    said = str(error.get("message_zh") or "操作未被受理")
    return fit(said, PAD_LINE_BYTES)
