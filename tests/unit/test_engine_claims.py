"""Priorities cannot be claimed: an appointment ticket only by check-in, a green ticket only with a reason."""

from __future__ import annotations

import dataclasses

import pytest

from config.model import GreenChannel
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.engine.state import Priority
from tests.support.engine_kit import Clock, Recorder, new_engine
from tests.support.halls import small_hall


def refusal(command: object) -> QueueError:
    with pytest.raises(QueueError) as excinfo:
        command()  # type: ignore[operator]
    return excinfo.value


def test_an_appointment_ticket_cannot_be_claimed_with_or_without_a_made_up_booking() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    for kwargs in ({"priority": "appointment"}, {"priority": "appointment", "appointment_id": "ap-7"},
                   {"appointment_id": "ap-7"}):
        err = refusal(lambda kwargs=kwargs: rec.do("issue", "C01", clock(), holder_key="h1", **kwargs))
        assert (err.code, err.status) == ("appointment_check_in_required", 422)
    assert not rec.engine.tickets


def test_a_green_ticket_needs_a_known_reason() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    assert refusal(lambda: rec.do("issue", "A01", clock(), priority="green")).code == "green_reason_required"
    assert refusal(lambda: rec.do("issue", "A01", clock(), priority="green",
                                  green_reason="vip")).code == "invalid_green_reason"
    assert refusal(lambda: rec.do("issue", "A01", clock(),
                                  green_reason="age_60_plus")).code == "green_reason_without_green"
    assert not rec.engine.tickets


def test_a_kiosk_asserts_only_kiosk_reasons_and_the_reason_is_in_the_event() -> None:
    rec, clock = Recorder(new_engine()), Clock()
    ticket = rec.do("issue", "A01", clock(), priority="green", green_reason="age_60_plus", node="kiosk-1")[0]
    assert ticket.priority is Priority.GREEN and ticket.rank == 0
    issued = rec.log[-1]
    assert issued.type == ev.TICKET_ISSUED and issued.data["green_reason"] == "age_60_plus"
    assert issued.node == "kiosk-1"
    err = refusal(lambda: rec.do("issue", "A01", clock(), priority="green", green_reason="disability"))
    assert (err.code, err.status) == ("green_reason_needs_staff", 403)
    staff = rec.do("issue", "A01", clock(), priority="green", green_reason="disability", by_staff=True,
                   node="window-3")[0]
    assert staff.priority is Priority.GREEN and rec.log[-1].data["green_reason"] == "disability"


def test_the_config_decides_which_reasons_the_hall_takes() -> None:
    hall = dataclasses.replace(small_hall(), green=GreenChannel(kiosk_reasons=(), staff_reasons=("pregnancy",)))
    rec, clock = Recorder(new_engine(hall)), Clock()
    assert refusal(lambda: rec.do("issue", "A01", clock(), priority="green",
                                  green_reason="age_60_plus")).code == "green_reason_not_allowed"
    err = refusal(lambda: rec.do("issue", "A01", clock(), priority="green", green_reason="age_60_plus",
                                 by_staff=True))
    assert err.code == "green_reason_not_allowed"
    assert rec.do("issue", "A01", clock(), priority="green", green_reason="pregnancy", by_staff=True)[0]
