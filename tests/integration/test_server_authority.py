"""Who may do what to a ticket, PIN guessing, and what citizens and staff are told: over real HTTP.

Each finding of the hardening review that a client can see: a kiosk marking another kiosk's ticket, a
printed ticket turned into a failed one, PIN guesses spread across windows or reset by a restart, a
citizen left "called" at a window that closed, a JSON answer to a phone opening an unknown QR code, a
window told it cannot act for "window -1", and ticket lists that silently stopped at 1,000.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import (
    PIN,
    ServerProcess,
    all_tickets,
    display,
    error_code,
    kiosk,
    manager,
    sign_in,
    window,
)

TICKETS = "/api/v1/tickets"


@pytest.fixture
def server(tmp_path: Any) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post(session: aiohttp.ClientSession, server: ServerProcess, path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, Any, Any]:
    async with session.post(server.url + path, headers=headers, json=body) as answer:
        return answer.status, await answer.json(), answer.headers


async def issue(session: aiohttp.ClientSession, server: ServerProcess, n: int = 1) -> dict[str, Any]:
    status, ticket, _ = await post(session, server, TICKETS, kiosk(n), {"service": "A01"})
    assert status == 201, ticket
    return ticket


async def test_another_kiosk_reports_only_a_reprint_of_a_failed_ticket(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    """The citizen whose ticket failed to print may take the reprint at any kiosk; that kiosk reports it."""
    ticket = await issue(session, server, 1)
    path = f"{TICKETS}/{ticket['id']}"
    status, body, _ = await post(session, server, f"{path}/printed", kiosk(2))
    assert (status, error_code(body)) == (403, "forbidden")  # not failed: still the issuing kiosk's to report
    status, body, _ = await post(session, server, f"{path}/print_failed", kiosk(1), {"reason": "paper out"})
    assert status == 200 and body["printed"] == "failed"
    status, body, _ = await post(session, server, f"{path}/print_failed", kiosk(3), {"reason": "jam"})
    assert status == 200 and body["printed"] == "failed"  # a reprint that failed too
    status, body, _ = await post(session, server, f"{path}/printed", kiosk(2))
    assert status == 200 and body["printed"] == "printed"
    status, body, _ = await post(session, server, f"{path}/print_failed", kiosk(3), {"reason": "jam"})
    assert (status, error_code(body)) == (403, "forbidden")  # printed is final, and no longer a reprint


async def test_only_the_issuing_kiosk_or_a_manager_reports_printing_and_printed_is_final(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    ticket = await issue(session, server, 1)
    path = f"{TICKETS}/{ticket['id']}"
    status, body, _ = await post(session, server, f"{path}/print_failed", kiosk(2), {"reason": "paper out"})
    assert (status, error_code(body)) == (403, "forbidden") and "issued" in body["error"]["message_en"]
    status, body, _ = await post(session, server, f"{path}/printed", kiosk(1))
    assert status == 200 and body["printed"] == "printed"
    status, body, _ = await post(session, server, f"{path}/print_failed", manager(), {"reason": "jam"})
    assert (status, error_code(body)) == (409, "already_printed")
    status, body, _ = await post(session, server, f"{path}/printed", kiosk(1))  # a repeat is harmless
    assert status == 200 and body["printed"] == "printed"


async def test_pin_guesses_lock_the_staff_id_on_every_node_durably_with_retry_after(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    for _ in range(5):
        status, body, _ = await post(session, server, "/api/v1/windows/6/sign-in", window(6),
                                     {"staff": "s006", "pin": "999999"})
        assert (status, error_code(body)) == (401, "wrong_pin")
    server.restart()  # the count is in the log, not in memory
    for headers, number in ((window(6), 6), (manager(), 6)):
        status, body, answer_headers = await post(session, server, f"/api/v1/windows/{number}/sign-in", headers,
                                                  {"staff": "s006", "pin": PIN})
        assert (status, error_code(body)) == (429, "too_many_attempts")
        assert 1 <= int(answer_headers["Retry-After"]) <= 300
        assert int(answer_headers["Retry-After"]) == body["error"]["details"]["retry_after_s"]
    await sign_in(session, server, 7)  # other staff are not affected


async def test_guessing_many_staff_ids_from_one_node_locks_that_node(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    for n in range(10):
        status, body, _ = await post(session, server, "/api/v1/windows/3/sign-in", manager(),
                                     {"staff": f"nobody{n}", "pin": "000000"})
        assert (status, error_code(body)) == (401, "wrong_pin")
    status, body, _ = await post(session, server, "/api/v1/windows/3/sign-in", manager(), {"staff": "s003", "pin": PIN})
    assert (status, error_code(body)) == (429, "too_many_attempts")
    await sign_in(session, server, 3)  # the window's own node still signs in


async def test_a_window_that_signs_out_sends_its_called_citizen_back_to_the_head_of_the_line(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    await sign_in(session, server, 1)
    first = await issue(session, server)
    second = await issue(session, server)
    status, called, _ = await post(session, server, "/api/v1/windows/1/call-next", window(1))
    assert status == 200 and called["id"] == first["id"]
    status, _, _ = await post(session, server, "/api/v1/windows/1/sign-out", window(1))
    assert status == 200
    for restart in (False, True):
        if restart:
            server.restart()
        async with session.get(f"{server.url}{TICKETS}/{first['id']}") as answer:
            view = await answer.json()
        assert view["state"] == "waiting" and view["window"] is None and view["ahead"] == 0
        async with session.get(f"{server.url}{TICKETS}/{first['id']}", headers={"Accept": "text/html"}) as answer:
            page = await answer.text()
        assert "号窗口办理" not in page and "前面还有" in page
    await sign_in(session, server, 2)
    status, called, _ = await post(session, server, "/api/v1/windows/2/call-next", window(2))
    assert called["id"] == first["id"] and second["id"] != first["id"]


async def test_a_window_acting_on_a_waiting_ticket_is_told_why_in_words(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    ticket = await issue(session, server)
    await sign_in(session, server, 1)
    status, body, _ = await post(session, server, f"{TICKETS}/{ticket['id']}/finish", window(1))
    assert (status, error_code(body)) == (403, "forbidden")
    text = json.dumps(body["error"], ensure_ascii=False)
    assert "-1" not in text and ticket["number"] in text and "waiting" in body["error"]["message_en"]


async def test_an_unknown_ticket_opened_on_a_phone_gets_a_page_not_json(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{server.url}{TICKETS}/nosuchticket", headers={"Accept": "text/html"}) as answer:
        assert answer.status == 404 and answer.content_type == "text/html"
        assert "未找到此号票" in await answer.text()
    async with session.get(f"{server.url}{TICKETS}/nosuchticket") as answer:
        assert answer.status == 404 and error_code(await answer.json()) == "ticket_not_found"


async def test_the_ticket_list_is_paged_with_a_cursor_and_misses_nothing(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    issued = [(await issue(session, server, 1 + n % 3))["id"] for n in range(25)]
    async with session.get(f"{server.url}{TICKETS}", headers=window(1), params={"limit": "10"}) as answer:
        first = await answer.json()
    assert len(first["tickets"]) == 10 and first["next"]
    paged = await all_tickets(session, server, window(1), limit="10")
    assert [t["id"] for t in paged] == issued  # queue order, each once
    for bad in ({"after": "garbage"}, {"limit": "0"}, {"limit": "100000"}):
        async with session.get(f"{server.url}{TICKETS}", headers=window(1), params=bad) as answer:
            assert answer.status == 400 and error_code(await answer.json()) in ("invalid_cursor", "invalid_limit")


async def test_screens_and_kiosks_see_windows_without_staff_ids(
        server: ServerProcess, session: aiohttp.ClientSession) -> None:
    await sign_in(session, server, 1)
    for headers, shown in ((display(), ""), (kiosk(1), ""), (window(2), "s001"), (manager(), "s001")):
        async with session.get(f"{server.url}/api/v1/windows", headers=headers) as answer:
            first = (await answer.json())["windows"][0]
        assert first["number"] == 1 and first["staff"] == shown
        assert first.get("signed_in", True) is True
