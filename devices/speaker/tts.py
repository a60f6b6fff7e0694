"""What a call says, as a sequence of clip tokens: "请 A 零一二 号 到 三 号窗口 办理".

Announcements are built from a small closed set of tokens so that one clip per token (synthesised
offline, or recorded by a person) covers every call, and so that tests can assert the exact words.

Reading rules, as halls say them:

* the ticket number is an identifier: letters one by one, digits one by one, zeros kept
  (A012 → "A 零 一 二"), because "零十二" would lose the leading zero the ticket shows;
* the window number is a counter and is read as a cardinal number (3 → 三, 12 → 十二, 20 → 二十,
  105 → 一百零五), which is how staff and citizens name windows ("十二号窗口"); numbers of 1000 and
  more are not window numbers anyone says aloud and fall back to digit by digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CHIME",
    "PAUSE",
    "TOKENS",
    "Call",
    "Token",
    "announcement_tokens",
    "number_tokens",
    "spoken_text",
    "ticket_tokens",
]


@dataclass(frozen=True)
class Token:
    """One clip: its id in token sequences, its file stem, and what espeak-ng is given to say it.

    ``say`` is hanzi where espeak-ng's ``cmn-latn-pinyin`` voice reads them right, and tone-numbered
    pinyin where it does not; ``None`` marks a sound that is not speech (chime) or not a file (pause).
    """

    id: str
    stem: str
    say: str | None


CHIME = "<chime>"
PAUSE = "<pause>"

_DIGITS = "零一二三四五六七八九"
_WORDS = [
    ("请", "qing", "请"),
    ("号", "hao", "号"),
    ("到", "dao", "到"),
    ("号窗口", "hao_chuangkou", "号窗口"),
    ("办理", "banli", "办理"),
    ("绿色通道", "lvse_tongdao", "绿色通道"),
    ("请注意", "qing_zhuyi", "请注意"),
    # 重复 is read zhòngfù from hanzi by espeak-ng 1.51; tone-numbered pinyin gives chóngfù.
    ("重复", "chongfu", "chong2 fu4"),
    ("十", "shi", "十"),
    ("百", "bai", "百"),
]


def _table() -> dict[str, Token]:
    rows = [Token(CHIME, "chime", None), Token(PAUSE, "pause", None)]
    rows += [Token(d, f"digit_{i}", d) for i, d in enumerate(_DIGITS)]
    rows += [Token(chr(c), f"letter_{chr(c).lower()}", chr(c)) for c in range(ord("A"), ord("Z") + 1)]
    rows += [Token(tid, stem, say) for tid, stem, say in _WORDS]
    return {row.id: row for row in rows}


#: Every token a call can use; the clip library holds one WAV per entry (the pause is generated silence).
TOKENS: dict[str, Token] = _table()

_TICKET = re.compile(r"([A-Z]{0,3})(\d{1,6})")


def ticket_tokens(ticket_number: str) -> list[str]:
    """Letters and digits one by one: "A012" → ["A", "零", "一", "二"]."""
    text = str(ticket_number).strip().upper()
    match = _TICKET.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot announce ticket {ticket_number!r}: a ticket number is up to 3 letters "
                         "and 1 to 6 digits, such as A012")
    letters, digits = match.groups()
    return [*letters, *(_DIGITS[int(d)] for d in digits)]


def number_tokens(number: int) -> list[str]:
    """A window number read as a cardinal: 3 → 三, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"cannot announce window {number!r}: a window number is a whole number such as 3")
    if number >= 1000:
        return [_DIGITS[int(d)] for d in str(number)]
    if number == 0:
        return ["零"]
    hundreds, tens, ones = number // 100, number // 10 % 10, number % 10
    out: list[str] = []
    if hundreds:
        out += [_DIGITS[hundreds], "百"]
    if tens:
        # 10–19 are said 十, 十一 … on their own, but 一百一十 after hundreds.
        out += ["十"] if tens == 1 and not hundreds else [_DIGITS[tens], "十"]
    elif hundreds and ones:
        out.append("零")
    if ones:
        out.append(_DIGITS[ones])
    return out


@dataclass(frozen=True)
class Call:
    """One call to announce: which ticket to which window, and whether it is green channel or a recall."""

    ticket: str
    window: int
    green: bool = False
    recall: bool = False

    def __post_init__(self) -> None:
        ticket_tokens(self.ticket)  # validate early, with words, before anything is queued
        number_tokens(self.window)
        object.__setattr__(self, "ticket", self.ticket.strip().upper())

    @property
    def tokens(self) -> list[str]:
        """The sentence once: 请 A 零 一 二 号 到 [绿色通道] 三 号窗口 办理, with 请注意 before a recall."""
        head = ["请注意"] if self.recall else []
        lane = ["绿色通道"] if self.green else []
        return [*head, "请", *ticket_tokens(self.ticket), "号", "到", *lane,
                *number_tokens(self.window), "号窗口", "办理"]

    @property
    def display(self) -> str:
        """The sentence as a screen shows it: "请 A012 号到 3 号窗口办理"."""
        lane = "绿色通道 " if self.green else ""
        head = "请注意，" if self.recall else ""
        return f"{head}请 {self.ticket} 号到 {lane}{self.window} 号窗口办理"


def announcement_tokens(call: Call, repeat: int = 2, chime: bool = True) -> list[str]:
    """The whole announcement: a chime, then the sentence ``repeat`` times with a pause between."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    out = [CHIME] if chime else []
    for i in range(repeat):
        if i:
            out.append(PAUSE)
        out += call.tokens
    return out


def spoken_text(tokens: list[str]) -> str:
    """The words of a token sequence, without chime and pauses: "请A零一二号到三号窗口办理"."""
    return "".join(t for t in tokens if t not in (CHIME, PAUSE))
