"""自助证照打印: the citizen taps the ID card, picks one of their documents, and the kiosk prints it on A4.

The ID card makes the Holder at once (the HMAC key asks the library, the masked name goes on the paper);
a social-security card is refused in words, because the library's proofs are issued to the resident ID.
A print counts as delivered only when the printer finished the job: jam, paper out or an offline printer
is said in words with what to do, logged on the server as a failed print, and a retry is offered. Every
print attempt, delivered or not, is reported once (document kind, masked holder, outcome), through the
outbox. After a delivered print, "done" asks for a rating (the rating flow, embedded: five levels, none
chosen, skippable) once the server has answered the report with the print's id; without that answer (the
server away) there is nothing to rate and the session ends. Idle or done: personal data wiped, back to start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from kiosk.flows import rating as rating_flow
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import (
    Effect,
    FetchDocuments,
    PrintCertificate,
    RateCertificatePrint,
    ReportCertificatePrint,
    Screen,
    Show,
    Speak,
    SubmitRating,
    WipePersonalData,
)
from kiosk.flows.events import (
    Button,
    CardReadFailed,
    CertificateFault,
    CertificatePrinted,
    CertificatePrintFailed,
    DocumentItem,
    DocumentsFetched,
    DocumentsUnavailable,
    Event,
    IdCardRead,
    IdleTimeout,
    RatingInvited,
    ServerAnswer,
    ServerUnreachable,
    SocialSecurityRead,
    Touch,
)
from kiosk.flows.holder import Holder, from_id_card
from kiosk.flows.take_ticket import card_words
from kiosk.flows.words import ASK_STAFF, NO_WORDS, Words

__all__ = ["FAULT_WORDS", "Certificates", "Stage", "document_label", "initial", "step"]


class Stage(StrEnum):
    CARD = "card"  # "tap your ID card"
    FETCHING = "fetching"  # FetchDocuments sent, waiting for the library
    LIBRARY_DOWN = "library_down"  # no answer from the library; RETRY asks again
    CHOOSE = "choose"  # the holder's documents (or the words that there are none)
    PRINTING = "printing"  # PrintCertificate sent, waiting for the job's outcome
    PRINT_FAILED = "print_failed"  # not delivered; RETRY prints the same document again
    DONE = "done"  # delivered: "take your certificate"
    RATING = "rating"  # the embedded rating flow asks, sends, thanks


#: stages waiting for the node's own answer (it always gives one): no idle reset in the middle of them
BUSY = frozenset({Stage.FETCHING, Stage.PRINTING})

FAULT_WORDS: dict[CertificateFault, Words] = {
    CertificateFault.PAPER_OUT: Words("打印机缺纸，证明未打印。请联系工作人员加纸后点「重试」。",
                                      "The printer is out of paper; nothing was printed. Ask the staff to load "
                                      "paper, then press Retry."),
    CertificateFault.JAM: Words("打印机卡纸，证明未打印完成。请联系工作人员处理后点「重试」。",
                                "The paper is jammed; the certificate was not printed. Ask the staff to clear it, "
                                "then press Retry."),
    CertificateFault.OFFLINE: Words("打印机暂时无法使用，证明未打印。请稍后重试或到窗口办理。",
                                    "The printer is not available; nothing was printed. Try again later or ask at "
                                    "a window."),
    CertificateFault.LIBRARY: Words("暂时无法从电子证照库取得该证明，未打印。请稍后重试。",
                                    "The document could not be fetched from the e-licence library; nothing was "
                                    "printed. Please try again later."),
    CertificateFault.OTHER: Words("证明未能打印。请重试，仍不行请到窗口办理。",
                                  "The certificate could not be printed. Try again; if it still fails, ask at a "
                                  "window."),
}
_TAP = Words("请将身份证放在读卡区，打印您本人的证明。",
             "Place your ID card on the reader to print your own certificates.")
_ID_ONLY = Words("自助证照打印须使用居民身份证，请刷身份证。",
                 "Certificates are printed for a resident ID card: please tap your ID card instead.")


def document_label(document: DocumentItem) -> Words:
    """A document as its target names it: the kind, then when it was issued (two of a kind tell apart by date)."""
    issued = document.issued
    return Words(f"{document.kind}（{issued.year}年{issued.month}月{issued.day}日）",
                 f"{document.kind_en or 'Certificate'}, issued {issued.isoformat()}")


@dataclass(frozen=True)
class Certificates:
    ctx: KioskContext
    stage: Stage = Stage.CARD
    holder: Holder | None = None
    documents: tuple[DocumentItem, ...] = ()
    chosen: DocumentItem | None = None
    key: str = ""  # the outstanding request's key (fetch or print)
    fault: CertificateFault | None = None
    attempts: int = 0  # every fetch and print of this node run: the keys' serial
    report_key: str = ""  # the key of the last print report, whose answer carries the print's id
    print_id: str = ""  # the server's id of the delivered print, what the rating rates
    rating: rating_flow.Rating | None = None  # while Stage.RATING
    rating_attempts: int = 0  # the embedded rating's key serial, kept across sessions


def initial(ctx: KioskContext) -> tuple[Certificates, list[Effect]]:
    state = Certificates(ctx)
    return state, [_screen(state)]


def step(state: Certificates, event: Event) -> tuple[Certificates, list[Effect]]:
    """One event; see the module docstring for the flow."""
    if state.stage is Stage.RATING:
        return _rating(state, event)
    if isinstance(event, ServerAnswer) and event.key == state.report_key and state.report_key:
        return _reported(state, event), []
    busy = state.stage in BUSY
    if isinstance(event, IdleTimeout):
        quiet = state.stage is Stage.CARD and state.holder is None
        return (state, []) if busy or quiet else end(state)
    if isinstance(event, IdCardRead):
        if busy:
            return state, []
        holder = from_id_card(event.record, event.today, state.ctx.holder_secret, state.ctx.hall.green.elderly_age)
        wipe: list[Effect] = [WipePersonalData()] if state.holder is not None else []  # the last holder's data
        new, effects = _fetch(_fresh(state, holder))
        return new, [*wipe, *effects]
    if isinstance(event, SocialSecurityRead | CardReadFailed):
        if busy:
            return state, []
        words = _ID_ONLY if isinstance(event, SocialSecurityRead) else card_words(event)
        return state, [_screen(state, words)]
    if isinstance(event, DocumentsFetched | DocumentsUnavailable):
        return _fetched(state, event) if state.stage is Stage.FETCHING and event.key == state.key else (state, [])
    if isinstance(event, CertificatePrinted | CertificatePrintFailed):
        return _printed(state, event) if state.stage is Stage.PRINTING and event.key == state.key else (state, [])
    if isinstance(event, Touch) and not busy:
        return _touch(state, event)
    return state, []


def end(state: Certificates) -> tuple[Certificates, list[Effect]]:
    """Session over (done, idle): personal data wiped, back to the start screen; the key serials go on."""
    fresh = _fresh(state, None)
    return fresh, [WipePersonalData(), _screen(fresh)]


def _fresh(state: Certificates, holder: Holder | None) -> Certificates:
    """A new session (a card tap: a different citizen, or the same one again; or nobody, after an end)."""
    return Certificates(state.ctx, holder=holder, attempts=state.attempts, rating_attempts=state.rating_attempts)


def _reported(state: Certificates, event: ServerAnswer) -> Certificates:
    """The server's answer to the last print report: a delivered print's id, for the rating."""
    print_id = event.body.get("print")
    if event.ok and event.body.get("outcome") == "printed" and isinstance(print_id, str) and print_id:
        return replace(state, print_id=print_id)
    return state


def _rating_context(ctx: KioskContext) -> KioskContext:
    """The embedded rating's own key seed, so its keys never meet the take-ticket flow's rating keys."""
    return replace(ctx, key_seed=f"{ctx.key_seed}-cr")


def _ask_rating(state: Certificates) -> tuple[Certificates, list[Effect]]:
    asking = rating_flow.Rating(_rating_context(state.ctx), attempts=state.rating_attempts)
    return _rating(replace(state, stage=Stage.RATING, rating=asking), RatingInvited(state.print_id))


def _rating(state: Certificates, event: Event) -> tuple[Certificates, list[Effect]]:
    """Feed the embedded rating flow; its rating goes to the print's route, its end is this flow's end."""
    assert state.rating is not None
    if not isinstance(event, Touch | IdleTimeout | ServerAnswer | ServerUnreachable | RatingInvited):
        return state, []
    asked, effects = rating_flow.step(state.rating, event)
    state = replace(state, rating=asked, rating_attempts=asked.attempts)
    if asked.stage is rating_flow.Stage.IDLE:
        return end(state)
    return state, [RateCertificatePrint(e.ticket_id, e.key, e.body) if isinstance(e, SubmitRating) else e
                   for e in effects]


def _fetch(state: Certificates) -> tuple[Certificates, list[Effect]]:
    assert state.holder is not None
    attempts = state.attempts + 1
    new = replace(state, stage=Stage.FETCHING, key=f"{state.ctx.key_seed}-cd{attempts}", attempts=attempts)
    return new, [FetchDocuments(new.key, state.holder.key), _screen(new)]


def _fetched(state: Certificates, event: DocumentsFetched | DocumentsUnavailable) -> tuple[Certificates, list[Effect]]:
    if isinstance(event, DocumentsUnavailable):
        new = replace(state, stage=Stage.LIBRARY_DOWN, key="")
        return new, [_screen(new, None if event.unreachable else
                             Words("电子证照库未受理查询。", "The e-licence library refused the query.") + ASK_STAFF)]
    new = replace(state, stage=Stage.CHOOSE, documents=event.documents, key="")
    return new, [_screen(new)]


def _print(state: Certificates, document: DocumentItem) -> tuple[Certificates, list[Effect]]:
    assert state.holder is not None
    attempts = state.attempts + 1
    new = replace(state, stage=Stage.PRINTING, chosen=document, fault=None,
                  key=f"{state.ctx.key_seed}-cp{attempts}", attempts=attempts)
    return new, [PrintCertificate(new.key, document.id, state.holder.key, state.holder.masked), _screen(new)]


def _printed(state: Certificates, event: CertificatePrinted | CertificatePrintFailed) -> tuple[Certificates,
                                                                                            list[Effect]]:
    assert state.holder is not None and state.chosen is not None
    body: dict[str, str] = {"kind": state.chosen.kind, "holder_masked": state.holder.masked}
    state = replace(state, report_key=f"{state.key}-log", print_id="")
    if isinstance(event, CertificatePrinted):
        new = replace(state, stage=Stage.DONE, key="")
        report = ReportCertificatePrint(state.report_key, body | {"outcome": "printed"})
        take = Speak(Words("证明已打印，请取走。", "Your certificate is printed; please take it."))
        return new, [report, _screen(new), take]
    new = replace(state, stage=Stage.PRINT_FAILED, key="", fault=event.fault)
    report = ReportCertificatePrint(state.report_key, body | {"outcome": "failed", "reason": event.fault.value})
    return new, [report, _screen(new)]


def _touch(state: Certificates, touch: Touch) -> tuple[Certificates, list[Effect]]:
    button, stage = touch.button, state.stage
    if button is Button.DONE and stage is Stage.DONE and state.print_id:
        return _ask_rating(state)
    if button is Button.DONE and (stage is not Stage.CARD or state.holder is not None):
        return end(state)
    if stage is Stage.CHOOSE and button is Button.DOCUMENT:
        document = next((d for d in state.documents if d.id == touch.value), None)
        return _print(state, document) if document is not None else (state, [])
    if button is Button.RETRY and stage is Stage.LIBRARY_DOWN:
        return _fetch(state)
    if button is Button.RETRY and stage is Stage.PRINT_FAILED and state.chosen is not None:
        return _print(state, state.chosen)
    if button is Button.BACK and stage in (Stage.PRINT_FAILED, Stage.DONE):
        new = replace(state, stage=Stage.CHOOSE, chosen=None, fault=None)
        return new, [_screen(new)]
    return state, []


def _screen(state: Certificates, words: Words | None = None) -> Show:
    """The screen of a stage; ``words`` replace its usual ones (a refusal, a failed card read)."""
    masked = state.holder.masked if state.holder else ""
    done, back, retry = Touch(Button.DONE), Touch(Button.BACK), Touch(Button.RETRY)
    stage = state.stage
    if stage is Stage.FETCHING:
        looking = Words("正在查询您的电子证照……", "Looking up your certificates…")
        return Show(Screen.WORKING, looking, holder_masked=masked)
    if stage is Stage.LIBRARY_DOWN:
        said = words or Words("暂时无法连接电子证照库，请稍后重试。",
                              "The e-licence library cannot be reached just now. Please try again shortly.")
        return Show(Screen.UNREACHABLE, said, choices=(retry, done), holder_masked=masked)
    if stage is Stage.CHOOSE:
        if not state.documents:
            none = Words("电子证照库中没有您可自助打印的证明。如需办理，请到窗口咨询。",
                         "The e-licence library holds no certificates of yours to print here. Please ask at a window.")
            return Show(Screen.DOCUMENTS, words or none, choices=(done,), holder_masked=masked)
        pick = Words("请选择要打印的证明。", "Choose the certificate to print.")
        items = tuple(Touch(Button.DOCUMENT, d.id) for d in state.documents)
        labels = (*(document_label(d) for d in state.documents), NO_WORDS)
        return Show(Screen.DOCUMENTS, words or pick, choices=(*items, done), holder_masked=masked, labels=labels)
    kind = Words(state.chosen.kind, state.chosen.kind_en or "certificate") if state.chosen else Words("", "")
    if stage is Stage.PRINTING:
        return Show(Screen.WORKING, Words(f"正在打印「{kind.zh}」，请稍候……", f"Printing your {kind.en}, please wait…"),
                    holder_masked=masked)
    if stage is Stage.PRINT_FAILED:
        said = FAULT_WORDS[state.fault or CertificateFault.OTHER]
        return Show(Screen.PRINT_FAILED, words or said, choices=(retry, back, done), holder_masked=masked)
    if stage is Stage.DONE:
        take = Words(f"「{kind.zh}」已打印，请从下方出纸口取走。", f"Your {kind.en} is printed; please take it from "
                     "the tray below.")
        return Show(Screen.CERTIFICATE_DONE, words or take, choices=(back, done), holder_masked=masked)
    return Show(Screen.CERTIFICATE_CARD, words or _TAP, choices=(done,) if state.holder else (), holder_masked=masked)
