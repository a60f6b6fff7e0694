"""The e-licence deck and the hall's elicence_url: the same documents for the same holder, none for 'none'."""

from __future__ import annotations

import pytest

from config.loader import parse_hall
from kiosk.elicence.client import Document, ELicenceError
from kiosk.elicence.deck import KINDS, Deck
from tests.support.config_edits import TOWNSHIP_TEXT, assert_problem, edited

BASE = "http://127.0.0.1:9"
HOLDERS = [f"{n:02x}" * 32 for n in range(40)]


def test_every_holder_has_a_social_insurance_proof_first_and_the_deck_is_deterministic() -> None:
    deck = Deck()
    for holder in HOLDERS:
        docs = deck.documents(holder, BASE)
        assert docs[0].kind == "参保证明" and docs == Deck().documents(holder, BASE)
        assert len({d.id for d in docs}) == len(docs) and all(d.rows and d.headings for d in docs)
    kinds = {d.kind for h in HOLDERS for d in deck.documents(h, BASE)}
    assert kinds == {k.name for k in KINDS}  # over a few holders every kind turns up


def test_a_document_is_found_only_with_its_own_holders_key() -> None:
    deck = Deck()
    mine = deck.documents(HOLDERS[1], BASE)[0]
    assert deck.document(HOLDERS[1], mine.id, BASE) == mine
    assert deck.document(HOLDERS[2], mine.id, BASE) is None
    assert mine.verify_url == f"{BASE}/verify/{mine.serial}"


def test_a_holder_marked_none_and_a_malformed_key_have_no_documents() -> None:
    deck = Deck(none=frozenset({HOLDERS[3]}))
    assert deck.documents(HOLDERS[3], BASE) == []
    assert deck.documents("not-a-key", BASE) == [] and deck.documents(HOLDERS[3].upper(), BASE) == []


def test_the_wire_form_reads_back_and_a_broken_record_is_refused_in_words() -> None:
    doc = Deck().documents(HOLDERS[4], BASE)[0]
    assert Document.from_json(doc.as_json()) == doc
    broken = doc.as_json() | {"issued": "yesterday"}
    with pytest.raises(ELicenceError, match="'issued'"):
        Document.from_json(broken)
    with pytest.raises(ELicenceError, match="'rows'"):
        Document.from_json(doc.as_json() | {"rows": [[1, 2]]})
    with pytest.raises(ELicenceError, match="'serial'"):
        Document.from_json({k: v for k, v in doc.as_json().items() if k != "serial"})


def _with_elicence(url: str) -> str:
    text = edited()
    start = text.index("[hall]")
    end = text.index("\n", text.index("name = ", start))
    return text[:end + 1] + f'elicence_url = "{url}"\n' + text[end + 1:]


def test_the_hall_names_its_elicence_library_and_a_bad_url_is_refused_at_its_path() -> None:
    assert parse_hall(TOWNSHIP_TEXT, "township_hall.toml").elicence_url == ""
    assert parse_hall(_with_elicence("http://127.0.0.1:8090/"), "t.toml").elicence_url == "http://127.0.0.1:8090"
    for bad in ("127.0.0.1:8090", "ftp://lib", "http://lib/?holder=x"):
        assert_problem(_with_elicence(bad), "hall.elicence_url", "http")
