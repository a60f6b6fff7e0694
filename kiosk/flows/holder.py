"""The session's holder: the HMAC of the ID number and the masked name, computed the moment a card is read.

Nothing else of the card survives the read: not the number, the full name, the address nor the birth date
(only whether the holder is old enough for the green channel).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from devices.idcard.record import IdCardRecord, mask_name
from devices.smartcard.social_security import SocialSecurityRecord

__all__ = ["Holder", "age_on", "from_id_card", "from_social_security", "holder_key"]


@dataclass(frozen=True)
class Holder:
    """Who is at the kiosk, as far as the server may know: ``key`` (HMAC-SHA256 hex) and ``masked`` (张*)."""

    key: str
    masked: str
    elderly: bool = False


def holder_key(id_number: str, secret: bytes) -> str:
    """HMAC-SHA256 of the ID number with the hall's key, as IdCardRecord.holder_key: both cards give one key."""
    return hmac.new(secret, id_number.upper().encode("ascii", "replace"), hashlib.sha256).hexdigest()


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def from_id_card(record: IdCardRecord, today: dt.date, secret: bytes, elderly_age: int) -> Holder:
    """The holder of an ID card (or permit / permanent residence card)."""
    return Holder(holder_key(record.id_number, secret), mask_name(record.name),
                  age_on(record.birth_date, today) >= elderly_age)


def _birth_from_number(number: str) -> dt.date | None:
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def from_social_security(record: SocialSecurityRecord, today: dt.date, secret: bytes, elderly_age: int) -> Holder:
    """The holder of a social-security card: its ``ssn`` is the ID number, so the key matches the ID card's."""
    birth = record.birth_date or _birth_from_number(record.ssn)
    elderly = birth is not None and age_on(birth, today) >= elderly_age
    return Holder(holder_key(record.ssn, secret), mask_name(record.name), elderly)
