"""Kiosk node + real server + device simulators: a citizen's tap, the printer's faults, a server that dies.

Every test runs the real NodeRuntime with the real ID-card reader and ticket printer drivers against their
simulators (the SAM protocol over TCP, ESC/POS over TCP) and the real queue server as a child process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.faults import Fault
from devices.idcard.record import mask_name
from kiosk.flows.effects import Screen
from kiosk.flows.events import Button, Touch
from kiosk.flows.printing import Phase
from tests.integration.server_support import ServerProcess, manager
from tests.support.kiosk_rig import FAST, Kiosk, card_holder, running_node
from tests.support.waiting import until

pytestmark = pytest.mark.slow

SERVICE = "A01"




@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=manager()) as s:
        yield s


async def _get(session: aiohttp.ClientSession, server: ServerProcess, path: str) -> Any:
    async with session.get(server.url + path) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def _tickets(session: aiohttp.ClientSession, server: ServerProcess) -> list[dict[str, Any]]:
    return list((await _get(session, server, f"/api/v1/tickets?service={SERVICE}&limit=100"))["tickets"])


async def _printed_events(session: aiohttp.ClientSession, server: ServerProcess, ticket: str) -> list[Any]:
    history = await _get(session, server, f"/api/v1/tickets/{ticket}/history")
    return [e for e in history["events"] if e["type"] == "ticket.printed"]


def _printing(kiosk: Kiosk) -> bool:
    job = kiosk.ticket_state.job
    return job is not None and job.phase is Phase.PRINTING


async def _take_ticket(kiosk: Kiosk, card: int = 0) -> int:
    """Tap ``card``, wait for the start screen with the masked holder, touch the service; the screen mark."""
    mark = await kiosk.tap(card)
    await kiosk.view.wait_for(Screen.START, mark, match=lambda s: bool(s.holder_masked))
    return await kiosk.touch(Touch(Button.SERVICE, SERVICE))


async def test_a_tap_prints_the_servers_number_with_the_masked_name_and_a_second_tap_reprints(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    holder = card_holder(0)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        mark = await _take_ticket(kiosk)
        shown = await kiosk.view.wait_for(Screen.NUMBER, mark)
        tickets = await _tickets(session, server)
        assert len(tickets) == 1 and tickets[0]["number"] == shown.number
        paper = kiosk.printer.tickets[-1]
        assert shown.number in paper.text and mask_name(holder.name) in paper.text
        assert paper.qr_data == [f"{server.url}/api/v1/tickets/{tickets[0]['id']}"]

        async def confirmed() -> bool:
            return [e["data"]["ok"] for e in await _printed_events(session, server, tickets[0]["id"])] == [True]

        await until(confirmed, "the printed confirmation to reach the server")

        mark = await kiosk.touch(Touch(Button.DONE))
        await kiosk.view.wait_for(Screen.START, mark)
        mark = await _take_ticket(kiosk)
        offer = await kiosk.view.wait_for(Screen.REPRINT_OFFER, mark)
        assert offer.number == shown.number
        mark = await kiosk.touch(Touch(Button.REPRINT))
        again = await kiosk.view.wait_for(Screen.NUMBER, mark)
        assert again.number == shown.number and len(kiosk.printer.tickets) == 2
        assert shown.number in kiosk.printer.tickets[-1].text
        assert len(await _tickets(session, server)) == 1  # a reprint, not a second ticket
    text = caplog.text + server.log_text()
    assert holder.id_number not in text and holder.name not in text
    assert holder.id_number[-6:] not in text  # not even the tail of the number


async def test_paper_out_before_asks_the_server_nothing_and_names_another_kiosk(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        kiosk.printer.inject(Fault.PAPER_OUT)
        mark = await _take_ticket(kiosk)
        down = await kiosk.view.wait_for(Screen.PRINTER_DOWN, mark)
        assert "纸" in down.words.zh and "kiosk-2" in down.words.zh
        assert await _tickets(session, server) == []
        assert kiosk.printer.tickets == []


async def test_a_kiosk_points_past_a_neighbour_whose_printer_the_server_says_is_down(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    """The nearest working kiosk comes from the stream's device health, not the config alone."""
    async with running_node(hall_file, "kiosk-2", server.url, tmp_path / "node2") as neighbour, \
            running_node(hall_file, "kiosk-1", server.url, tmp_path / "node1") as kiosk:
        neighbour.printer.inject(Fault.PAPER_OUT)

        async def learned() -> bool:
            return "kiosk-2" in kiosk.ticket_state.down

        await until(learned, "kiosk-1 to learn from the stream that kiosk-2's printer is down")
        kiosk.printer.inject(Fault.PAPER_OUT)
        mark = await _take_ticket(kiosk)
        down = await kiosk.view.wait_for(Screen.PRINTER_DOWN, mark)
        assert "kiosk-3" in down.words.zh and "kiosk-2" not in down.words.zh
        neighbour.printer.clear(Fault.PAPER_OUT)

        async def back() -> bool:
            return "kiosk-2" not in kiosk.ticket_state.down

        await until(back, "kiosk-1 to learn that kiosk-2 works again")


async def test_paper_out_after_issue_is_recorded_and_another_kiosk_reprints(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node1") as first:
        first.printer.paper_lines = 2  # the roll ends part-way through the ticket
        mark = await _take_ticket(first)
        failed = await first.view.wait_for(Screen.PRINT_FAILED, mark)
        tickets = await _tickets(session, server)
        assert len(tickets) == 1 and tickets[0]["number"] == failed.number

        async def recorded() -> bool:
            return [e["data"]["ok"] for e in await _printed_events(session, server, tickets[0]["id"])] == [False]

        await until(recorded, "print_failed to reach the server")
    async with running_node(hall_file, "kiosk-2", server.url, tmp_path / "node2") as second:
        mark = await _take_ticket(second)
        offer = await second.view.wait_for(Screen.REPRINT_OFFER, mark)
        assert offer.number == failed.number
        mark = await second.touch(Touch(Button.REPRINT))
        await second.view.wait_for(Screen.NUMBER, mark)
        assert failed.number in second.printer.tickets[-1].text

        async def reprinted() -> bool:
            return [e["data"]["ok"] for e in await _printed_events(session, server, tickets[0]["id"])] == [False, True]

        await until(reprinted, "kiosk-2's reprint to be recorded as printed")
    assert len(await _tickets(session, server)) == 1


async def test_a_card_pulled_mid_read_asks_for_the_card_again(
        tmp_path: Path, hall_file: Path, server: ServerProcess) -> None:
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        kiosk.reader.inject(Fault.CARD_PULLED)
        mark = await kiosk.tap(0)
        retry = await kiosk.view.wait_for(Screen.START, mark, match=lambda s: "卡片移开了" in s.words.zh)
        assert "Place it again" in retry.words.en and not retry.holder_masked
        kiosk.reader.clear(Fault.CARD_PULLED)
        mark = await kiosk.tap(0)
        await kiosk.view.wait_for(Screen.START, mark, match=lambda s: bool(s.holder_masked))


async def test_the_server_killed_while_printing_gets_the_confirmation_once_after_restart(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        kiosk.printer.inject(Fault.SLOW)  # status answers come late: the print takes a moment
        mark = await _take_ticket(kiosk)
        await until(lambda: _printing(kiosk), "the kiosk to start printing")
        server.kill()
        shown = await kiosk.view.wait_for(Screen.NUMBER, mark)
        outbox = kiosk.runtime.outbox
        assert outbox is not None
        kept = [item.kind for item in await outbox.pending()]
        assert "printed" in kept  # the confirmation waits for the server
        await until(lambda: False in kiosk.view.links, "the kiosk to say the server is unreachable")
        server.start(same_port=True)

        async def empty() -> bool:
            return await outbox.count() == 0

        await until(empty, "the outbox to deliver everything")
        await until(lambda: kiosk.view.links[-1] is True, "the kiosk to say the server is back")
    tickets = await _tickets(session, server)
    assert [t["number"] for t in tickets] == [shown.number]
    assert [e["data"]["ok"] for e in await _printed_events(session, server, tickets[0]["id"])] == [True]


async def test_a_printer_fault_and_an_unplug_reach_the_server_once_down_and_once_back(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    def printer_states(events: list[Any]) -> list[str]:
        return [e["data"]["state"] for e in events
                if e["type"] == "device.state" and e["data"]["device"] == "ticket_printer"]

    async def log_now() -> list[Any]:
        from tests.integration.server_support import read_log

        return await read_log(session, server)

    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        async def settled() -> bool:
            return printer_states(await log_now())[-1:] == ["ready"]

        await until(settled, "the printer's first report")
        before = len(printer_states(await log_now()))
        kiosk.printer.inject(Fault.PAPER_OUT)

        async def down() -> bool:
            return printer_states(await log_now())[before:] == ["fault"]

        await until(down, "the paper-out fault to reach the server")
        kiosk.printer.clear(Fault.PAPER_OUT)

        async def back() -> bool:
            return printer_states(await log_now())[before:] == ["fault", "ready"]

        await until(back, "the printer to be reported back")
        await kiosk.printer.unplug()

        async def unplugged() -> bool:
            return printer_states(await log_now())[before:] == ["fault", "ready", "disconnected"]

        await until(unplugged, "the unplugged printer to be reported")
        await kiosk.printer.replug()

        async def replugged() -> bool:
            return printer_states(await log_now())[before:] == ["fault", "ready", "disconnected", "ready"]

        await until(replugged, "the replugged printer to be reported back once")
        nodes = {n["node"]: n for n in (await _get(session, server, "/api/v1/nodes"))["nodes"]}
        assert {d["device"]: d["state"] for d in nodes["kiosk-1"]["devices"]}["ticket_printer"] == "ready"


async def test_what_a_stopped_node_could_not_send_is_sent_when_it_starts_again(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    holder = card_holder(0)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        kiosk.printer.inject(Fault.SLOW)
        mark = await _take_ticket(kiosk)
        await until(lambda: _printing(kiosk), "the kiosk to start printing")
        server.kill()
        shown = await kiosk.view.wait_for(Screen.NUMBER, mark)
        outbox = kiosk.runtime.outbox
        assert outbox is not None and "printed" in [i.kind for i in await outbox.pending()]
    stored = (tmp_path / "node" / "kiosk-1" / "outbox.sqlite3").read_bytes()
    assert holder.id_number.encode() not in stored and holder.name.encode("utf-8") not in stored
    server.start(same_port=True)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as again:
        box = again.runtime.outbox
        assert box is not None

        async def empty() -> bool:
            return await box.count() == 0

        await until(empty, "the restarted node to deliver what was kept")
        health = await _get(session, server, "/api/v1/health")
        await until(lambda: again.runtime.follower.last_id >= health["last_event_id"], "the stream to catch up")
        assert again.runtime.follower.gaps == 0
        assert shown.number in again.behaviour.numbers  # learnt from the replayed stream
    tickets = await _tickets(session, server)
    assert [t["number"] for t in tickets] == [shown.number]
    assert [e["data"]["ok"] for e in await _printed_events(session, server, tickets[0]["id"])] == [True]


async def test_an_unreachable_server_prints_nothing_and_retry_uses_the_same_request(
        tmp_path: Path, hall_file: Path, server: ServerProcess, session: aiohttp.ClientSession) -> None:
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        server.kill()
        mark = await _take_ticket(kiosk)
        away = await kiosk.view.wait_for(Screen.UNREACHABLE, mark)
        assert "无法连接" in away.words.zh and kiosk.printer.tickets == []  # no number the server did not give
        job = kiosk.ticket_state.job
        assert job is not None
        server.start(same_port=True)
        mark = await kiosk.touch(Touch(Button.RETRY))
        shown = await kiosk.view.wait_for(Screen.NUMBER, mark)
        again = kiosk.ticket_state.job
        assert again is not None and again.key == job.key  # the retry is the same request
        assert shown.number in kiosk.printer.tickets[-1].text
    assert [t["number"] for t in await _tickets(session, server)] == [shown.number]


async def test_idle_reset_wipes_the_holder_and_returns_to_the_start(
        tmp_path: Path, hall_file: Path, server: ServerProcess) -> None:
    settings = replace(FAST, idle_reset_s=0.5)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node", settings) as kiosk:
        mark = await kiosk.tap(0)
        await kiosk.view.wait_for(Screen.START, mark, match=lambda s: bool(s.holder_masked))
        mark = len(kiosk.view.shown)
        reset = await kiosk.view.wait_for(Screen.START, mark, what="the idle reset")
        assert not reset.holder_masked and kiosk.ticket_state.holder is None
