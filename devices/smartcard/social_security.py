"""Reading a Chinese social-security card (社会保障卡) over PC/SC, the hall's everyday ISO 7816 card.

The sequence follows LD/T 32 as deployed readers use it (protocols.md §3.3): SELECT the SSSE basic
environment by its DF name ``sx1.sh.社会保障`` (GBK), READ RECORD 7 of SFI 5 (EF05) for the card number,
SELECT EF06 and READ RECORD 08…0D for the holder. Which records need PSAM authentication differs by card
generation and region, so a card answering 6982 is handed to an ``Authenticator`` (the PSAM hook) once,
and the read is retried.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from devices.smartcard.apdu import (
    ApduError,
    AuthenticationRequired,
    CommandApdu,
    ResponseApdu,
    bcd_digits,
    check,
    gbk_text,
    parse_tlv,
    read_record,
    select_by_name,
    select_file,
)

if TYPE_CHECKING:
    from devices.smartcard.driver import SmartCardReader

log = logging.getLogger(__name__)

__all__ = ["EF05_RECORDS", "EF06_RECORDS", "SSSE_NAME", "Authenticator", "SocialSecurityRecord",
           "mask_name", "mask_number", "read_social_security_card"]

#: DF name of the social-security basic environment: "sx1.sh.社会保障" in GBK (15 bytes)
SSSE_NAME = "sx1.sh.社会保障".encode("gbk")
EF05_SFI = 5
EF06_ID = 0xEF06
#: EF05 (card data) record tag → (value length, field)
EF05_RECORDS: dict[int, tuple[int, str]] = {0x05: (4, "issued_on"), 0x06: (4, "valid_until"),
                                            0x07: (9, "card_number")}
#: EF06 (holder basics) record tag → (value length, field)
EF06_RECORDS: dict[int, tuple[int, str]] = {0x08: (18, "ssn"), 0x09: (30, "name"), 0x0A: (1, "sex"),
                                            0x0B: (1, "nation"), 0x0C: (3, "birth_place"),
                                            0x0D: (4, "birth_date")}
SEXES = {"1": "男", "2": "女", "9": "未说明"}


class Authenticator(Protocol):
    """The PSAM hook: make the card accept reads (GET CHALLENGE, a PSAM computes, EXTERNAL AUTHENTICATE).

    Called when the card answers 6982; raise a DeviceError when it cannot authenticate.
    """

    def __call__(self, reader: SmartCardReader) -> Awaitable[None]: ...


def mask_name(name: str) -> str:
    """Keep the first character (张三丰 → 张**): enough for the citizen to recognise, not to identify."""
    return name[:1] + "*" * (len(name) - 1) if name else name


def mask_number(number: str) -> str:
    """Keep the first 4 and last 4 characters of a card or social-security number."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _date(digits: str, what: str) -> dt.date | None:
    if not digits.strip("0"):
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as err:
        raise ApduError(f"{what} {digits!r} is not a date (YYYYMMDD)") from err


@dataclass(frozen=True, repr=False)
class SocialSecurityRecord:
    """One card as read; ``repr``/``str`` mask the name and numbers, ``as_dict(show_personal=True)`` does not."""

    card_number: str
    ssn: str  # 社会保障号码 (the citizen's ID number)
    name: str
    sex: str  # "1", "2" or "9" (GB/T 2261.1)
    nation: int  # GB 3304 code, 1 = 汉族
    birth_place: str  # 6-digit region code
    birth_date: dt.date | None
    issued_on: dt.date | None = None
    valid_until: dt.date | None = None

    @property
    def sex_text(self) -> str:
        return SEXES.get(self.sex, "未知")

    def masked(self) -> dict[str, Any]:
        """What a log, a screen or a ticket may show."""
        return {"card_number": mask_number(self.card_number), "ssn": mask_number(self.ssn),
                "name": mask_name(self.name), "sex": self.sex_text,
                "birth_year": self.birth_date.year if self.birth_date else None}

    def as_dict(self, show_personal: bool = False) -> dict[str, Any]:
        if not show_personal:
            return self.masked()
        return {"card_number": self.card_number, "ssn": self.ssn, "name": self.name, "sex": self.sex_text,
                "nation": self.nation, "birth_place": self.birth_place,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "issued_on": self.issued_on.isoformat() if self.issued_on else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}

    def __repr__(self) -> str:
        masked = self.masked()
        return (f"SocialSecurityRecord(card_number={masked['card_number']!r}, ssn={masked['ssn']!r}, "
                f"name={masked['name']!r}, sex={masked['sex']!r})")

    __str__ = __repr__


class _Session:
    """One read: sends commands through the reader and calls the authenticator at most once."""

    def __init__(self, reader: SmartCardReader, authenticator: Authenticator | None) -> None:
        self.reader = reader
        self.authenticator = authenticator
        self.authenticated = False

    async def command(self, apdu: CommandApdu, what: str) -> bytes:
        response: ResponseApdu = await self.reader.transmit(apdu)
        context = f"{self.reader.describe()}: social-security card, {what}"
        try:
            return check(response, context)
        except AuthenticationRequired as err:
            if self.authenticated:
                raise
            if self.authenticator is None:
                raise AuthenticationRequired(f"{err}; this reader has no PSAM configured, so the card's "
                                             "personal records cannot be read here", code=err.code) from err
            log.info("%s: card wants PSAM authentication for %s; authenticating", self.reader.describe(), what)
            await self.authenticator(self.reader)
            self.authenticated = True
            return check(await self.reader.transmit(apdu), context)

    async def record(self, tag: int, length: int, what: str, sfi: int | None = None) -> bytes:
        raw = await self.command(read_record(tag, length + 2, sfi), f"reading {what} (record {tag:02X})")
        return parse_tlv(raw, tag)


async def read_social_security_card(reader: SmartCardReader,
                                    authenticator: Authenticator | None = None) -> SocialSecurityRecord:
    """Read card number and holder basics; status words become clear errors (6A82: not such a card)."""
    session = _Session(reader, authenticator)
    await session.command(select_by_name(SSSE_NAME), "selecting the SSSE application")
    card: dict[int, bytes] = {}
    for tag, (length, field) in EF05_RECORDS.items():
        card[tag] = await session.record(tag, length, field, sfi=EF05_SFI)
    await session.command(select_file(EF06_ID), "selecting EF06 (holder basics)")
    holder: dict[int, bytes] = {}
    for tag, (length, field) in EF06_RECORDS.items():
        holder[tag] = await session.record(tag, length, field)
    sex = holder[0x0A].decode("ascii", "replace") if holder[0x0A][:1].isdigit() else str(holder[0x0A][0])
    record = SocialSecurityRecord(
        card_number=gbk_text(card[0x07]), ssn=gbk_text(holder[0x08]), name=gbk_text(holder[0x09]), sex=sex,
        nation=int(bcd_digits(holder[0x0B]) or "0"), birth_place=bcd_digits(holder[0x0C]),
        birth_date=_date(bcd_digits(holder[0x0D]), "birth date"),
        issued_on=_date(bcd_digits(card[0x05]), "issue date"),
        valid_until=_date(bcd_digits(card[0x06]), "expiry date"))
    log.info("%s: read social-security card %r", reader.describe(), record)
    return record
