"""The rush's script as data: who arrives when, wanting what, with which card, and how they rate (pure, seeded).

Everything random about a rush is drawn here, once, from one ``random.Random(seed)``, so the same seed gives
the same morning: arrivals are a Poisson process (exponential gaps with mean ``arrival_s`` simulated seconds,
by default what keeps the hall's window terminals 85 % busy),
each citizen's kind comes from ``mix`` (weights), their service from the services the hall's running windows
serve (real-name services only for citizens who carry their ID card), their handling time from the service's
``expected_minutes`` (±40 %), their rating from a typical 好差评 spread (a few never press the pad).
Times here are *simulated* seconds; the runner divides them by ``--speed``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from config.model import Hall, NodeRole

__all__ = ["DEFAULT_MIX", "Citizen", "Kind", "RushPlan", "capacity_gap_s", "make_plan", "parse_mix",
           "served_services"]


class Kind(StrEnum):
    """How a citizen uses the kiosk."""

    CARD = "card"  # taps the ID card, then picks a service
    SERVICE = "service"  # no card: picks a service by touch
    ELDERLY = "elderly"  # 60+: taps the ID card, is offered the green channel and takes it
    APPOINTMENT = "appointment"  # booked beforehand; checks in at the kiosk with the 6-digit code
    CERTIFICATE = "certificate"  # prints one of their documents from the e-licence library, then takes a ticket


DEFAULT_MIX: dict[Kind, float] = {Kind.CARD: 35, Kind.SERVICE: 35, Kind.ELDERLY: 10, Kind.APPOINTMENT: 10,
                                  Kind.CERTIFICATE: 10}
RATINGS = ((5, 62), (4, 22), (3, 8), (2, 3), (1, 2), (0, 3))  # (level, weight); 0: never presses the pad
LOAD = 0.85  # the share of the windows' time the default arrival rate fills
WALK_S = 30.0  # simulated seconds from the call to the citizen at the window
RATE_AFTER_S = 8.0  # simulated seconds between the pad lighting up and the press


@dataclass(frozen=True)
class Citizen:
    """One simulated citizen; ``card`` indexes the rush's card deck (None: no card)."""

    index: int
    arrive_s: float
    kind: Kind
    service: str
    card: int | None
    handling_s: float
    rating: int  # 1..5, or 0 for "does not rate"


@dataclass(frozen=True)
class RushPlan:
    """The whole morning: the citizens in arrival order, and the speed the runner plays it at."""

    seed: int
    speed: float
    citizens: tuple[Citizen, ...]

    @property
    def span_s(self) -> float:
        return self.citizens[-1].arrive_s if self.citizens else 0.0


def parse_mix(text: str) -> dict[Kind, float]:
    """``card=35,service=35,…`` → weights (kinds not named get 0); an error names the known kinds."""
    if not text:
        return dict(DEFAULT_MIX)
    mix = dict.fromkeys(Kind, 0.0)
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        try:
            kind = Kind(name.strip())
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"could not parse the mix {text!r}: the syntax is KIND=WEIGHT,… with kinds "
                             f"{', '.join(k.value for k in Kind)}") from None
        if value < 0:
            raise ValueError(f"the mix {text!r} has a negative weight for {kind.value}")
        mix[kind] = value
    if not any(mix.values()):
        raise ValueError(f"the mix {text!r} gives every kind a weight of 0")
    return mix


def served_services(hall: Hall) -> dict[str, int]:
    """Service code → how many running window terminals (nodes with a call pad) serve it."""
    windows = {node.window for node in hall.nodes if node.role is NodeRole.WINDOW and "callpad" in node.devices}
    served: dict[str, int] = {}
    for window in hall.windows:
        if window.number in windows:
            for entry in window.services:
                served[entry.service] = served.get(entry.service, 0) + 1
    return served


def capacity_gap_s(hall: Hall, served: Mapping[str, int]) -> float:
    """The mean gap between arrivals (simulated seconds) at which the window terminals are busy LOAD of the time:
    the mean handling time over the served services (weighted as citizens choose them) / windows / LOAD."""
    windows = sum(1 for n in hall.nodes if n.role is NodeRole.WINDOW and "callpad" in n.devices)
    minutes = {s.code: s.expected_minutes for s in hall.services}
    mean_s = sum(minutes[c] * 60.0 * w for c, w in served.items()) / sum(served.values())
    return mean_s / max(1, windows) / LOAD


def make_plan(hall: Hall, n: int, *, seed: int, speed: float, mix: Mapping[Kind, float] = DEFAULT_MIX,
              arrival_s: float | None = None) -> RushPlan:
    """N citizens for ``hall``; the same arguments always give the same plan. Without ``arrival_s`` the gap
    between arrivals keeps the running windows busy LOAD of the time (a busy morning, not an endless queue)."""
    rng = random.Random(seed)
    served = served_services(hall)
    if not served:
        raise ValueError(f"hall {hall.name!r} has no window terminal with a call pad; nobody could be served")
    by_code = {s.code: s for s in hall.services}
    if arrival_s is None:
        arrival_s = capacity_gap_s(hall, served)
    open_to_all = [c for c in served if not by_code[c].real_name]
    bookable = [c for c in served if by_code[c].appointments]
    kinds = [k for k, w in mix.items() if w > 0 and (k is not Kind.APPOINTMENT or bookable)]
    weights = [mix[k] for k in kinds]
    citizens: list[Citizen] = []
    at = 0.0
    for index in range(n):
        at += rng.expovariate(1.0 / arrival_s)
        kind = rng.choices(kinds, weights)[0]
        if kind is Kind.APPOINTMENT:
            pool: Sequence[str] = bookable
        elif kind is Kind.SERVICE:
            pool = open_to_all or list(served)
            if not open_to_all:
                kind = Kind.CARD
        else:
            pool = list(served)
        service = rng.choices(list(pool), [served[c] for c in pool])[0]
        card = None if kind is Kind.SERVICE else index
        handling = by_code[service].expected_minutes * 60.0 * rng.uniform(0.6, 1.4)
        rating = rng.choices([level for level, _ in RATINGS], [w for _, w in RATINGS])[0]
        citizens.append(Citizen(index, round(at, 3), kind, service, card, round(handling, 3), rating))
    return RushPlan(seed, speed, tuple(citizens))
