"""Certificate prints on the log: one event per attempt, the holder only masked, counts rebuilt by replay."""

from __future__ import annotations

import dataclasses

import pytest

from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.ws.views import View, shape
from tests.support.engine_kit import Clock, new_engine
from tests.support.halls import small_hall


def test_a_print_and_a_failure_are_each_one_event_with_kind_outcome_and_masked_holder() -> None:
    engine, clock = new_engine(), Clock()
    done = engine.log_certificate_print("参保证明", "张**", "printed", "", clock(), node="kiosk-1")
    failed = engine.log_certificate_print("完税证明", "李*", "failed", "jam", clock(), node="kiosk-1")
    printed = [e for e in done.events + failed.events if e.type == ev.CERTIFICATE_PRINTED]
    assert [(e.data["document_kind"], e.data["outcome"], e.data["reason"]) for e in printed] == [
        ("参保证明", "printed", ""), ("完税证明", "failed", "jam")]
    assert printed[0].data["holder_masked"] == "张**" and printed[0].node == "kiosk-1"
    assert done.outcome.view()["print"] == printed[0].data["print"]
    assert engine.certificates.count("printed") == 1 and engine.certificates.count("failed") == 1


def test_the_public_view_carries_kind_and_outcome_only_and_staff_also_the_masked_holder() -> None:
    engine, clock = new_engine(), Clock()
    event = engine.log_certificate_print("参保证明", "张**", "failed", "paper_out", clock()).events[-1]
    assert shape(event, View.PUBLIC)["data"] == {"document_kind": "参保证明", "outcome": "failed"}
    staff = shape(event, View.STAFF)["data"]
    assert staff["holder_masked"] == "张**" and staff["reason"] == "paper_out"


@pytest.mark.parametrize(("kind", "holder", "outcome", "reason", "code"), [
    ("参保证明", "张三丰", "printed", "", "holder_not_masked"),
    ("参保证明", "张*丰", "printed", "", "holder_not_masked"),
    ("参保证明", "110101198506011234", "printed", "", "holder_not_masked"),
    ("参保证明", "1101**********1234", "printed", "", "holder_not_masked"),
    ("参保证明", "张*", "delivered", "", "invalid_outcome"),
    ("参保证明", "张*", "failed", "", "invalid_reason"),
    ("参保证明", "张*", "failed", "the dog ate it", "invalid_reason"),
    ("参保证明", "张*", "printed", "jam", "invalid_reason"),
    (" ", "张*", "printed", "", "invalid_kind"),
])
def test_bad_reports_are_refused_before_the_log(kind: str, holder: str, outcome: str, reason: str,
                                                code: str) -> None:
    engine, clock = new_engine(), Clock()
    before = engine.last_event_id
    with pytest.raises(QueueError) as caught:
        engine.log_certificate_print(kind, holder, outcome, reason, clock())
    assert caught.value.code == code and caught.value.status == 422
    assert all(e.type != ev.CERTIFICATE_PRINTED for e in caught.value.events)
    assert engine.last_event_id == before + len(caught.value.events)


def test_the_day_roll_starts_the_counts_again_and_a_replay_rebuilds_them() -> None:
    engine, clock = new_engine(), Clock()
    events = engine.log_certificate_print("参保证明", "张*", "printed", "", clock()).events
    copy = new_engine()
    for event in events:
        copy.apply(event)
    assert copy.certificates.count("printed") == 1
    tomorrow = clock.set("2026-11-24", "09:00")
    engine.log_certificate_print("户籍证明", "王*", "printed", "", tomorrow)
    assert engine.certificates.count("printed") == 1


def _printed(engine, clock, outcome: str = "printed", reason: str = "") -> str:
    return engine.log_certificate_print("参保证明", "张**", outcome, reason, clock(), node="kiosk-1").outcome.id


def test_a_delivered_print_is_rated_once_and_a_bad_rating_opens_a_followup() -> None:
    engine, clock = new_engine(), Clock()
    good, bad = _printed(engine, clock), _printed(engine, clock)
    rated = engine.rate_certificate_print(good, 5, "kiosk", clock(), node="kiosk-1")
    assert rated.outcome.level == 5 and [e.type for e in rated.events] == [ev.CERTIFICATE_RATED]
    assert rated.events[0].data == {"print": good, "document_kind": "参保证明", "level": 5, "channel": "kiosk"}
    with pytest.raises(QueueError) as caught:
        engine.rate_certificate_print(good, 4, "kiosk", clock())
    assert caught.value.code == "already_rated"
    poor = engine.rate_certificate_print(bad, 1, "kiosk", clock(), node="kiosk-1")
    (opened,) = [e for e in poor.events if e.type == ev.CASE_OPENED]
    assert opened.data["kind"] == "followup" and opened.data["level"] == 1 and opened.data["ticket"] is None
    assert opened.data["holder_masked"] == "张**" and "参保证明" in opened.data["subject"]
    assert shape(poor.events[0], View.PUBLIC)["data"] == {"document_kind": "参保证明", "level": 1}


@pytest.mark.parametrize(("setup", "code"), [("failed", "not_printed"), ("unknown", "print_not_found"),
                                             ("late", "rating_expired"), ("level", "invalid_level"),
                                             ("channel", "invalid_channel")])
def test_ratings_that_cannot_be_given_are_refused(setup: str, code: str) -> None:
    hall = small_hall()
    engine = new_engine(dataclasses.replace(hall, ratings=dataclasses.replace(hall.ratings, window_hours=0.5)))
    clock = Clock()
    print_id = _printed(engine, clock, *(("failed", "jam") if setup == "failed" else ()))
    level, channel, at = 4, "kiosk", clock()
    if setup == "unknown":
        print_id = "nope"
    elif setup == "late":
        at = clock(0.5 * 3600 + 60)  # later the same day
    elif setup == "level":
        level = 6
    elif setup == "channel":
        channel = "phone"
    with pytest.raises(QueueError) as caught:
        engine.rate_certificate_print(print_id, level, channel, at)
    assert caught.value.code == code


def test_a_print_from_before_the_day_roll_can_no_longer_be_rated() -> None:
    engine, clock = new_engine(), Clock()
    print_id = _printed(engine, clock)
    with pytest.raises(QueueError) as caught:
        engine.rate_certificate_print(print_id, 5, "kiosk", clock.set("2026-11-24", "09:00"))
    assert caught.value.code == "print_not_found"
