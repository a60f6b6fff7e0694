"""Odd text in every text field of every route, against the real server: a 4xx or a correct answer, never a
stopped hall.

Lone surrogates are valid JSON (``"\\ud800"``) but no store can keep them; NUL, C1 controls, bidi overrides,
zero-width and other format characters and noncharacters would reach the screens and mislead. Each is
refused at the API edge with ``invalid_text`` naming the field. 4-byte characters (CJK Extension B, as
in 𬌗 and 𠀾) are legitimate in names and must round-trip, also through a restart. On both stores: PostgreSQL
text cannot hold NUL at all, so the refusal at the edge is what keeps its log writable.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import (
    PIN,
    ServerProcess,
    error_code,
    health,
    kiosk,
    manager,
    sign_in,
    window,
)

TICKETS = "/api/v1/tickets"

# Refused everywhere: what a store cannot keep or a screen would show wrongly.
ODD = {
    "lone_high_surrogate": "\ud800",
    "lone_low_surrogate": "\udfff",
    "surrogate_after_name": "王*\ud800",
    "nul": "\x00",
    "nul_inside": "A0\x001",
    "escape_sequence": "\x1b[2J",
    "c1_control": "\x85",
    "newline": "暂停\n原因",
    "bidi_override": "\u202e1 号窗口",
    "bidi_embedding": "\u202ax",
    "bidi_isolate": "\u2066x\u2069",
    "right_to_left_mark": "x\u200f",
    "zero_width_space": "王\u200b*",
    "byte_order_mark": "\ufeff",
    "line_separator": "x\u2028y",
    "noncharacter": "\uffff",
    "astral_noncharacter": "\U0010ffff",
}
# Legitimate: rare characters in names (CJK Extension B) and plain CJK.
LEGIT = {"ext_b_name": "𬌗*", "ext_b_name_2": "𠀾*", "plain": "王*"}


def raw_json(body: dict[str, Any]) -> bytes:
    """``json.dumps`` writes a lone surrogate as the escape ``\\ud800``: exactly what a careless client sends."""
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_server_store: str | None) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("odd-text") / "data", store=module_server_store) as proc:
        request = urllib.request.Request(f"{proc.url}{TICKETS}", data=b'{"service": "A01"}', headers=kiosk(1))
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        yield proc


async def post(session: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, Any]:
    async with session.post(server.url + path, headers={**headers, "Content-Type": "application/json"},
                            data=raw_json(body)) as response:
        return response.status, await response.json(content_type=None)


async def get(session: aiohttp.ClientSession, server: ServerProcess, path: str,
              headers: dict[str, str]) -> tuple[int, Any]:
    async with session.get(server.url + path, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def assert_invalid_text(result: tuple[int, Any], field: str) -> None:
    status, body = result
    assert (status, error_code(body)) == (400, "invalid_text"), body
    assert body["error"]["details"]["field"] == field, body


def assert_4xx_or_ok(result: tuple[int, Any]) -> None:
    status, body = result
    if status >= 400:
        assert status < 500, body
        error_code(body)


async def waiting_ticket(session: aiohttp.ClientSession, server: ServerProcess) -> dict[str, Any]:
    status, ticket = await post(session, server, TICKETS, kiosk(2), {"service": "B01"})
    assert status == 201, ticket
    return ticket


ISSUE_FIELDS = ["service", "priority", "holder_key", "holder_masked", "appointment_id"]


@pytest.mark.parametrize("field", ISSUE_FIELDS)
async def test_odd_text_in_issue_fields_is_refused(server: ServerProcess, field: str) -> None:
    async with aiohttp.ClientSession() as session:
        before = (await health(session, server))["last_event_id"]
        for text in ODD.values():
            body = {"service": "A01", field: text}
            assert_invalid_text(await post(session, server, TICKETS, kiosk(3), body), field)
        assert (await health(session, server))["last_event_id"] == before, "a refused request changed the log"


async def test_four_byte_names_are_issued_and_round_trip(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for name in LEGIT.values():
            status, ticket = await post(session, server, TICKETS, kiosk(3), {"service": "C01", "holder_masked": name})
            assert status == 201, ticket
            status, listed = await get(session, server, f"{TICKETS}?service=C01", manager())
            assert status == 200
            assert name in {t["holder_masked"] for t in listed["tickets"]}


@pytest.mark.parametrize("field", ISSUE_FIELDS)
async def test_four_byte_text_in_issue_fields_is_a_4xx_or_a_ticket(server: ServerProcess, field: str) -> None:
    async with aiohttp.ClientSession() as session:
        for text in ("𬌗", "𠀾𬌗*", "𬌗" * 20):
            assert_4xx_or_ok(await post(session, server, TICKETS, kiosk(4), {"service": "D01", field: text}))


@pytest.mark.parametrize("field", ["to_service", "reason"])
async def test_odd_text_in_ticket_action_fields_is_refused(server: ServerProcess, field: str) -> None:
    async with aiohttp.ClientSession() as session:
        ticket = await waiting_ticket(session, server)
        for action in ("transfer", "cancel", "skip"):
            for text in ODD.values():
                result = await post(session, server, f"{TICKETS}/{ticket['id']}/{action}", manager(), {field: text})
                assert_invalid_text(result, field)
        status, after = await get(session, server, f"{TICKETS}/{ticket['id']}", {})
        assert (status, after["state"]) == (200, "waiting")


async def test_four_byte_reason_and_service_in_ticket_actions(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        ticket = await waiting_ticket(session, server)
        result = await post(session, server, f"{TICKETS}/{ticket['id']}/transfer", manager(),
                            {"to_service": "𬌗", "reason": "𠀾"})
        assert (result[0], error_code(result[1])) == (404, "unknown_service"), result
        status, cancelled = await post(session, server, f"{TICKETS}/{ticket['id']}/cancel", manager(),
                                       {"reason": "𬌗 本人要求"})
        assert (status, cancelled["state"], cancelled["cancel_reason"]) == (200, "cancelled", "𬌗 本人要求"), cancelled


async def test_odd_text_in_a_pause_reason_is_refused(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await sign_in(session, server, 8)
        for text in ODD.values():
            assert_invalid_text(await post(session, server, "/api/v1/windows/8/pause", window(8), {"reason": text}),
                                "reason")
        status, windows = await get(session, server, "/api/v1/windows", window(8))
        assert status == 200
        assert not next(w for w in windows["windows"] if w["number"] == 8)["paused"]
        status, paused = await post(session, server, "/api/v1/windows/8/pause", window(8), {"reason": "𬌗 午休"})
        assert (status, paused["pause_reason"]) == (200, "𬌗 午休"), paused
        status, _ = await post(session, server, "/api/v1/windows/8/resume", window(8), {})
        assert status == 200


@pytest.mark.parametrize("field", ["staff", "pin"])
async def test_odd_text_at_sign_in_is_refused(server: ServerProcess, field: str) -> None:
    async with aiohttp.ClientSession() as session:
        for text in ODD.values():
            body = {"staff": "s009", "pin": PIN, field: text}
            assert_invalid_text(await post(session, server, "/api/v1/windows/9/sign-in", window(9), body), field)
        status, body = await post(session, server, "/api/v1/windows/9/sign-in", window(9),
                                  {"staff": "s009", "pin": PIN, field: "𬌗"})
        assert (status, error_code(body)) == (401, "wrong_pin"), body


def _path_segment(text: str) -> str:
    """Percent-encode text for a path or query (a lone surrogate as its would-be UTF-8 bytes)."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


async def test_odd_text_in_path_segments_and_query_parameters(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for text in [*ODD.values(), *LEGIT.values()]:
            segment = _path_segment(text)
            for method, path, headers in [
                ("GET", f"{TICKETS}/{segment}", {}),
                ("POST", f"{TICKETS}/{segment}/cancel", manager()),
                ("POST", f"{TICKETS}/{segment}/{segment}", manager()),
                ("POST", f"/api/v1/windows/{segment}/pause", manager()),
                ("GET", f"{TICKETS}?service={segment}", manager()),
                ("GET", f"{TICKETS}?state={segment}", manager()),
                ("GET", f"/api/v1/events?after={segment}", manager()),
            ]:
                async with session.request(method, f"{server.url}{path}", headers=headers) as response:
                    raw = await response.read()
                    assert response.status < 500, (path, raw)
                    if response.status >= 400:
                        error_code(json.loads(raw))
        for name in ("service", "state"):
            for text in ("\x00", "\u202eA01", "A01\u2066"):
                status, body = await get(session, server, f"{TICKETS}?{name}={_path_segment(text)}", manager())
                assert_invalid_text((status, body), name)
        status, body = await get(session, server, f"{TICKETS}?{_path_segment(chr(0x202E))}=1", manager())
        assert_invalid_text((status, body), "query parameter name")


async def test_the_hall_keeps_serving_and_restarts_cleanly(server: ServerProcess) -> None:
    """After every odd request above: issue, call and health still work, and the log replays on restart."""
    async with aiohttp.ClientSession() as session:
        status, ticket = await post(session, server, TICKETS, kiosk(5), {"service": "A01", "holder_masked": "𠀾*"})
        assert status == 201, ticket
        await sign_in(session, server, 10)
        status, called = await post(session, server, "/api/v1/windows/10/call-next", window(10), {})
        assert (status, called["state"]) == (200, "called"), called
        before = await health(session, server)
        status, listed = await get(session, server, TICKETS, manager())
        assert status == 200
    server.restart()
    async with aiohttp.ClientSession() as session:
        after = await health(session, server)
        assert after["last_event_id"] == before["last_event_id"]
        status, relisted = await get(session, server, TICKETS, manager())
        assert (status, relisted) == (200, listed)
        assert "𠀾*" in {t["holder_masked"] for t in relisted["tickets"]}
    assert "Traceback" not in server.log_text()
    assert "unexpected error" not in server.log_text()
