"""What the node feeds into a flow: touches, card reads, device outcomes, server answers and timeouts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.idcard.record import IdCardRecord
from devices.smartcard.social_security import SocialSecurityRecord
from devices.state import DeviceState, PaperState

__all__ = ["Button", "CardReadFailed", "CertificateFault", "CertificatePrintFailed", "CertificatePrinted",
           "DocumentItem", "DocumentsFetched", "DocumentsUnavailable", "Event", "IdCardRead", "IdleTimeout",
           "KioskHealth", "PrintDone", "PrintFailed", "PrinterStatusRead", "RatingInvited", "ServerAnswer",
           "ServerUnreachable", "SocialSecurityRead", "Touch"]


class Button(StrEnum):
    """Every target a citizen can touch; ``Touch.value`` says which one of a list (a service code, a digit)."""

    CATEGORY = "category"  # value: department code
    SERVICE = "service"  # value: service code
    BACK = "back"
    GREEN_YES = "green_yes"
    GREEN_NO = "green_no"
    REPRINT = "reprint"
    NO_REPRINT = "no_reprint"
    RETRY = "retry"
    DONE = "done"
    NORMAL_TICKET = "normal_ticket"
    DIGIT = "digit"  # value: "0".."9" (appointment code, ticket number keypad)
    LETTER = "letter"  # value: "A".."Z" (ticket number prefix)
    DELETE = "delete"
    SUBMIT = "submit"
    LEVEL = "level"  # value: "1".."5"
    SKIP = "skip"
    STATUS = "status"  # the guide's "where is my number" entry
    DOCUMENT = "document"  # value: an e-licence document id
    CHECK_IN = "check_in"  # the home screen's entries into the other flows (kiosk/flows/home.py)
    CERTIFICATES = "certificates"
    GUIDE = "guide"


@dataclass(frozen=True)
class Touch:
    button: Button
    value: str = ""


@dataclass(frozen=True)
class IdCardRead:
    """A resident ID card (or permit) read through the SAM; ``today`` is the hall's local date, for the age."""

    record: IdCardRecord
    today: dt.date


@dataclass(frozen=True)
class SocialSecurityRead:
    """A social-security card read over PC/SC; its ``ssn`` is the holder's ID number."""

    record: SocialSecurityRecord
    today: dt.date


@dataclass(frozen=True)
class CardReadFailed:
    """The read did not complete (card pulled mid-read, unreadable card); ``reason`` is the driver's words."""

    reason: str
    pulled: bool = False


@dataclass(frozen=True)
class PrinterStatusRead:
    """The answer to ReadPrinterStatus: the printer's state, paper sensor and reason in words."""

    state: DeviceState
    paper: PaperState
    reason: str = ""


@dataclass(frozen=True)
class PrintDone:
    """The printer took the whole ticket and cut it (the driver saw no error after the job)."""

    ticket_id: str


@dataclass(frozen=True)
class PrintFailed:
    """The print did not complete (paper ran out, cover opened, offline); ``reason`` in words."""

    ticket_id: str
    reason: str


@dataclass(frozen=True)
class ServerAnswer:
    """The HTTP answer to the request sent with ``key``: status and the JSON body (errors: {"error": {…}})."""

    key: str
    status: int
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> Mapping[str, Any]:
        """The error object of a refusal (an empty mapping for a success)."""
        if self.ok:
            return {}
        err = self.body.get("error")
        return err if isinstance(err, Mapping) else {"code": f"http_{self.status}"}


@dataclass(frozen=True)
class ServerUnreachable:
    """The request sent with ``key`` got no answer (connection refused, timed out) after the client's own tries."""

    key: str
    reason: str = ""


@dataclass(frozen=True)
class IdleTimeout:
    """Nobody touched the kiosk for the context's ``idle_reset_s``."""


@dataclass(frozen=True)
class KioskHealth:
    """Another kiosk of the hall went down or came back (from the server's node health), for "use kiosk N"."""

    node: str
    working: bool


@dataclass(frozen=True)
class RatingInvited:
    """A self-service transaction finished: ask for a rating of ``ticket_id``."""

    ticket_id: str


@dataclass(frozen=True)
class DocumentItem:
    """One of the holder's documents as the picking screen lists it (the contents stay with the library)."""

    id: str
    kind: str  # 参保证明
    kind_en: str
    issued: dt.date


@dataclass(frozen=True)
class DocumentsFetched:
    """The library's answer to FetchDocuments ``key``: the holder's documents (possibly none)."""

    key: str
    documents: tuple[DocumentItem, ...]


@dataclass(frozen=True)
class DocumentsUnavailable:
    """FetchDocuments ``key`` failed; ``unreachable`` when no answer came (worth a retry), else a refusal."""

    key: str
    reason: str
    unreachable: bool = True


class CertificateFault(StrEnum):
    """Why a certificate did not print, as far as the citizen must know: what to do differs for each."""

    PAPER_OUT = "paper_out"
    JAM = "jam"
    OFFLINE = "offline"  # printer unplugged, CUPS down, queue not accepting
    LIBRARY = "library"  # the document could not be fetched from the e-licence library
    OTHER = "other"


@dataclass(frozen=True)
class CertificatePrinted:
    """PrintCertificate ``key``: the job reached ``completed`` (the printer took the whole document)."""

    key: str


@dataclass(frozen=True)
class CertificatePrintFailed:
    """PrintCertificate ``key`` did not complete; ``reason`` is the driver's words (for the log, not the screen)."""

    key: str
    fault: CertificateFault
    reason: str = ""


Event = (Touch | IdCardRead | SocialSecurityRead | CardReadFailed | PrinterStatusRead | PrintDone | PrintFailed
         | ServerAnswer | ServerUnreachable | IdleTimeout | KioskHealth | RatingInvited | DocumentsFetched
         | DocumentsUnavailable | CertificatePrinted | CertificatePrintFailed)
