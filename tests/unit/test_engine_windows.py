"""Windows: sign-in and sign-out, pause with a reason, and the refusals a window gets when it cannot call."""

from __future__ import annotations

import dataclasses

import pytest

from config.model import Staff
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from tests.support.engine_kit import Clock, Recorder, has_cjk, new_engine
from tests.support.halls import small_hall


def test_call_next_needs_a_signed_in_window() -> None:
    engine, clock = new_engine(), Clock()
    engine.issue("A01", clock())
    with pytest.raises(QueueError) as excinfo:
        engine.call_next(1, clock())
    assert excinfo.value.code == "not_signed_in" and has_cjk(excinfo.value.message_zh)


def test_a_paused_window_cannot_call_and_says_why() -> None:
    engine, clock = new_engine(), Clock()
    ticket = engine.issue("A01", clock()).outcome.ticket
    engine.sign_in(1, "s1", clock())
    engine.pause(1, clock(), reason="系统维护")
    for command, args in ((engine.call_next, (1, clock())), (engine.call, (ticket.id, 1, clock()))):
        with pytest.raises(QueueError) as excinfo:
            command(*args)
        assert excinfo.value.code == "window_paused" and "系统维护" in excinfo.value.message_zh
    engine.resume(1, clock())
    assert engine.call_next(1, clock()).outcome.id == ticket.id


def test_pause_needs_a_reason() -> None:
    engine, clock = new_engine(), Clock()
    engine.sign_in(1, "s1", clock())
    with pytest.raises(QueueError) as excinfo:
        engine.pause(1, clock())
    assert excinfo.value.code == "pause_reason_required"
    assert engine.windows[1].paused is False


def test_pause_and_resume_are_recorded_once_with_staff() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    rec.do("pause", 1, clock(), reason="午休", node="pad-1")
    rec.do("pause", 1, clock(), reason="again")  # already paused: nothing new
    assert rec.engine.windows[1].pause_reason == "午休"
    rec.do("resume", 1, clock(), node="pad-1")
    rec.do("resume", 1, clock())
    kinds = [(e.type, e.staff, e.node) for e in rec.log[2:]]
    assert kinds == [(ev.WINDOW_PAUSED, "s1", "pad-1"), (ev.WINDOW_RESUMED, "s1", "pad-1")]


def test_staff_not_allowed_at_a_window_is_refused() -> None:
    hall = small_hall()
    hall = dataclasses.replace(hall, staff=(Staff("s1", "员工1", "scrypt$16384$8$1$00$00", windows=(1,)),))
    engine, clock = new_engine(hall), Clock()
    with pytest.raises(QueueError) as excinfo:
        engine.sign_in(2, "s1", clock())
    assert excinfo.value.code == "staff_not_allowed" and excinfo.value.status == 403
    with pytest.raises(QueueError) as excinfo:
        engine.sign_in(1, "nobody", clock())
    assert excinfo.value.code == "staff_not_allowed"
    assert engine.windows[2].staff == "" and engine.windows[1].staff == ""
    engine.sign_in(1, "s1", clock())
    assert engine.windows[1].staff == "s1"


def test_signing_in_elsewhere_signs_out_of_the_old_window() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    mark = len(rec.log)
    rec.do("sign_in", 2, "s1", clock(), node="pad-2")
    out, into = rec.log[mark:]
    assert (out.type, out.data["window"], out.staff) == (ev.WINDOW_SIGNED_OUT, 1, "s1")
    assert (into.type, into.data["window"], into.staff, into.node) == (ev.WINDOW_SIGNED_IN, 2, "s1", "pad-2")
    assert rec.engine.windows[1].staff == "" and rec.engine.windows[2].staff == "s1"


def test_sign_out_keeps_the_staff_on_the_event() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    rec.do("sign_in", 1, "s1", clock())
    rec.do("sign_out", 1, clock(), node="pad-1")
    assert (rec.log[-1].type, rec.log[-1].staff, rec.log[-1].node) == (ev.WINDOW_SIGNED_OUT, "s1", "pad-1")
    assert rec.engine.windows[1].staff == ""
    rec.do("sign_out", 1, clock())  # nobody there: nothing to record
    assert rec.log[-1].type == ev.WINDOW_SIGNED_OUT and len(rec.log) == 3


def test_unknown_window_is_refused() -> None:
    engine, clock = new_engine(), Clock()
    for command, args in ((engine.sign_in, (99, "s1", clock())), (engine.call_next, (99, clock())),
                          (engine.pause, (99, clock())), (engine.sign_out, (99, clock()))):
        with pytest.raises(QueueError) as excinfo:
            command(*args)
        assert excinfo.value.code == "unknown_window" and excinfo.value.status == 404
