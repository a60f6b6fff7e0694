"""A small hall, a kiosk context, cards and server answers for the kiosk flow tests (no device, no server)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from config.model import Department, GreenChannel, Hall, HallHours, Node, NodeRole, Service, TimeRange
from devices.idcard.record import CardKind, IdCardRecord, check_digit
from devices.smartcard.social_security import SocialSecurityRecord
from devices.state import DeviceState, PaperState
from kiosk.flows.context import KioskContext
from kiosk.flows.effects import Show
from kiosk.flows.events import IdCardRead, PrinterStatusRead, ServerAnswer, SocialSecurityRead

TODAY = dt.date(2026, 11, 23)
SECRET = b"hall-key-for-tests"


def hall(elderly_automatic: bool = False, kiosk_reasons: tuple[str, ...] = ("age_60_plus",)) -> Hall:
    services = (
        Service("A01", "社保查询", "shebao", "A", name_en="Social insurance enquiry",
                materials=("身份证原件", "社保卡")),
        Service("B01", "不动产登记", "budongchan", "B", real_name=True, name_en="Real estate registration",
                materials=("身份证原件", "不动产权证书", "购房合同")),
        Service("C01", "社保卡补换", "shebao", "C", name_en="Social security card"),
    )
    kiosks = tuple(Node(f"kiosk-{n}", NodeRole.KIOSK, "0" * 64) for n in (1, 2, 3))
    return Hall("测试大厅", "Asia/Shanghai", HallHours((TimeRange(dt.time(9), dt.time(17)),)),
                (Department("shebao", "社保"), Department("budongchan", "不动产")), services, (),
                nodes=(*kiosks, Node("window-1", NodeRole.WINDOW, "1" * 64, window=1)),
                green=GreenChannel(kiosk_reasons=kiosk_reasons, elderly_automatic=elderly_automatic))


def context(node: str = "kiosk-1", **hall_options: Any) -> KioskContext:
    return KioskContext(hall(**hall_options), node, SECRET, "seed", featured=("A01", "C01"), idle_reset_s=60)


def id_number(birth: dt.date, serial: str = "123") -> str:
    first = f"110101{birth:%Y%m%d}{serial}"
    return first + check_digit(first)


def id_card(birth: dt.date = dt.date(1985, 6, 1), name: str = "张三丰") -> IdCardRead:
    record = IdCardRecord(kind=CardKind.RESIDENT, name=name, sex="1", birth_date=birth, id_number=id_number(birth),
                          valid_from=dt.date(2020, 1, 1), valid_to=None, nation="01", address="北京市东城区某街1号")
    return IdCardRead(record, TODAY)


def ss_card(birth: dt.date | None = dt.date(1985, 6, 1), name: str = "张三丰") -> SocialSecurityRead:
    number = id_number(birth or dt.date(1950, 1, 1))
    record = SocialSecurityRecord(card_number="A12345678", ssn=number, name=name, sex="1", nation=1,
                                  birth_place="110101", birth_date=birth)
    return SocialSecurityRead(record, TODAY)


PAPER_OK = PrinterStatusRead(DeviceState.READY, PaperState.OK, "ready; paper ok")
PAPER_NEAR_END = PrinterStatusRead(DeviceState.DEGRADED, PaperState.NEAR_END, "paper near end; change the roll soon")
PAPER_OUT = PrinterStatusRead(DeviceState.FAULT, PaperState.OUT, "paper out; load a new roll")
PAPER_UNKNOWN = PrinterStatusRead(DeviceState.DEGRADED, PaperState.UNKNOWN, "ready, but no answer to status query 4")
OFFLINE = PrinterStatusRead(DeviceState.DISCONNECTED, PaperState.UNKNOWN, "no answer; check power and cable")
COVER_OPEN = PrinterStatusRead(DeviceState.FAULT, PaperState.OK, "cover open; close the printer cover")


def ticket_body(number: str = "A001", ident: str = "t-1", existing: bool = False, priority: str = "normal",
                service: str = "A01") -> dict[str, Any]:
    return {"id": ident, "number": number, "service": service, "service_name": "社保查询", "state": "waiting",
            "priority": priority, "ahead": 2, "estimated_wait_s": 300, "issued_at": 1_790_000_000.0,
            "status_url": f"/api/v1/tickets/{ident}", "existing": existing}


def issued(key: str, **kwargs: Any) -> ServerAnswer:
    existing = kwargs.get("existing", False)
    return ServerAnswer(key, 200 if existing else 201, ticket_body(**kwargs))


def refused(key: str, code: str, status: int = 409, details: dict[str, Any] | None = None,
            zh: str = "拒绝", en: str = "refused") -> ServerAnswer:
    error: dict[str, Any] = {"code": code, "message_zh": zh, "message_en": en}
    if details is not None:
        error["details"] = details
    return ServerAnswer(key, status, {"error": error})


State = TypeVar("State")


def run_flow(step: Callable[[State, Any], tuple[State, list[Any]]], state: State,
             *events: Any) -> tuple[State, list[Any]]:
    """Feed ``events`` one by one; the last state and every effect, in order."""
    effects: list[Any] = []
    for event in events:
        state, more = step(state, event)
        effects += more
    return state, effects


def of(effects: Sequence[Any], kind: type) -> list[Any]:
    """The effects of one kind."""
    return [e for e in effects if isinstance(e, kind)]


def shown(effects: Sequence[Any]) -> Show:
    """The last screen shown."""
    found: list[Show] = of(effects, Show)
    return found[-1]
