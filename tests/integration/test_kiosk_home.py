"""The kiosk's home on the real node, the real server and the device simulators: from the home screen, an
appointment check-in by code, a certificate printed from the e-licence library then rated, a ticket's status."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.idcard.record import mask_name
from kiosk.elicence.simulator import ELicenceSimulator
from kiosk.flows.effects import Screen, Show
from kiosk.flows.events import Button, Touch
from kiosk.flows.home import Home, Lane
from tests.integration.server_support import ServerProcess, kiosk, manager, read_log
from tests.support.halls import MONDAY
from tests.support.kiosk_rig import Kiosk, card_holder, kiosk_hall, running_node
from tests.support.waiting import until
from tests.support.wall_clock import WallClock

pytestmark = pytest.mark.slow


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@contextlib.contextmanager
def serving(tmp_path: Path, hall_file: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data", config=hall_file, env=env) as proc:
        yield proc


async def post(session: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
               body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    async with session.post(server.url + path, json=body, headers=headers) as answer:
        assert answer.status == status, await answer.text()
        got: dict[str, Any] = await answer.json()
        return got


def is_home(show: Show) -> bool:
    return show.screen is Screen.START and Touch(Button.CHECK_IN) in show.choices


async def touch_all(node: Kiosk, *touches: Touch) -> int:
    mark = len(node.view.shown)
    for touch in touches:
        await node.touch(touch)
    return mark


async def test_an_appointment_code_typed_at_home_prints_the_priority_ticket(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    clock = WallClock(tmp_path / "faketime")
    clock.set(MONDAY, "08:50")  # ten minutes before the 09:00 slot: check-in is open (30 min early)
    hall_file = kiosk_hall(tmp_path)
    with serving(tmp_path, hall_file, clock.env()) as server:
        booked = await post(session, server, "/api/v1/appointments", manager() | {"Idempotency-Key": "book-1"},
                            {"service": "A01", "slot_start": f"{MONDAY}T09:00", "holder_key": "ab" * 32,
                             "holder_masked": "王*"})
        code = booked["code"]
        async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as node:
            assert is_home(await node.view.wait_for(Screen.START))
            mark = await touch_all(node, Touch(Button.CHECK_IN))
            await node.view.wait_for(Screen.CODE_ENTRY, mark)
            mark = await touch_all(node, *(Touch(Button.DIGIT, d) for d in code), Touch(Button.SUBMIT))
            shown = await node.view.wait_for(Screen.NUMBER, mark)
            paper = node.printer.tickets[-1]
            assert shown.number in paper.text and "预约" in paper.text
            async with session.get(f"{server.url}/api/v1/appointments/{booked['id']}", headers=manager()) as got:
                appointment = await got.json()
            assert appointment["state"] == "checked_in" and appointment["ticket"]
            log: list[dict[str, Any]] = []

            async def reported() -> bool:  # the printed report goes through the outbox, in its own time
                log[:] = await read_log(session, server)
                return any(e["type"] == "ticket.printed" for e in log)

            await until(reported, "the kiosk's printed report on the server")
            printed = [e for e in log if e["type"] == "ticket.printed"]
            issued = [e for e in log if e["type"] == "ticket.issued"]
            assert [e["data"]["number"] for e in issued] == [shown.number]
            assert issued[0]["data"]["priority"] == "appointment"
            assert [e["data"]["ticket"] for e in printed] == [issued[0]["data"]["ticket"]]
            mark = await touch_all(node, Touch(Button.DONE))
            assert is_home(await node.view.wait_for(Screen.START, mark))


async def test_a_certificate_printed_from_home_is_logged_rated_and_the_kiosk_goes_home(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    async with ELicenceSimulator() as library:
        hall_file = kiosk_hall(tmp_path, elicence_url=library.url)
        with serving(tmp_path, hall_file) as server:
            async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as node:
                home = await node.view.wait_for(Screen.START)
                assert Touch(Button.CERTIFICATES) in home.choices
                mark = await touch_all(node, Touch(Button.CERTIFICATES))
                await node.view.wait_for(Screen.CERTIFICATE_CARD, mark)
                mark = await node.tap(0)
                documents = await node.view.wait_for(Screen.DOCUMENTS, mark)
                first = next(c for c in documents.choices if c.button is Button.DOCUMENT)
                assert documents.label_of(first).zh.startswith("参保证明")
                mark = await touch_all(node, first)
                await node.view.wait_for(Screen.CERTIFICATE_DONE, mark)
                assert len(node.certificate_printer.spool) == 1
                mark = await touch_all(node, Touch(Button.DONE))
                rating = await node.view.wait_for(Screen.RATING, mark)
                assert [c.value for c in rating.choices if c.button is Button.LEVEL] == ["5", "4", "3", "2", "1"]
                mark = await touch_all(node, Touch(Button.LEVEL, "5"))
                await node.view.wait_for(Screen.THANKS, mark)
                mark = await touch_all(node, Touch(Button.DONE))
                assert is_home(await node.view.wait_for(Screen.START, mark))
                state = node.behaviour.state
                assert isinstance(state, Home) and state.lane is Lane.TICKET and state.certificates.holder is None
            log = await read_log(session, server)
    prints = [e for e in log if e["type"] == "certificate.printed"]
    rated = [e for e in log if e["type"] == "certificate.rated"]
    assert len(prints) == 1 and prints[0]["data"]["outcome"] == "printed"
    assert prints[0]["data"]["document_kind"] == "参保证明"
    assert prints[0]["data"]["holder_masked"] == mask_name(card_holder(0).name)
    assert len(rated) == 1 and rated[0]["data"]["level"] == 5
    assert card_holder(0).name not in str(log) and card_holder(0).id_number not in str(log)


async def test_a_tickets_status_by_its_number_from_home(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    hall_file = kiosk_hall(tmp_path)
    with serving(tmp_path, hall_file) as server:
        ticket = await post(session, server, "/api/v1/tickets", kiosk(2, "status-1"), {"service": "A01"})
        number = ticket["number"]
        async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as node:
            await until(lambda: number in node.behaviour.numbers, "the kiosk to learn the number from the stream")
            mark = await touch_all(node, Touch(Button.STATUS))
            await node.view.wait_for(Screen.STATUS_ENTRY, mark)
            keys = [Touch(Button.LETTER, number[0]), *(Touch(Button.DIGIT, d) for d in number[1:])]
            mark = await touch_all(node, *keys, Touch(Button.SUBMIT))
            status = await node.view.wait_for(Screen.STATUS, mark)
            assert status.number == number and "等候中" in status.words.zh and "waiting" in status.words.en
            mark = await touch_all(node, Touch(Button.BACK), Touch(Button.STATUS), Touch(Button.LETTER, "A"),
                                   *(Touch(Button.DIGIT, d) for d in "999"), Touch(Button.SUBMIT))
            unknown = await node.view.wait_for(Screen.STATUS_ENTRY, mark, match=lambda s: "A999" in s.words.zh)
            assert "ticket_not_found" not in unknown.words.en and unknown.words.en
            mark = await touch_all(node, Touch(Button.BACK), Touch(Button.DONE))
            assert is_home(await node.view.wait_for(Screen.START, mark))
