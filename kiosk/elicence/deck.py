"""Invented e-licence documents for any holder key: the simulator's content, as data, the same on every run.

Why deterministic: a test, a rush and a person trying the hall by hand all see the same documents for the
same card, with no database to seed. The library is keyed by the holder HMAC (kiosk/flows/holder.py), so the
deck never sees an ID number or a name; a proof prints the masked name the kiosk read from the card.
Every holder has a 参保证明 (the commonest print, so a test can rely on it) and, chosen by the key's bytes,
some of the other kinds; a holder in ``Deck.none`` has nothing (the explicit "has none" case).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from kiosk.elicence.client import Document

__all__ = ["HOLDER_KEY", "KINDS", "KIND_CODES", "Deck", "is_holder_key"]

HOLDER_KEY = re.compile(r"^[0-9a-f]{64}$")


def is_holder_key(text: str) -> bool:
    """A holder HMAC as holder_key() writes it: 64 lower-case hex digits."""
    return HOLDER_KEY.fullmatch(text) is not None


@dataclass(frozen=True)
class _Kind:
    code: str  # the id prefix
    name: str  # 参保证明, what the citizen picks and the print log records
    name_en: str
    department: str


KINDS: tuple[_Kind, ...] = (
    _Kind("SB", "参保证明", "Social insurance certificate", "清河县社会保险事业管理中心"),
    _Kind("WS", "完税证明", "Tax payment certificate", "国家税务总局清河县税务局"),
    _Kind("BDC", "不动产登记信息", "Real estate registration record", "清河县不动产登记中心"),
    _Kind("HJ", "户籍证明", "Household registration certificate", "清河县公安局户政科"),
    _Kind("YYZZ", "营业执照", "Business licence", "清河县市场监督管理局"),
)
KIND_CODES = frozenset(k.code for k in KINDS)
_STREETS = ("清河路", "建设街", "人民路", "文昌街", "永安路", "迎宾大道")
_TRADES = ("五金", "餐饮", "百货", "农资", "电器维修", "文具")


@dataclass(frozen=True)
class Deck:
    """The library's content. ``today`` dates the proofs; ``none`` lists holders with no documents at all."""

    today: dt.date = dt.date(2026, 11, 23)
    none: frozenset[str] = field(default_factory=frozenset)

    def documents(self, holder: str, verify_base: str) -> list[Document]:
        """The holder's documents, 参保证明 first; empty for a holder in ``none`` (or not a holder key).

        ``verify_base`` is the library's own URL: a document's QR code opens ``{verify_base}/verify/{serial}``.
        """
        if not is_holder_key(holder) or holder in self.none:
            return []
        seed = bytes.fromhex(holder)
        chosen = [KINDS[0], *(k for i, k in enumerate(KINDS[1:], 1) if seed[i] % 2 == 0)]
        return [self._make(kind, holder, verify_base) for kind in chosen]

    def document(self, holder: str, document_id: str, verify_base: str) -> Document | None:
        """One of the holder's documents by id; None when it is not this holder's (never another's)."""
        return next((d for d in self.documents(holder, verify_base) if d.id == document_id), None)

    def _make(self, kind: _Kind, holder: str, verify_base: str) -> Document:
        digest = hashlib.sha256(f"{kind.code}:{holder}".encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        serial = f"{kind.code}-{self.today.year}-{number % 10**8:08d}"
        issued = self.today - dt.timedelta(days=number % 30)
        make = _CONTENT[kind.code]
        headings, rows, paragraphs = make(number, self.today)
        return Document(id=f"{kind.code.lower()}-{digest[8:14].hex()}", kind=kind.name, kind_en=kind.name_en,
                        title=kind.name, department=kind.department, serial=serial, issued=issued,
                        verify_url=f"{verify_base.rstrip('/')}/verify/{serial}", headings=headings, rows=rows,
                        paragraphs=paragraphs)


_Content = tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[str, ...]]


def _insurance(n: int, today: dt.date) -> _Content:
    months = 12 + n % 120
    start = dt.date(today.year - months // 12, 1, 1)
    rows = tuple((f"{today.year - y}年", "企业职工基本养老保险", "正常参保", f"{4000 + (n >> y) % 3000}.00")
                 for y in range(3))
    return (("年度", "险种", "参保状态", "缴费基数（元）"), rows,
            (f"经查询，该参保人自 {start:%Y年%m月} 起参加社会保险，累计缴费 {months} 个月。",
             "本证明仅证明截至出具日期的参保情况。"))


def _tax(n: int, today: dt.date) -> _Content:
    rows = tuple((f"{today.year}{q:02d}", kind, f"{(n >> q) % 900 + 100}.{q}0")
                 for q, kind in ((3, "个人所得税"), (6, "个人所得税"), (9, "增值税")))
    return (("所属期", "税种", "实缴金额（元）"), rows, ("上述税款已全部缴入国库。",))


def _estate(n: int, today: dt.date) -> _Content:
    street = _STREETS[n % len(_STREETS)]
    unit = f"130534{n % 10**6:06d}GB{n % 10**5:05d}F0001"
    return (("不动产单元号", "坐落", "面积（㎡）", "用途"), ((unit, f"{street}{n % 200 + 1}号", f"{60 + n % 90}.5",
                                                      "住宅"),),
            ("经查询，截至出具日期，权利人名下登记信息如上，无查封、抵押登记。",))


def _household(n: int, today: dt.date) -> _Content:
    street = _STREETS[(n >> 3) % len(_STREETS)]
    rows = (("户别", "家庭户"), ("户籍地址", f"清河县{street}{n % 90 + 1}号"), ("与户主关系", "户主"))
    return (("项目", "内容"), rows, ("兹证明上述人员户籍登记信息属实。",))


def _licence(n: int, today: dt.date) -> _Content:
    trade = _TRADES[n % len(_TRADES)]
    code = f"92130534MA{n % 10**7:07d}X"
    return (("项目", "内容"), (("统一社会信用代码", code), ("名称", f"清河县{trade}经营部"), ("类型", "个体工商户"),
                             ("经营范围", f"{trade}零售"), ("成立日期", f"{today.year - 1 - n % 10}年03月15日")),
            ("本营业执照信息来源于国家企业信用信息公示系统。",))


_CONTENT = {"SB": _insurance, "WS": _tax, "BDC": _estate, "HJ": _household, "YYZZ": _licence}

