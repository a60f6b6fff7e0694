"""The window node for real: the queue server as a child process, the simulated RS-485 line with a call pad,
a window display and a rating pad, the real bus drivers and the node's ServerClient in between.

Keys are pressed on the simulated pad, the LED display is read back from the simulator, and what happened is
read from the server's own audit log, so every claim is checked where it is true, not in the node's memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devices.bus485.registers import Key, Lamp, Led, RatingMode, WindowState
from devices.bus485.simulator import BusSimulator, SimCallPad, SimRatingPad
from devices.faults import Fault
from devices.state import DeviceState
from kiosk.node import NodeRuntime
from kiosk.window_node import WindowNode
from tests.integration.server_support import PIN, ServerProcess, kiosk, manager
from tests.support.node_rig import running_behaviour
from tests.support.waiting import until

PAD, DISPLAY, RATING = 1, 2, 3


def bus_urls(line: str) -> dict[str, str]:
    base = f"sim+modbus+serial://{line}?poll=0.02&address="
    return {"callpad": f"{base}{PAD}&device=callpad", "window_display": f"{base}{DISPLAY}&device=window_display",
            "rating_pad": f"{base}{RATING}&device=rating_pad"}


@dataclass
class Hall:
    server: ServerProcess
    http: aiohttp.ClientSession
    runtime: NodeRuntime
    node: WindowNode
    sim: BusSimulator

    async def call(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None = None,
                   ) -> tuple[int, Any]:
        async with self.http.request(method, self.server.url + path, headers=headers, json=body) as answer:
            return answer.status, await answer.json()

    async def issue(self, key: str) -> dict[str, Any]:
        status, body = await self.call("POST", "/api/v1/tickets", kiosk(1, key), {"service": "A01"})
        assert status == 201, body
        return body

    async def ticket(self, ident: str) -> dict[str, Any]:
        status, body = await self.call("GET", f"/api/v1/tickets/{ident}", manager())
        assert status == 200, body
        return body

    async def audit(self, kind: str) -> list[dict[str, Any]]:
        status, body = await self.call("GET", f"/api/v1/audit?type={kind}&limit=1000", manager())
        assert status == 200, body
        return list(body["events"])

    def press(self, key: Key, arg: int = 0) -> int:
        return self.sim.press(PAD, key, arg)

    @property
    def rating_pad(self) -> SimRatingPad:
        pad = self.sim.devices[RATING]
        assert isinstance(pad, SimRatingPad)
        return pad

    async def call_and_finish(self, key: str) -> dict[str, Any]:
        """A ticket issued, called on the pad (its number on the display) and finished on the pad."""
        ticket = await self.issue(key)
        self.press(Key.CALL_NEXT)
        await until(lambda: self.sim.display(DISPLAY).number == ticket["number"], "called")
        self.press(Key.FINISH)
        return ticket

    async def sign_in_on_the_pad(self) -> None:
        self.press(Key.SIGN_IN, 1)
        for digit in PIN:
            self.press(Key.DIGIT, int(digit))
        self.press(Key.ENTER)

        async def signed_in() -> bool:
            _, body = await self.call("GET", "/api/v1/windows", manager())
            return any(w["number"] == 1 and w["staff"] == "s001" for w in body["windows"])

        await until(signed_in, "s001 signed in at window 1 through the pad")


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[Hall]:
    with ServerProcess(tmp_path / "data") as server:
        async with aiohttp.ClientSession() as http, running_behaviour(
                server.url, "window-1", bus_urls("win-it"), tmp_path / "node",
                lambda rt: WindowNode(rt, rating_timeout_s=60, key_seed="it")) as (runtime, node):
            await until(lambda: all(runtime.devices[d].last_status.state is DeviceState.READY for d in runtime.devices),
                        "the three bus devices ready")
            assert node.pad is not None and isinstance(node.pad.simulator, BusSimulator)
            yield Hall(server, http, runtime, node, node.pad.simulator)


async def test_pad_keys_call_on_the_server_show_on_the_display_and_the_rating_arrives(hall: Hall) -> None:
    first = await hall.issue("k-1")
    assert hall.sim.display(DISPLAY).state is WindowState.CLOSED
    await hall.sign_in_on_the_pad()
    await until(lambda: hall.sim.display(DISPLAY).state is WindowState.SERVING, "the display open after sign-in")

    hall.press(Key.CALL_NEXT)
    await until(lambda: hall.sim.display(DISPLAY).number == first["number"], "the called number on the display")
    assert hall.sim.display(DISPLAY).text == f"请{first['number']}号到1号窗口办理"
    ticket = await hall.ticket(first["id"])
    assert (ticket["state"], ticket["window"]) == ("called", 1)

    hall.press(Key.START)
    await until(lambda: hall.sim.display(DISPLAY).text == "正在办理", "serving shown")
    hall.press(Key.FINISH)
    rating_pad = hall.sim.devices[RATING]
    assert isinstance(rating_pad, SimRatingPad)
    await until(lambda: rating_pad.mode is RatingMode.INVITING, "the rating pad lit after finish")
    assert rating_pad.lamp is Lamp.BLINK and rating_pad.invitation == (first["number"], "s001", 60)
    assert (await hall.ticket(first["id"]))["state"] == "finished"

    assert hall.sim.rate(RATING, 4) is not None

    async def rated() -> bool:
        return len(await hall.audit("rating.given")) == 1

    await until(rated, "the rating on the server")
    [given] = await hall.audit("rating.given")
    assert (given["data"]["ticket"], given["data"]["level"], given["data"]["channel"]) == (first["id"], 4, "pad")
    await until(lambda: rating_pad.mode is RatingMode.THANK_YOU, "the thank-you screen")


async def test_a_call_made_through_the_api_shows_on_the_display(hall: Hall) -> None:
    await hall.sign_in_on_the_pad()
    ticket = await hall.issue("k-api")
    status, body = await hall.call("POST", f"/api/v1/tickets/{ticket['id']}/call", manager(), {"window": 1})
    assert status == 200, body
    await until(lambda: hall.sim.display(DISPLAY).number == ticket["number"], "an API call on the display")
    status, body = await hall.call("POST", f"/api/v1/tickets/{ticket['id']}/finish", manager(), {"window": 1})
    assert status == 200, body
    rating_pad = hall.sim.devices[RATING]
    assert isinstance(rating_pad, SimRatingPad)
    await until(lambda: rating_pad.mode is RatingMode.INVITING, "an API finish lights the rating pad too")


async def test_the_same_frame_retried_is_acted_on_once(hall: Hall) -> None:
    await hall.sign_in_on_the_pad()
    ticket = await hall.issue("k-dup")
    hall.press(Key.CALL_NEXT)
    await until(lambda: hall.sim.display(DISPLAY).number == ticket["number"], "called")
    # the pad's firmware shows the acknowledged START again with the same seq, and the ack of the next poll is lost
    hall.sim.inject(Fault.DUPLICATE_EVENT, times=1, address=PAD)
    seq = hall.press(Key.START)
    await until(lambda: hall.sim.devices[PAD].reported[seq] >= 2, "the frame shown to the master twice")
    await until(lambda: hall.sim.display(DISPLAY).text == "正在办理", "serving shown")
    assert hall.node.pad is not None and hall.node.pad.duplicates_dropped >= 1
    started = [e for e in await hall.audit("ticket.started") if e["data"]["ticket"] == ticket["id"]]
    assert len(started) == 1


async def test_the_line_unplugged_and_replugged_gives_one_transition_each_way_and_work_goes_on(hall: Hall) -> None:
    await hall.sign_in_on_the_pad()

    async def callpad_states() -> list[str]:
        """The call pad's health as the server logged it."""
        return [e["data"]["state"] for e in await hall.audit("device.state")
                if e["node"] == "window-1" and e["data"]["device"] == "callpad"]

    async def reported(states: list[str]) -> bool:
        return await callpad_states() == states

    await until(lambda: reported(["ready"]), "the call pad's first report")
    await hall.sim.unplug()
    devices = list(hall.runtime.devices.values())
    await until(lambda: all(d.last_status.state is DeviceState.DISCONNECTED for d in devices), "down")
    await hall.sim.replug()
    await until(lambda: all(d.last_status.state is DeviceState.READY for d in devices), "back")
    await until(lambda: reported(["ready", "disconnected", "ready"]), "one transition down and one up on the server")

    ticket = await hall.issue("k-after")
    hall.press(Key.CALL_NEXT)
    await until(lambda: hall.sim.display(DISPLAY).number == ticket["number"], "a call after the replug")
    assert (await hall.ticket(ticket["id"]))["state"] == "called"
    assert await callpad_states() == ["ready", "disconnected", "ready"]


async def test_the_same_pin_digit_twice_is_two_digits(hall: Hall) -> None:
    hall.press(Key.SIGN_IN, 1)
    hall.press(Key.DIGIT, 1)
    hall.press(Key.DIGIT, 1)
    pad = hall.sim.devices[PAD]
    assert isinstance(pad, SimCallPad)
    await until(lambda: pad.line == "s001 密码:**", "both digits typed (never debounced) and masked on the pad")
    assert hall.node.state.pin == "11"


async def test_an_invitation_nobody_answers_sends_no_rating(hall: Hall) -> None:
    hall.node.ctx = replace(hall.node.ctx, rating_timeout_s=1)
    hall.node.state = replace(hall.node.state, ctx=hall.node.ctx)  # what rating_timeout_s=1 would have built
    await hall.sign_in_on_the_pad()
    ticket = await hall.call_and_finish("k-silent")
    rating_pad = hall.rating_pad
    await until(lambda: rating_pad.invitation == (ticket["number"], "s001", 1), "the invitation written to the pad")
    await until(lambda: hall.node.state.invited is None, "the pad's timeout reached the node")
    assert rating_pad.mode is RatingMode.IDLE
    assert await hall.audit("rating.given") == []
    assert (await hall.ticket(ticket["id"]))["state"] == "finished"


async def test_a_rating_given_while_the_server_is_down_arrives_once_when_it_is_back(hall: Hall) -> None:
    await hall.sign_in_on_the_pad()
    ticket = await hall.call_and_finish("k-down")
    rating_pad = hall.rating_pad
    await until(lambda: rating_pad.mode is RatingMode.INVITING, "the rating pad lit")

    hall.server.kill()
    hall.press(Key.PAUSE, 2)  # a live action with the server away: said on the pad, not queued
    pad = hall.sim.devices[PAD]
    assert isinstance(pad, SimCallPad)
    await until(lambda: pad.line == "服务器无法连接，请重试", "the pad says the server is away", limit_s=60)
    assert hall.sim.rate(RATING, 2) is not None  # the citizen rates meanwhile: it waits in the outbox
    outbox = hall.runtime.outbox
    assert outbox is not None

    async def waiting() -> bool:
        return any(item.kind == "rating" for item in await outbox.pending())

    await until(waiting, "the rating kept in the outbox")
    hall.server.start(same_port=True)

    async def delivered() -> bool:
        return len(await hall.audit("rating.given")) == 1 and not await waiting()

    await until(delivered, "the rating delivered after the restart", limit_s=60)
    [given] = await hall.audit("rating.given")
    assert (given["data"]["ticket"], given["data"]["level"]) == (ticket["id"], 2)
    assert await hall.audit("window.paused") == [], "the press made while the server was away acted later"


async def test_the_yellow_led_lights_while_citizens_wait(hall: Hall) -> None:
    await hall.sign_in_on_the_pad()
    pad = hall.sim.devices[PAD]
    assert isinstance(pad, SimCallPad)
    assert not pad.leds & Led.YELLOW
    await hall.issue("k-wait")
    await until(lambda: bool(pad.leds & Led.YELLOW), "the yellow LED")
    hall.press(Key.CLEAR)  # clears the sign-in message from the line
    await until(lambda: pad.line == "s001 等候1人 请叫号", "the count on the pad's line")
    hall.press(Key.CALL_NEXT)
    await until(lambda: not pad.leds & Led.YELLOW and bool(pad.leds & Led.GREEN), "nobody left waiting")
