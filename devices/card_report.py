"""What ``devices read-card`` shows of a card: an ID card and a social-security card in the same fields, masked
the same way (name 张**, number 1101**********123X, birth year only), and whether the card has expired.

Why one shape: the technician checks that a reader works and that a card is usable; which chip answered
should not change what the masked output looks like, nor leak more for one kind than the other.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from devices.idcard.record import LONG_TERM, IdCardRecord, mask_id, mask_name
from devices.smartcard.social_security import SocialSecurityRecord, mask_number
from devices.tool_clock import ToolClock

__all__ = ["card_fields", "card_lines"]


def _social_security(record: SocialSecurityRecord, show_personal: bool) -> dict[str, Any]:
    valid_to = record.valid_until.isoformat() if record.valid_until else LONG_TERM
    valid_from = record.issued_on.isoformat() if record.issued_on else None
    if show_personal:
        return {"kind": "social_security", "sex": record.sex_text, "valid_from": valid_from, "valid_to": valid_to,
                "name": record.name, "id_number": record.ssn, "card_number": record.card_number,
                "birth_date": record.birth_date.isoformat() if record.birth_date else None}
    return {"kind": "social_security", "sex": record.sex_text, "valid_from": valid_from, "valid_to": valid_to,
            "name": mask_name(record.name), "id_number": mask_id(record.ssn),
            "card_number": mask_number(record.card_number),
            "birth_date": f"{record.birth_date.year:04d}" if record.birth_date else None}


def _valid_to(record: IdCardRecord | SocialSecurityRecord) -> dt.date | None:
    return record.valid_to if isinstance(record, IdCardRecord) else record.valid_until


def card_fields(record: IdCardRecord | SocialSecurityRecord, show_personal: bool, today: dt.date) -> dict[str, Any]:
    """The card's fields (masked unless ``show_personal``) plus ``expired``: past its last valid day ``today``."""
    fields = (record.as_dict(show_personal=show_personal) if isinstance(record, IdCardRecord)
              else _social_security(record, show_personal))
    valid_to = _valid_to(record)
    return {**fields, "expired": valid_to is not None and today > valid_to}


def card_lines(record: IdCardRecord | SocialSecurityRecord, show_personal: bool, clock: ToolClock) -> list[str]:
    """The same in words, one fact a line, with the expiry said first when the card has expired."""
    today = clock.today()
    fields = card_fields(record, show_personal, today)
    what = "social-security card" if isinstance(record, SocialSecurityRecord) else f"ID card ({fields['kind']})"
    lines = [f"card: {what}{'' if show_personal else ', shown masked'}"]
    valid_to = _valid_to(record)
    if valid_to is None:
        lines.append("valid: long-term")
    elif fields["expired"]:
        lines.append(f"valid: EXPIRED on {valid_to.isoformat()} (today is {today.isoformat()} in {clock.label}); "
                     "the citizen needs a new card")
    else:
        lines.append(f"valid: until {valid_to.isoformat()}")
    skip = {"kind", "expired", "valid_to"}
    lines += [f"{key}: {value}" for key, value in fields.items() if key not in skip and value not in (None, "")]
    return lines
