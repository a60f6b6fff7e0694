"""What a flow asks the node to do: the one effect union, each a plain record the node performs.

Requests carry their Idempotency-Key; the node sends them with it, retries them with the same key, and feeds
the outcome back as ServerAnswer or ServerUnreachable with that key. Reports and ratings go through the
node's durable outbox, so they arrive even when the server is away for a while.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.flows.events import Touch
from kiosk.flows.words import NO_WORDS, Words

__all__ = ["Effect", "FetchDocuments", "FetchTicketStatus", "PrintCertificate", "PrintTicket", "RateCertificatePrint",
           "ReadPrinterStatus", "ReportCertificatePrint", "ReportPrintFailed", "ReportPrinted", "RequestCheckIn",
           "RequestTicket", "Screen", "Show", "Speak", "SubmitRating", "TicketPrint", "WipePersonalData"]


class Screen(StrEnum):
    """Every screen a flow can ask for; screens/kiosk_ui.py draws one view per member."""

    START = "start"
    SERVICES = "services"
    NEED_CARD = "need_card"
    GREEN_OFFER = "green_offer"
    WORKING = "working"
    PRINTER_DOWN = "printer_down"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    NUMBER = "number"
    REPRINT_OFFER = "reprint_offer"
    PRINT_FAILED = "print_failed"
    CODE_ENTRY = "code_entry"
    CHOOSE_APPOINTMENT = "choose_appointment"
    RATING = "rating"
    THANKS = "thanks"
    GUIDE_SERVICES = "guide_services"
    GUIDE = "guide"
    STATUS_ENTRY = "status_entry"
    STATUS = "status"
    CERTIFICATE_CARD = "certificate_card"  # 自助证照打印: "tap your ID card"
    DOCUMENTS = "documents"  # the holder's documents to pick from (or the words that there are none); each
    # choice is Touch(DOCUMENT, id), labelled in the Show's ``labels`` (kind, kind_en, issued)
    CERTIFICATE_DONE = "certificate_done"  # "take your certificate"


@dataclass(frozen=True)
class Show:
    """Show a screen; ``choices`` are its targets, each the very Touch it gives back when pressed.

    ``labels``, when given, runs parallel to ``choices``: the words on each target, for choices that are not
    config items the UI can name itself (a holder's documents); NO_WORDS in a slot keeps the UI's own label.
    Everything a screen shows travels in the Show, so the UI never reaches into a flow's state.
    """

    screen: Screen
    words: Words = NO_WORDS
    number: str = ""
    choices: tuple[Touch, ...] = ()
    qr: str = ""
    holder_masked: str = ""
    labels: tuple[Words, ...] = ()

    def __post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.choices):
            raise ValueError(f"{len(self.labels)} labels for {len(self.choices)} choices on {self.screen.value}")

    def label_of(self, touch: Touch) -> Words:
        """The flow's own words for ``touch``, or NO_WORDS when the UI names it."""
        for choice, label in zip(self.choices, self.labels, strict=False):
            if choice == touch:
                return label
        return NO_WORDS


@dataclass(frozen=True)
class Speak:
    words: Words


@dataclass(frozen=True)
class ReadPrinterStatus:
    """Ask the ticket printer for its DLE EOT status; answered by PrinterStatusRead."""


@dataclass(frozen=True)
class RequestTicket:
    """POST /api/v1/tickets with this body and Idempotency-Key; answered by ServerAnswer/ServerUnreachable."""

    key: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class RequestCheckIn:
    """POST /api/v1/appointments/check-in with this body ({code} or {holder_key}) and Idempotency-Key."""

    key: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class TicketPrint:
    """What goes on the paper, all from the server's answer; the node maps it onto TicketLayout."""

    ticket_id: str
    number: str
    hall_name: str
    service_name: str
    people_ahead: int
    estimated_wait_min: int | None
    issued_at: float  # epoch seconds; the node shows it in the hall's time zone
    status_url: str
    holder_masked: str = ""
    priority_mark: str = ""  # 绿色通道, 预约
    reprint: bool = False


@dataclass(frozen=True)
class PrintTicket:
    """Print one ticket; answered by PrintDone or PrintFailed with its ticket id."""

    ticket: TicketPrint


@dataclass(frozen=True)
class ReportPrinted:
    """POST /api/v1/tickets/{id}/printed through the outbox."""

    ticket_id: str
    key: str


@dataclass(frozen=True)
class ReportPrintFailed:
    """POST /api/v1/tickets/{id}/print_failed {reason} through the outbox."""

    ticket_id: str
    key: str
    reason: str


@dataclass(frozen=True)
class SubmitRating:
    """POST /api/v1/tickets/{id}/rating {level, channel: kiosk}; a ServerUnreachable means it waits in the outbox."""

    ticket_id: str
    key: str
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FetchTicketStatus:
    """Ticket status by its printed number: the node maps number → id from the event stream it follows
    (kiosks may not list tickets) and GETs /api/v1/tickets/{id}; an unknown number is answered 404."""

    key: str
    number: str


@dataclass(frozen=True)
class FetchDocuments:
    """GET the holder's documents from the e-licence library; answered by DocumentsFetched / DocumentsUnavailable
    with ``key`` (a correlation key only: the request changes nothing)."""

    key: str
    holder_key: str


@dataclass(frozen=True)
class PrintCertificate:
    """Fetch the document in full (with its holder's key), render the A4 PDF with its QR code and print it
    through CUPS until the job completed; answered by CertificatePrinted / CertificatePrintFailed with ``key``."""

    key: str
    document_id: str
    holder_key: str
    holder_masked: str


@dataclass(frozen=True)
class ReportCertificatePrint:
    """POST /api/v1/certificates/prints {kind, holder_masked, outcome, reason?} through the outbox."""

    key: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class RateCertificatePrint:
    """POST /api/v1/certificates/prints/{print_id}/rating {level, channel: kiosk} through the outbox."""

    print_id: str
    key: str
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WipePersonalData:
    """Forget the session's holder (HMAC, masked name) and any card data the node still holds."""


Effect = (Show | Speak | ReadPrinterStatus | RequestTicket | RequestCheckIn | PrintTicket | ReportPrinted
          | ReportPrintFailed | SubmitRating | FetchTicketStatus | WipePersonalData | FetchDocuments | PrintCertificate
          | ReportCertificatePrint | RateCertificatePrint)
