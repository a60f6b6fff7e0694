"""The rush's ID cards: one invented resident card per citizen who carries one (seeded, never a real person).

Names are drawn from common surnames and given-name characters with the citizen's index folded in, so no two
citizens share a name or a number; an elderly citizen's birth date is 62–85 years before the hall's day.
The cards exist only in the simulated readers; ``secrets`` lists every number and name so a test can check
that none of them reached a log or a file.
"""

from __future__ import annotations

import datetime as dt
import random

from devices.idcard.cards import SimCard, id_number, resident
from kiosk.rush.plan import Kind, RushPlan

__all__ = ["RushDeck", "make_deck"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志东海燕婷雪梅琳晨宇浩然子轩思雨欣怡"
REGIONS = ("110101", "110102", "110105", "120101", "310101", "440103")


class RushDeck:
    """Citizen index → their card; ``secrets`` are the personal data on them (for the privacy check)."""

    def __init__(self, cards: dict[int, SimCard], secrets: list[str]) -> None:
        self.cards = cards
        self.secrets = secrets

    def card(self, index: int) -> SimCard:
        return self.cards[index]


def _name(rng: random.Random, index: int) -> str:
    surname = SURNAMES[index % len(SURNAMES)]
    first = GIVEN[(index // len(SURNAMES)) % len(GIVEN)]
    second = GIVEN[rng.randrange(len(GIVEN))]
    return surname + first + second


def make_deck(plan: RushPlan, today: dt.date) -> RushDeck:
    """One card for each citizen of ``plan`` who has one."""
    rng = random.Random(plan.seed * 7919 + 1)
    cards: dict[int, SimCard] = {}
    secrets: list[str] = []
    for citizen in plan.citizens:
        if citizen.card is None:
            continue
        years = rng.randint(62, 85) if citizen.kind is Kind.ELDERLY else rng.randint(19, 55)
        birth = dt.date(today.year - years, rng.randint(1, 12), rng.randint(1, 28))
        name = _name(rng, citizen.index)
        region = REGIONS[citizen.index % len(REGIONS)]
        sequence = f"{citizen.index % 1000:03d}"
        valid_from = dt.date(today.year - 3, birth.month, birth.day)
        valid_to = None if years >= 46 else dt.date(today.year + 7, birth.month, birth.day)
        card = resident(f"rush citizen {citizen.index}", name, "1" if citizen.index % 2 else "2", "01", birth,
                        "样例省演示市示范区排队路" + str(citizen.index + 1) + "号", region, sequence,
                        "演示市公安局示范分局", valid_from, valid_to)
        cards[citizen.card] = card
        secrets += [name, id_number(region + birth.strftime("%Y%m%d") + sequence)]
    return RushDeck(cards, secrets)
