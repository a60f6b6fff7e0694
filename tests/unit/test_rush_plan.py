"""The rush's script is data drawn from one seed: reproducible, within the hall's services, cards where needed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from config.loader import load_hall
from config.model import NodeRole
from devices.idcard.record import parse_text_block
from kiosk.hall import in_process_devices
from kiosk.rush.deck import make_deck
from kiosk.rush.plan import Kind, capacity_gap_s, make_plan, parse_mix, served_services

COUNTY = Path(__file__).resolve().parents[2] / "config" / "samples" / "county_hall.toml"
HALL = load_hall(COUNTY)
TODAY = dt.date(2026, 12, 1)


def test_the_same_seed_gives_the_same_morning_and_another_seed_another() -> None:
    one = make_plan(HALL, 50, seed=7, speed=20)
    assert one == make_plan(HALL, 50, seed=7, speed=20)
    assert one.citizens != make_plan(HALL, 50, seed=8, speed=20).citizens


def test_citizens_arrive_in_order_want_served_services_and_carry_cards_when_they_must() -> None:
    plan = make_plan(HALL, 300, seed=3, speed=10, arrival_s=20.0)
    served = served_services(HALL)
    assert [c.arrive_s for c in plan.citizens] == sorted(c.arrive_s for c in plan.citizens)
    mean_gap = plan.span_s / len(plan.citizens)
    assert 16 < mean_gap < 24  # exponential gaps with a mean of 20 simulated seconds
    for citizen in plan.citizens:
        service = HALL.service(citizen.service)
        assert service is not None and citizen.service in served
        assert (citizen.card is None) == (citizen.kind is Kind.SERVICE)
        if service.real_name:
            assert citizen.card is not None
        if citizen.kind is Kind.APPOINTMENT:
            assert service.appointments
        assert 0.6 * service.expected_minutes * 60 <= citizen.handling_s <= 1.4 * service.expected_minutes * 60
        assert citizen.rating in range(6)
    assert {c.kind for c in plan.citizens} == set(Kind)


def test_served_services_are_those_of_windows_with_a_call_pad() -> None:
    nodes = tuple(n for n in HALL.nodes if n.role is not NodeRole.WINDOW or n.window in (10, 11))
    only_10_11 = replace(HALL, nodes=nodes)
    assert served_services(only_10_11) == {"C01": 2, "C02": 2}  # both windows serve C01 and C02
    assert {c.service for c in make_plan(only_10_11, 40, seed=2, speed=1).citizens} <= {"C01", "C02"}
    no_pads = replace(HALL, nodes=tuple(n for n in HALL.nodes if n.role is not NodeRole.WINDOW))
    with pytest.raises(ValueError, match="no window terminal"):
        make_plan(no_pads, 5, seed=1, speed=1)


def test_the_mix_is_parsed_strictly() -> None:
    assert parse_mix("card=1") == {Kind.CARD: 1.0, Kind.SERVICE: 0.0, Kind.ELDERLY: 0.0, Kind.APPOINTMENT: 0.0,
                                   Kind.CERTIFICATE: 0.0}
    plan = make_plan(HALL, 20, seed=1, speed=1, mix=parse_mix("elderly=1"))
    assert {c.kind for c in plan.citizens} == {Kind.ELDERLY}
    for bad in ("cards=3", "card=x", "card=-1", "card=0"):
        with pytest.raises(ValueError, match="mix"):
            parse_mix(bad)


def test_the_deck_has_one_distinct_valid_card_per_carded_citizen_and_lists_its_secrets() -> None:
    plan = make_plan(HALL, 120, seed=5, speed=20)
    deck = make_deck(plan, TODAY)
    carded = [c for c in plan.citizens if c.card is not None]
    records = {c.index: parse_text_block(deck.card(c.card).text) for c in carded if c.card is not None}
    assert len({r.id_number for r in records.values()}) == len(carded)
    assert len({r.name for r in records.values()}) == len(carded)
    for citizen in carded:
        record = records[citizen.index]
        age = (TODAY - record.birth_date).days // 365
        assert (age >= 60) == (citizen.kind is Kind.ELDERLY)
        assert record.valid_to is None or record.valid_to > TODAY
        assert record.id_number in deck.secrets and record.name in deck.secrets


def test_each_window_node_gets_its_own_simulated_bus_line_in_one_process() -> None:
    node = next(n for n in HALL.nodes if n.name == "window-3")
    devices = in_process_devices(node)
    assert devices["callpad"] == "sim+modbus+serial://window-3?address=1&device=callpad&timeout=0.3&poll=0.2"
    speaker = next(n for n in HALL.nodes if n.name == "speaker")
    assert in_process_devices(speaker, "espeak://")["speaker"] == "espeak://"
    assert in_process_devices(speaker)["speaker"] == "silent://"


def test_by_default_arrivals_keep_the_window_terminals_busy_but_not_swamped() -> None:
    served = served_services(HALL)
    gap = capacity_gap_s(HALL, served)
    windows = sum(1 for n in HALL.nodes if n.role is NodeRole.WINDOW)
    minutes = {s.code: s.expected_minutes for s in HALL.services}
    mean_handling_s = sum(minutes[c] * 60 * w for c, w in served.items()) / sum(served.values())
    assert gap * windows == pytest.approx(mean_handling_s / 0.85)
    plan = make_plan(HALL, 400, seed=4, speed=10)
    assert 0.85 * gap < plan.span_s / 400 < 1.15 * gap
