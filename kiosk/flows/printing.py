"""Print, then confirm: the one job every ticket-giving flow runs (take a ticket, check in).

Printer status first (no request to a kiosk that cannot print), then the request with its Idempotency-Key
(the same key on every retry), then the print, then ``printed`` or ``print_failed`` reported. Only a
number from the server's answer is ever printed, and every print is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from devices.state import DeviceState, PaperState
from kiosk.flows.context import KioskContext, nearest_kiosk
from kiosk.flows.effects import (
    Effect,
    PrintTicket,
    ReadPrinterStatus,
    ReportPrinted,
    ReportPrintFailed,
    RequestCheckIn,
    RequestTicket,
    Screen,
    Show,
    Speak,
    TicketPrint,
)
from kiosk.flows.events import (
    Button,
    Event,
    PrintDone,
    PrinterStatusRead,
    PrintFailed,
    ServerAnswer,
    ServerUnreachable,
    Touch,
)
from kiosk.flows.words import Words, refusal_words

__all__ = ["BUSY", "Issued", "Job", "Phase", "Route", "orphan_report", "printer_usable", "start", "step"]

PRIORITY_MARKS = {"green": "绿色通道", "appointment": "预约"}


class Route(StrEnum):
    TICKET = "ticket"  # POST /api/v1/tickets
    CHECK_IN = "check_in"  # POST /api/v1/appointments/check-in


class Phase(StrEnum):
    CHECK_PRINTER = "check_printer"  # waiting for PrinterStatusRead (before the request or a reprint)
    PRINTER_DOWN = "printer_down"  # cannot print here; RETRY checks again
    ASK_SERVER = "ask_server"  # request sent, waiting for its answer
    UNREACHABLE = "unreachable"  # no answer; RETRY sends the same request with the same key
    REFUSED = "refused"  # the server said no; ``error`` holds why
    OFFER_REPRINT = "offer_reprint"  # existing=true: the holder's open ticket, reprint offered
    PRINTING = "printing"  # PrintTicket sent, waiting for PrintDone / PrintFailed
    DONE = "done"  # printed and reported; the number on screen with a reprint offer
    PRINT_FAILED = "print_failed"  # the print failed and was reported; the number on screen, reprint offered


#: phases waiting for the node's own answer (it always gives one): no idle reset in the middle of them
BUSY = frozenset({Phase.CHECK_PRINTER, Phase.ASK_SERVER, Phase.PRINTING})


@dataclass(frozen=True)
class Issued:
    """The ticket as the server's answer gives it (fields of the Ticket schema the paper needs)."""

    id: str
    number: str
    service: str
    service_name: str
    ahead: int
    estimated_wait_s: int | None
    issued_at: float
    status_url: str
    priority: str = "normal"
    existing: bool = False

    @classmethod
    def from_answer(cls, body: Mapping[str, Any]) -> Issued | None:
        """None for an answer without a usable id and number: then nothing is printed."""
        ident, number = body.get("id"), body.get("number")
        if not (isinstance(ident, str) and ident and isinstance(number, str) and number):
            return None
        wait = body.get("estimated_wait_s")
        ahead = body.get("ahead")
        issued_at = body.get("issued_at")
        return cls(ident, number, str(body.get("service", "")), str(body.get("service_name", "")),
                   ahead if isinstance(ahead, int) else 0, wait if isinstance(wait, int) else None,
                   float(issued_at) if isinstance(issued_at, int | float) else 0.0,
                   str(body.get("status_url", "")), str(body.get("priority", "normal")),
                   body.get("existing") is True)


@dataclass(frozen=True)
class Job:
    """One attempt: its request (``key`` fixed for all its retries), and the ticket once the server gave one."""

    route: Route
    key: str
    body: Mapping[str, Any]
    holder_masked: str = ""
    phase: Phase = Phase.CHECK_PRINTER
    ticket: Issued | None = None
    error: Mapping[str, Any] = field(default_factory=dict)
    prints: int = 0  # PrintTicket effects sent for this ticket; names each report's key


def printer_usable(status: PrinterStatusRead) -> bool:
    """Paper known to be there (ok or near end) and the printer up; unknown paper is not taken for ok."""
    return status.state in (DeviceState.READY, DeviceState.DEGRADED) and \
        status.paper in (PaperState.OK, PaperState.NEAR_END)


def start(route: Route, key: str, body: Mapping[str, Any], holder_masked: str = "") -> tuple[Job, list[Effect]]:
    """A new attempt: check the printer before anything is asked of the server."""
    return Job(route, key, dict(body), holder_masked), [Show(Screen.WORKING, _WAIT), ReadPrinterStatus()]


def step(job: Job, event: Event, ctx: KioskContext, down: frozenset[str]) -> tuple[Job, list[Effect]]:
    """One event for the job; anything it does not expect in its phase changes nothing."""
    if isinstance(event, PrinterStatusRead) and job.phase is Phase.CHECK_PRINTER:
        return _printer(job, event, ctx, down)
    if isinstance(event, ServerAnswer | ServerUnreachable) and event.key == job.key \
            and job.phase is Phase.ASK_SERVER:
        return _answer(job, event, ctx)
    if isinstance(event, PrintDone | PrintFailed) and job.phase is Phase.PRINTING and job.ticket is not None \
            and event.ticket_id == job.ticket.id:
        return _printed(job, event, ctx, down)
    if isinstance(event, Touch):
        again = (event.button is Button.REPRINT and job.ticket is not None
                 and job.phase in (Phase.DONE, Phase.PRINT_FAILED, Phase.OFFER_REPRINT, Phase.PRINTER_DOWN)) \
            or (event.button is Button.RETRY and job.phase in (Phase.PRINTER_DOWN, Phase.UNREACHABLE))
        if again:
            return replace(job, phase=Phase.CHECK_PRINTER), [Show(Screen.WORKING, _WAIT), ReadPrinterStatus()]
    return job, []


def orphan_report(event: Event, current_key: str | None) -> list[Effect]:
    """A new ticket answered to a request nobody waits for any more is marked print_failed, never left open."""
    if not isinstance(event, ServerAnswer) or event.key == current_key or event.status != 201:
        return []
    ticket = Issued.from_answer(event.body)
    if ticket is None or ticket.existing:
        return []
    return [ReportPrintFailed(ticket.id, f"{event.key}-orphan",
                              "not printed: the kiosk session ended before the server's answer came")]


def _request(job: Job) -> Effect:
    return RequestTicket(job.key, job.body) if job.route is Route.TICKET else RequestCheckIn(job.key, job.body)


def _printer(job: Job, status: PrinterStatusRead, ctx: KioskContext, down: frozenset[str]) -> tuple[Job, list[Effect]]:
    if not printer_usable(status):
        words = _printer_words(status) + _elsewhere(ctx, down)
        return replace(job, phase=Phase.PRINTER_DOWN), [
            Show(Screen.PRINTER_DOWN, words, number=job.ticket.number if job.ticket else "",
                 choices=(Touch(Button.RETRY), Touch(Button.DONE)))]
    if job.ticket is None:
        return replace(job, phase=Phase.ASK_SERVER), [_request(job)]
    return _print(job, ctx, reprint=True)


def _print(job: Job, ctx: KioskContext, reprint: bool) -> tuple[Job, list[Effect]]:
    ticket = job.ticket
    assert ticket is not None
    wait = None if ticket.estimated_wait_s is None else math.ceil(ticket.estimated_wait_s / 60)
    paper = TicketPrint(ticket.id, ticket.number, ctx.hall.name, ticket.service_name, ticket.ahead, wait,
                        ticket.issued_at, ticket.status_url, job.holder_masked,
                        PRIORITY_MARKS.get(ticket.priority, ""), reprint)
    return replace(job, phase=Phase.PRINTING, prints=job.prints + 1), [PrintTicket(paper)]


def _answer(job: Job, event: ServerAnswer | ServerUnreachable, ctx: KioskContext) -> tuple[Job, list[Effect]]:
    if isinstance(event, ServerUnreachable):
        return replace(job, phase=Phase.UNREACHABLE), [
            Show(Screen.UNREACHABLE, _UNREACHABLE, choices=(Touch(Button.RETRY), Touch(Button.DONE)))]
    if not event.ok:
        error = dict(event.error)
        return replace(job, phase=Phase.REFUSED, error=error), [
            Show(Screen.REFUSED, refusal_words(error), choices=(Touch(Button.BACK), Touch(Button.DONE)))]
    ticket = Issued.from_answer(event.body)
    if ticket is None:
        error = {"code": "bad_answer", "message_zh": "服务器应答无法识别", "message_en": "the server's answer "
                 "could not be read"}
        return replace(job, phase=Phase.REFUSED, error=error), [
            Show(Screen.REFUSED, refusal_words(error), choices=(Touch(Button.BACK), Touch(Button.DONE)))]
    job = replace(job, ticket=ticket)
    if ticket.existing:
        words = Words(f"您已有本业务的号码 {ticket.number}，是否补打？",
                      f"You already have ticket {ticket.number} for this service. Print it again?")
        return replace(job, phase=Phase.OFFER_REPRINT), [
            Show(Screen.REPRINT_OFFER, words, number=ticket.number,
                 choices=(Touch(Button.REPRINT), Touch(Button.NO_REPRINT)))]
    return _print(job, ctx, reprint=False)


def _printed(job: Job, event: PrintDone | PrintFailed, ctx: KioskContext,
             down: frozenset[str]) -> tuple[Job, list[Effect]]:
    ticket = job.ticket
    assert ticket is not None
    key = f"{job.key}-p{job.prints}"
    choices = (Touch(Button.REPRINT), Touch(Button.DONE))
    if isinstance(event, PrintDone):
        words = Words(f"您的号码是 {ticket.number}，前面还有 {ticket.ahead} 人。",
                      f"Your number is {ticket.number}; {ticket.ahead} ahead of you.")
        return replace(job, phase=Phase.DONE), [
            ReportPrinted(ticket.id, key), Show(Screen.NUMBER, words, number=ticket.number, choices=choices),
            Speak(Words(f"您的号码是 {ticket.number}", f"Your number is {ticket.number}"))]
    words = Words(f"小票打印失败（{event.reason}）。您的号码 {ticket.number} 已保留，请记下号码，",
                  f"The ticket could not be printed ({event.reason}). Your number {ticket.number} is kept; "
                  "note it down,") + _elsewhere(ctx, down, reprint=True)
    return replace(job, phase=Phase.PRINT_FAILED), [
        ReportPrintFailed(ticket.id, key, event.reason),
        Show(Screen.PRINT_FAILED, words, number=ticket.number, choices=choices)]


def _printer_words(status: PrinterStatusRead) -> Words:
    if status.paper is PaperState.OUT:
        return Words("本机小票纸已用完，暂不能取号。", "This kiosk is out of ticket paper.")
    if status.state is DeviceState.DISCONNECTED:
        return Words("本机打印机未连接，暂不能取号。", "This kiosk's printer is not connected.")
    if status.paper is PaperState.UNKNOWN and status.state is not DeviceState.FAULT:
        return Words("无法确认本机打印机有纸，暂不能取号。", "This kiosk cannot tell whether its printer has paper.")
    return Words("本机打印机故障，暂不能取号。", f"This kiosk's printer has a fault ({status.reason or 'offline'}).")


def _elsewhere(ctx: KioskContext, down: frozenset[str], reprint: bool = False) -> Words:
    other = nearest_kiosk(ctx, down)
    if other is None:
        return Words("请到导办台由工作人员为您取号。", "Please ask the staff at the information desk for a ticket.")
    if reprint:
        return Words(f"或到 {other} 刷卡补打。", f"or tap your card at {other} to print it again.")
    return Words(f"请到 {other} 取号。", f"Please use {other}.")


_WAIT = Words("请稍候……", "One moment, please…")
_UNREACHABLE = Words("暂时无法连接排队服务器，号码尚未取得。请点“重试”，或到导办台求助。",
                     "The queue server cannot be reached and no number was issued yet. Touch Retry, "
                     "or ask at the information desk.")
