"""Certificate printing flow: every transition, printer fault, library failure and refusal, with no device."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kiosk.flows import certificate as cf
from kiosk.flows.effects import (
    FetchDocuments,
    PrintCertificate,
    RateCertificatePrint,
    ReportCertificatePrint,
    Screen,
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
    IdleTimeout,
    ServerAnswer,
    Touch,
)
from kiosk.flows.holder import holder_key
from tests.support.kiosk_flows import SECRET, context, id_card, of, run_flow, shown, ss_card

PROOF = DocumentItem("sb-1", "参保证明", "Social insurance certificate", dt.date(2026, 11, 20))
TAX = DocumentItem("ws-1", "完税证明", "Tax payment certificate", dt.date(2026, 11, 2))


def run(state: cf.Certificates, *events: Any) -> tuple[cf.Certificates, list[Any]]:
    return run_flow(cf.step, state, *events)


def start() -> cf.Certificates:
    state, effects = cf.initial(context())
    assert shown(effects).screen is Screen.CERTIFICATE_CARD and shown(effects).choices == ()
    return state


def tapped() -> tuple[cf.Certificates, list[Any]]:
    return run(start(), id_card())


def choosing(*documents: DocumentItem) -> cf.Certificates:
    state, _ = run(tapped()[0], DocumentsFetched("seed-cd1", documents or (PROOF, TAX)))
    return state


def printing() -> cf.Certificates:
    state, _ = run(choosing(), Touch(Button.DOCUMENT, "sb-1"))
    return state


def test_an_id_card_asks_the_library_by_holder_key_only_and_shows_the_masked_name() -> None:
    state, effects = tapped()
    assert not of(effects, WipePersonalData)  # nobody's data to wipe yet
    (fetch,) = of(effects, FetchDocuments)
    card = id_card()
    assert fetch == FetchDocuments("seed-cd1", holder_key(card.record.id_number, SECRET))
    assert state.stage is cf.Stage.FETCHING and shown(effects).holder_masked == "张**"
    assert card.record.id_number not in repr(state) and "张三丰" not in repr(state) and "张三丰" not in repr(effects)


def test_the_holders_documents_are_listed_as_targets_with_done() -> None:
    state, effects = run(tapped()[0], DocumentsFetched("seed-cd1", (PROOF, TAX)))
    screen = shown(effects)
    assert state.stage is cf.Stage.CHOOSE and screen.screen is Screen.DOCUMENTS
    assert screen.choices == (Touch(Button.DOCUMENT, "sb-1"), Touch(Button.DOCUMENT, "ws-1"), Touch(Button.DONE))


def test_a_holder_with_no_documents_is_told_so_and_can_only_leave() -> None:
    state, effects = run(tapped()[0], DocumentsFetched("seed-cd1", ()))
    screen = shown(effects)
    assert screen.screen is Screen.DOCUMENTS and screen.choices == (Touch(Button.DONE),)
    assert "没有" in screen.words.zh and "no certificates" in screen.words.en
    state, effects = run(state, Touch(Button.DONE))
    assert of(effects, WipePersonalData) and state.holder is None


def test_picking_a_document_prints_it_for_this_holder() -> None:
    state, effects = run(choosing(), Touch(Button.DOCUMENT, "ws-1"))
    (job,) = of(effects, PrintCertificate)
    assert job.document_id == "ws-1" and job.holder_masked == "张**" and job.key == "seed-cp2"
    assert job.holder_key == holder_key(id_card().record.id_number, SECRET)
    assert state.stage is cf.Stage.PRINTING and "完税证明" in shown(effects).words.zh


def test_an_unknown_document_id_is_ignored() -> None:
    state = choosing()
    assert run(state, Touch(Button.DOCUMENT, "not-mine")) == (state, [])


def test_a_completed_job_is_delivered_and_logged_once_with_kind_and_masked_holder() -> None:
    state, effects = run(printing(), CertificatePrinted("seed-cp2"))
    assert of(effects, ReportCertificatePrint) == [ReportCertificatePrint(
        "seed-cp2-log", {"kind": "参保证明", "holder_masked": "张**", "outcome": "printed"})]
    screen = shown(effects)
    assert state.stage is cf.Stage.DONE and screen.screen is Screen.CERTIFICATE_DONE
    assert Touch(Button.BACK) in screen.choices and Touch(Button.DONE) in screen.choices
    assert run(state, CertificatePrinted("seed-cp2")) == (state, [])  # a repeated outcome is not logged twice
    again, effects = run(state, Touch(Button.BACK))
    assert again.stage is cf.Stage.CHOOSE and shown(effects).screen is Screen.DOCUMENTS


@pytest.mark.parametrize(("fault", "zh", "en"), [
    (CertificateFault.PAPER_OUT, "缺纸", "out of paper"), (CertificateFault.JAM, "卡纸", "jammed"),
    (CertificateFault.OFFLINE, "无法使用", "not available"), (CertificateFault.LIBRARY, "电子证照库", "e-licence"),
    (CertificateFault.OTHER, "未能打印", "could not be printed")])
def test_a_failed_job_is_not_delivered_says_why_in_words_logs_the_failure_and_offers_retry(
        fault: CertificateFault, zh: str, en: str) -> None:
    state, effects = run(printing(), CertificatePrintFailed("seed-cp2", fault, "certificate_printer 'cert': …"))
    (report,) = of(effects, ReportCertificatePrint)
    assert report.body == {"kind": "参保证明", "holder_masked": "张**", "outcome": "failed", "reason": fault.value}
    screen = shown(effects)
    assert state.stage is cf.Stage.PRINT_FAILED and screen.screen is Screen.PRINT_FAILED
    assert zh in screen.words.zh and en in screen.words.en and "certificate_printer" not in screen.words.en
    assert screen.choices == (Touch(Button.RETRY), Touch(Button.BACK), Touch(Button.DONE))
    state, effects = run(state, Touch(Button.RETRY))
    (job,) = of(effects, PrintCertificate)
    assert job.document_id == "sb-1" and job.key == "seed-cp3" and state.stage is cf.Stage.PRINTING
    state, effects = run(state, CertificatePrinted("seed-cp3"))
    assert [r.body["outcome"] for r in of(effects, ReportCertificatePrint)] == ["printed"]


def test_the_library_unreachable_offers_retry_with_a_new_key() -> None:
    state, effects = run(tapped()[0], DocumentsUnavailable("seed-cd1", "timed out"))
    assert state.stage is cf.Stage.LIBRARY_DOWN and shown(effects).screen is Screen.UNREACHABLE
    assert Touch(Button.RETRY) in shown(effects).choices
    state, effects = run(state, Touch(Button.RETRY))
    assert of(effects, FetchDocuments)[0].key == "seed-cd2"
    state, _ = run(state, DocumentsFetched("seed-cd2", (PROOF,)))
    assert state.stage is cf.Stage.CHOOSE


def test_a_library_refusal_is_said_with_whom_to_ask() -> None:
    _, effects = run(tapped()[0], DocumentsUnavailable("seed-cd1", "HTTP 400", unreachable=False))
    assert "refused" in shown(effects).words.en and "information desk" in shown(effects).words.en


def test_answers_with_other_keys_or_in_other_stages_are_ignored() -> None:
    state = tapped()[0]
    assert run(state, DocumentsFetched("seed-cd9", (PROOF,))) == (state, [])
    assert run(state, CertificatePrinted("seed-cd1")) == (state, [])
    state = printing()
    assert run(state, CertificatePrintFailed("seed-cp1", CertificateFault.JAM)) == (state, [])
    assert run(state, DocumentsFetched("seed-cd1", ())) == (state, [])
    assert run(state, ServerAnswer("seed-cp2-log", 201, {})) == (state, [])


def test_busy_stages_ignore_touches_cards_and_idle() -> None:
    for state in (tapped()[0], printing()):
        for event in (Touch(Button.DONE), id_card(), ss_card(), IdleTimeout(), CardReadFailed("x", pulled=True)):
            assert run(state, event) == (state, [])


def test_a_social_security_card_is_refused_in_words_and_a_pulled_card_asks_to_tap_again() -> None:
    state, effects = run(start(), ss_card())
    assert state.holder is None and not of(effects, FetchDocuments)
    assert "居民身份证" in shown(effects).words.zh and "ID card" in shown(effects).words.en
    state, effects = run(start(), CardReadFailed("card pulled", pulled=True))
    assert "卡片移开了" in shown(effects).words.zh and not of(effects, FetchDocuments)


def test_a_new_card_in_the_middle_starts_over_for_the_new_holder() -> None:
    state = choosing()
    state, effects = run(state, id_card(name="李四", birth=dt.date(1990, 3, 3)))
    (fetch,) = of(effects, FetchDocuments)
    assert isinstance(effects[0], WipePersonalData)  # the previous holder's data first
    assert state.documents == () and state.chosen is None and shown(effects).holder_masked == "李*"
    assert fetch.holder_key == holder_key(id_card(name="李四", birth=dt.date(1990, 3, 3)).record.id_number, SECRET)


@pytest.mark.parametrize("stage_of", [choosing, lambda: run(printing(), CertificatePrinted("seed-cp2"))[0],
                                      lambda: run(printing(), CertificatePrintFailed(
                                          "seed-cp2", CertificateFault.JAM))[0]])
def test_idle_and_done_wipe_the_holder_and_return_to_the_start(stage_of: Any) -> None:
    for event in (IdleTimeout(), Touch(Button.DONE)):
        state, effects = run(stage_of(), event)
        assert of(effects, WipePersonalData) and state.holder is None and state.stage is cf.Stage.CARD
        assert shown(effects).screen is Screen.CERTIFICATE_CARD and state.attempts >= 1  # the key serial goes on


def test_idle_on_the_empty_start_screen_does_nothing() -> None:
    state = start()
    assert run(state, IdleTimeout()) == (state, [])
    assert run(state, Touch(Button.DONE)) == (state, [])


def delivered(print_id: str = "p-1") -> cf.Certificates:
    state, _ = run(printing(), CertificatePrinted("seed-cp2"))
    if print_id:
        body = {"print": print_id, "kind": "参保证明", "outcome": "printed", "reason": "", "at": 1.0, "level": None}
        state, effects = run(state, ServerAnswer("seed-cp2-log", 201, body))
        assert effects == [] and state.print_id == print_id
    return state


def test_done_after_a_delivered_print_asks_for_a_rating_sent_to_the_prints_route() -> None:
    state, effects = run(delivered(), Touch(Button.DONE))
    screen = shown(effects)
    assert state.stage is cf.Stage.RATING and screen.screen is Screen.RATING
    assert [t.value for t in screen.choices if t.button is Button.LEVEL] == ["5", "4", "3", "2", "1"]
    assert Touch(Button.SKIP) in screen.choices and not of(effects, RateCertificatePrint)
    state, effects = run(state, Touch(Button.LEVEL, "4"))
    assert of(effects, RateCertificatePrint) == [RateCertificatePrint("p-1", "seed-cr-r1",
                                                                      {"level": 4, "channel": "kiosk"})]
    assert not of(effects, SubmitRating)  # the ticket route would not know a print
    state, effects = run(state, ServerAnswer("seed-cr-r1", 201, {"print": "p-1", "level": 4}))
    assert shown(effects).screen is Screen.THANKS
    state, effects = run(state, Touch(Button.DONE))
    assert of(effects, WipePersonalData) and shown(effects).screen is Screen.CERTIFICATE_CARD
    assert state.stage is cf.Stage.CARD and state.holder is None and state.rating_attempts == 1
    _, effects = run(state, id_card(), DocumentsFetched("seed-cd3", (PROOF,)), Touch(Button.DOCUMENT, "sb-1"),
                     CertificatePrinted("seed-cp4"),
                     ServerAnswer("seed-cp4-log", 201, {"print": "p-2", "outcome": "printed"}),
                     Touch(Button.DONE), Touch(Button.LEVEL, "5"))
    assert of(effects, RateCertificatePrint)[0].key == "seed-cr-r2"  # keys never repeat in a node run


def test_skip_or_idle_in_the_rating_ends_the_session_without_a_rating() -> None:
    for event in (Touch(Button.SKIP), IdleTimeout()):
        state, effects = run(delivered(), Touch(Button.DONE), event)
        assert not of(effects, RateCertificatePrint) and of(effects, WipePersonalData)
        assert state.stage is cf.Stage.CARD and shown(effects).screen is Screen.CERTIFICATE_CARD


def test_without_the_servers_print_id_done_simply_ends() -> None:
    state, effects = run(delivered(print_id=""), Touch(Button.DONE))
    assert state.stage is cf.Stage.CARD and of(effects, WipePersonalData)
    failed, _ = run(printing(), CertificatePrintFailed("seed-cp2", CertificateFault.JAM))
    failed, _ = run(failed, ServerAnswer("seed-cp2-log", 201, {"print": "p-9", "outcome": "failed"}))
    assert failed.print_id == ""
    refused, _ = run(delivered(print_id=""), ServerAnswer("seed-cp2-log", 422, {"error": {"code": "x"}}))
    assert refused.print_id == ""


def test_a_refused_rating_is_said_and_done_ends() -> None:
    state, _ = run(delivered(), Touch(Button.DONE), Touch(Button.LEVEL, "3"))
    state, effects = run(state, ServerAnswer("seed-cr-r1", 409, {"error": {"code": "rating_expired",
                                                                            "message_zh": "打印已超过 24 小时",
                                                                            "message_en": "too late"}}))
    assert shown(effects).screen is Screen.REFUSED and "打印已超过" in shown(effects).words.zh
    state, effects = run(state, Touch(Button.DONE))
    assert state.stage is cf.Stage.CARD and of(effects, WipePersonalData)
