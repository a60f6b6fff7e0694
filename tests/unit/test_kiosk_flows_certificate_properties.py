"""Hypothesis: whatever citizens, the library, the printer and the server do, the certificate flow reports every
print attempt exactly once, never sends a key twice, never shows or sends a full name or ID number, and
forgets the holder whenever a session ends."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.flows import certificate as cf
from kiosk.flows.effects import (
    FetchDocuments,
    PrintCertificate,
    RateCertificatePrint,
    ReportCertificatePrint,
    Show,
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
    ServerUnreachable,
    Touch,
)
from tests.support.kiosk_flows import context, id_card, ss_card

CARDS = [id_card(), id_card(name="李四", birth=dt.date(1990, 3, 3))]
SECRETS = [c.record.name for c in CARDS] + [c.record.id_number for c in CARDS]
DOCS = (DocumentItem("sb-1", "参保证明", "Social insurance certificate", dt.date(2026, 11, 20)),
        DocumentItem("ws-1", "完税证明", "", dt.date(2026, 11, 2)))
CITIZEN = st.one_of(
    st.builds(Touch, st.sampled_from(list(Button)), st.sampled_from(["", "sb-1", "ws-1", "nope", "1", "5"])),
    st.sampled_from([*CARDS, ss_card(), CardReadFailed("moved", pulled=True), IdleTimeout()]))
MOVES = st.lists(st.one_of(st.tuples(st.just("citizen"), CITIZEN), st.tuples(st.just("shown"), st.integers(0, 9)),
                           st.tuples(st.just("node"), st.integers(0, 99))), max_size=60)


def _answer(effect: Any, draw: int, serial: int) -> Any:
    """What the node would feed back for one effect (the library, the printer, the server)."""
    if isinstance(effect, FetchDocuments):
        if draw < 20:
            return DocumentsUnavailable(effect.key, "down", unreachable=draw < 15)
        return DocumentsFetched(effect.key, () if draw < 30 else DOCS[: 1 + draw % 2])
    if isinstance(effect, PrintCertificate):
        if draw < 40:
            return CertificatePrintFailed(effect.key, list(CertificateFault)[draw % len(CertificateFault)], "x")
        return CertificatePrinted(effect.key)
    if draw < 20:
        return ServerUnreachable(effect.key)
    outcome = effect.body.get("outcome", "printed")
    return ServerAnswer(effect.key, 201, {"print": f"p{serial}", "outcome": outcome})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=MOVES)
def test_every_attempt_is_reported_once_and_nothing_personal_leaves_the_flow(moves: list[Any]) -> None:
    state, effects = cf.initial(context())
    pending: list[Any] = []
    printed_keys: list[str] = []  # PrintCertificate keys answered
    reports: Counter[str] = Counter()
    sent_keys: Counter[str] = Counter()
    serial = 0
    last_show = next(e for e in effects if isinstance(e, Show))
    for kind, move in moves:
        if kind == "citizen":
            event = move
        elif kind == "shown":
            if not last_show.choices:
                continue
            event = last_show.choices[move % len(last_show.choices)]
        else:
            if not pending:
                continue
            effect = pending.pop(0)
            serial += 1
            event = _answer(effect, move, serial)
            if isinstance(effect, PrintCertificate):
                printed_keys.append(effect.key)
        state, effects = cf.step(state, event)
        text = repr(effects) + repr(state)
        assert not any(secret in text for secret in SECRETS), text
        for effect in effects:
            if isinstance(effect, Show):
                last_show = effect
                assert effect.holder_masked in ("", "张**", "李*")
            elif isinstance(effect, FetchDocuments | PrintCertificate):
                pending.append(effect)
            elif isinstance(effect, ReportCertificatePrint | RateCertificatePrint):
                sent_keys[effect.key] += 1
                pending.append(effect)
                if isinstance(effect, ReportCertificatePrint):
                    reports[effect.key.removesuffix("-log")] += 1
            elif isinstance(effect, WipePersonalData):
                assert state.holder is None or event in CARDS  # a new card: wiped, then the new holder
    assert all(n == 1 for n in sent_keys.values()), sent_keys  # a key is never reused for another request
    # printing is busy, so each job's outcome reaches the flow: every attempt reported once, and only those
    assert all(reports[k] == 1 for k in printed_keys) and set(reports) == set(printed_keys), (printed_keys, reports)
