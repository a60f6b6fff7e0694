"""The console's cookie and CSRF rules over plain HTTP against the real server (a browser's requests, by hand).

Cookies are handled by hand (a DummyCookieJar), so each test sees exactly what the server set and sends
exactly what a browser would: the session cookie, and for actions the CSRF header and an Origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import PIN, ServerProcess, error_code, kiosk, manager


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def same_origin(server: ServerProcess) -> dict[str, str]:
    return {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.post(url, json=body or {}, headers=headers or {}, allow_redirects=False) as answer:
        return answer.status, await answer.json(), answer


async def signed_in(http: aiohttp.ClientSession, server: ServerProcess,
                    body: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """Sign in (s001, the demo manager, by default): the Cookie header to send and the CSRF token."""
    status, answer, response = await post(http, f"{server.url}/manage/sign-in", body or {"staff": "s001", "pin": PIN},
                                          same_origin(server))
    assert status == 200, answer
    morsel = SimpleCookie(response.headers["Set-Cookie"])["servicehall_session"]
    return {"Cookie": f"servicehall_session={morsel.value}"}, answer["csrf_token"]


async def test_sign_in_sets_a_strict_http_only_expiring_cookie_and_the_pages_open(
        server: ServerProcess, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/manage", allow_redirects=False) as answer:
        assert (answer.status, answer.headers["Location"]) == (303, "/manage/sign-in")
    async with http.get(f"{server.url}/manage/sign-in") as answer:
        assert answer.status == 200 and "管理后台登录" in await answer.text()
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    status, body, response = await post(http, f"{server.url}/manage/sign-in", {"staff": "s001", "pin": PIN},
                                        same_origin(server))
    assert status == 200 and body["node"] == "console:s001" and len(body["csrf_token"]) >= 32
    raw = response.headers["Set-Cookie"]
    morsel = SimpleCookie(raw)["servicehall_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert 0 < int(morsel["max-age"]) <= 12 * 3600 and len(morsel.value) >= 40
    cookie = {"Cookie": f"servicehall_session={morsel.value}"}
    for page, words in (("/manage", "实时看板"), ("/manage/history", "流程追溯")):
        async with http.get(f"{server.url}{page}", headers=cookie) as answer:
            text = await answer.text()
            assert answer.status == 200 and words in text and body["csrf_token"] in text
            assert answer.headers["Cache-Control"] == "no-store"
    async with http.get(f"{server.url}/manage/sign-in", headers=cookie, allow_redirects=False) as answer:
        assert (answer.status, answer.headers["Location"]) == (303, "/manage")
    status, _, _ = await post(http, f"{server.url}/manage/sign-in", {"token": "demo-manager"},
                              {**cookie, **same_origin(server)})  # signing in again replaces the old session
    assert status == 200
    async with http.get(f"{server.url}/api/v1/alerts", headers=cookie) as answer:
        assert answer.status == 401
    for asset in ("common.js", "dashboard.js", "console.css"):
        async with http.get(f"{server.url}/manage/static/{asset}") as answer:
            assert answer.status == 200 and len(await answer.read()) > 500
    async with http.get(f"{server.url}/manage/static/..%2Fpages.py") as answer:
        assert answer.status == 404


async def test_the_session_is_a_manager_on_the_api_and_every_action_needs_the_csrf_header_and_same_origin(
        server: ServerProcess, http: aiohttp.ClientSession) -> None:
    cookie, csrf = await signed_in(http, server)
    async with http.get(f"{server.url}/api/v1/alerts", headers=cookie) as answer:  # a read: the cookie is enough
        assert answer.status == 200 and (await answer.json())["alerts"] == []
    tickets = f"{server.url}/api/v1/tickets"
    refusals = [
        ({**same_origin(server)}, "csrf_token_invalid"),
        ({**same_origin(server), "X-CSRF-Token": csrf[:-2] + "xx"}, "csrf_token_invalid"),
        ({"Origin": "http://evil.example", "X-CSRF-Token": csrf}, "cross_site_request"),
        ({"Origin": "null", "X-CSRF-Token": csrf}, "cross_site_request"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": server.url, "X-CSRF-Token": csrf}, "cross_site_request"),
        ({"Sec-Fetch-Site": "same-site", "X-CSRF-Token": csrf}, "cross_site_request"),
        ({"X-CSRF-Token": csrf}, "cross_site_request"),  # neither Origin nor Sec-Fetch-Site
    ]
    for extra, code in refusals:
        status, body, _ = await post(http, tickets, {"service": "A01"}, {**cookie, **extra})
        assert (status, error_code(body)) == (403, code), extra
    async with http.get(tickets, headers=manager()) as answer:
        assert (await answer.json())["tickets"] == []  # not one refused request issued a ticket
    status, issued, _ = await post(http, tickets, {"service": "A01"},
                                   {**cookie, **same_origin(server), "X-CSRF-Token": csrf})
    assert status == 201 and issued["number"] == "A001"
    async with http.get(f"{server.url}/api/v1/tickets/{issued['id']}/history", headers=manager()) as answer:
        assert (await answer.json())["events"][0]["node"] == "console:s001"  # attributed to the manager


async def test_the_event_stream_takes_the_cookie_from_the_console_origin_only(
        server: ServerProcess, http: aiohttp.ClientSession) -> None:
    cookie, _ = await signed_in(http, server)
    status, issued, _ = await post(http, f"{server.url}/api/v1/tickets", {"service": "B01"}, kiosk(1))
    assert status == 201
    async with http.ws_connect(f"{server.ws_url}?after=0", headers={**cookie, "Origin": server.url}) as ws:
        seen: list[dict[str, Any]] = []
        while not any(e.get("type") == "ticket.issued" for e in seen):
            seen.append(await ws.receive_json(timeout=10.0))
    issued_event = next(e for e in seen if e["type"] == "ticket.issued")
    assert issued_event["data"]["number"] == issued["number"] and "holder_masked" in issued_event["data"]  # staff view
    for headers in ({**cookie, "Origin": "http://evil.example"}, cookie):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{server.ws_url}?after=0", headers=headers)
        assert refused.value.status == 403


async def test_sign_out_needs_the_csrf_header_and_ends_the_session_and_its_event_stream(
        server: ServerProcess, http: aiohttp.ClientSession) -> None:
    cookie, csrf = await signed_in(http, server)
    stream = await http.ws_connect(f"{server.ws_url}?after=0", headers={**cookie, "Origin": server.url})
    status, body, _ = await post(http, f"{server.url}/manage/sign-out", {}, {**cookie, **same_origin(server)})
    assert (status, error_code(body)) == (403, "csrf_token_invalid")
    status, body, response = await post(http, f"{server.url}/manage/sign-out", {},
                                        {**cookie, **same_origin(server), "X-CSRF-Token": csrf})
    assert status == 200 and body["next"] == "/manage/sign-in"
    assert SimpleCookie(response.headers["Set-Cookie"])["servicehall_session"].value == ""
    while (message := await stream.receive(timeout=10.0)).type is aiohttp.WSMsgType.TEXT:
        pass  # the history so far, then the close
    assert (message.type, stream.close_code) == (aiohttp.WSMsgType.CLOSE, 4001)
    await stream.close()
    async with http.get(f"{server.url}/api/v1/alerts", headers=cookie) as answer:
        assert (answer.status, error_code(await answer.json())) == (401, "session_expired")
    async with http.get(f"{server.url}/manage", headers=cookie, allow_redirects=False) as answer:
        assert answer.status == 303


async def test_sessions_live_in_memory_so_a_restart_signs_everyone_out(server: ServerProcess,
                                                                        http: aiohttp.ClientSession) -> None:
    cookie, _ = await signed_in(http, server)
    server.restart()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as fresh, \
            fresh.get(f"{server.url}/api/v1/alerts", headers=cookie) as answer:  # no kept-alive connection
        assert (answer.status, error_code(await answer.json())) == (401, "session_expired")


async def test_who_may_sign_in_and_a_cross_site_sign_in_is_refused(server: ServerProcess,
                                                                    http: aiohttp.ClientSession) -> None:
    url = f"{server.url}/manage/sign-in"
    cases = [
        ({"staff": "s002", "pin": PIN}, same_origin(server), 403, "forbidden"),  # right PIN, not a manager
        ({"token": "demo-kiosk-1"}, same_origin(server), 403, "forbidden"),  # a node, not a manager node
        ({"token": "not-a-token-at-all"}, same_origin(server), 401, "wrong_token"),
        ({"staff": "s001"}, same_origin(server), 400, "missing_field"),
        ({"staff": "s001", "pin": PIN, "token": "demo-manager"}, same_origin(server), 400, "missing_field"),
        ({"staff": "s001", "pin": PIN}, {"Origin": "http://evil.example"}, 403, "cross_site_request"),
        ({"staff": "s001", "pin": PIN}, {}, 403, "cross_site_request"),
    ]
    for body, headers, status, code in cases:
        got, answer, response = await post(http, url, body, headers)
        assert (got, error_code(answer)) == (status, code), body
        assert "Set-Cookie" not in response.headers
    cookie, _ = await signed_in(http, server, {"token": "demo-manager"})
    async with http.get(f"{server.url}/api/v1/nodes", headers=cookie) as answer:
        assert answer.status == 200


async def test_wrong_pins_lock_the_staff_id_and_then_the_address_like_window_pins(
        server: ServerProcess, http: aiohttp.ClientSession) -> None:
    url = f"{server.url}/manage/sign-in"
    for _ in range(5):  # PIN_FAILURES_PER_STAFF
        status, body, _ = await post(http, url, {"staff": "s001", "pin": "000000"}, same_origin(server))
        assert (status, error_code(body)) == (401, "wrong_pin")
    status, body, response = await post(http, url, {"staff": "s001", "pin": PIN}, same_origin(server))
    assert (status, error_code(body)) == (429, "too_many_attempts")  # even the right PIN, while locked
    assert int(response.headers["Retry-After"]) == body["error"]["details"]["retry_after_s"] > 0
    for n in range(5):  # unknown ids count against the address only: 5 more make PIN_FAILURES_PER_NODE
        status, body, _ = await post(http, url, {"staff": f"x{n}", "pin": "000000"}, same_origin(server))
        assert (status, error_code(body)) == (401, "wrong_pin")
    for body_in in ({"staff": "s003", "pin": "000000"}, {"token": "demo-manager"}):
        status, body, _ = await post(http, url, body_in, same_origin(server))
        assert (status, error_code(body)) == (429, "too_many_attempts"), body_in
    server.restart()  # the count is durable (staff.pin_failed events), as for windows
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as fresh:  # no kept-alive connection
        status, body, _ = await post(fresh, f"{server.url}/manage/sign-in", {"token": "demo-manager"},
                                     same_origin(server))
    assert (status, error_code(body)) == (429, "too_many_attempts")
