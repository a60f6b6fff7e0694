"""Bad input against the real server: the exact status and error code per class, one JSON shape, never a 500."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import PIN, ServerProcess, display, error_code, kiosk, window

TICKETS = "/api/v1/tickets"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("errors") / "data") as proc:
        # The day's first command logs day.rolled even when it is refused; get that done first.
        request = urllib.request.Request(f"{proc.url}{TICKETS}", data=b'{"service": "A01"}', headers=kiosk(1))
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        yield proc


async def answer(server: ServerProcess, method: str, path: str, *, headers: dict[str, str] | None = None,
                 body: Any = None, data: bytes | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request on a fresh session."""
    if body is not None:
        data = json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.request(
            method, server.url + path, headers=headers, data=data) as response:
        return response.status, await response.json(content_type=None)


def assert_error(result: tuple[int, Any], status: int, code: str, field: str | None = None) -> dict[str, Any]:
    got_status, body = result
    assert (got_status, error_code(body)) == (status, code), body
    if field is not None:
        assert body["error"]["details"]["field"] == field, body
    return body["error"]


async def issued(server: ServerProcess) -> dict[str, Any]:
    status, ticket = await answer(server, "POST", TICKETS, headers=kiosk(1), body={"service": "A01"})
    assert status == 201
    return ticket


BODY_CASES = [
    # (id, raw body, status, code, field)
    ("malformed_json", b'{"service": ', 400, "invalid_json", None),
    ("not_utf8", b'{"service": "\xff"}', 400, "invalid_json", None),
    ("json_not_object", b'["A01"]', 400, "invalid_json", None),
    ("json_scalar", b'"A01"', 400, "invalid_json", None),
    ("wrong_type", b'{"service": 5}', 400, "invalid_type", "service"),
    ("wrong_type_null_ok_but_list", b'{"service": "A01", "priority": ["green"]}', 400, "invalid_type", "priority"),
    ("missing_field", b"{}", 400, "missing_field", "service"),
    ("unknown_field", b'{"service": "A01", "colour": "red"}', 400, "unknown_field", "colour"),
    ("too_long", json.dumps({"service": "A" * 33}).encode(), 400, "invalid_value", "service"),
    ("unknown_service", b'{"service": "Z99"}', 404, "unknown_service", None),
    ("invalid_priority", b'{"service": "A01", "priority": "vip"}', 422, "invalid_priority", None),
    ("holder_key_is_id_number", b'{"service": "A01", "holder_key": "11010519491231002X"}', 400,
     "invalid_holder_key", "holder_key"),
    ("unmasked_name", json.dumps({"service": "A01", "holder_masked": "张三"}).encode(), 400, "unmasked_name",
     "holder_masked"),
    ("oversized_body", json.dumps({"service": "A01", "appointment_id": "x" * 70_000}).encode(), 413,
     "body_too_large", None),
]


@pytest.mark.parametrize(("raw", "status", "code", "field"), [c[1:] for c in BODY_CASES],
                         ids=[c[0] for c in BODY_CASES])
async def test_bad_ticket_bodies(server: ServerProcess, raw: bytes, status: int, code: str,
                                 field: str | None) -> None:
    before = await answer(server, "GET", "/api/v1/health")
    result = await answer(server, "POST", TICKETS, headers=kiosk(2), data=raw)
    assert_error(result, status, code, field)
    after = await answer(server, "GET", "/api/v1/health")
    assert after[1]["last_event_id"] == before[1]["last_event_id"], "a refused request changed the log"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer not-a-node"}, {"Authorization": "Basic ZGVtbzpkZW1v"},
    {"Authorization": "Bearer "}], ids=["no_token", "bad_token", "wrong_scheme", "empty_token"])
async def test_no_or_bad_token_is_401(server: ServerProcess, headers: dict[str, str]) -> None:
    assert_error(await answer(server, "POST", TICKETS, headers=headers, body={"service": "A01"}), 401,
                 "unauthorized")
    assert_error(await answer(server, "GET", "/api/v1/queues", headers=headers), 401, "unauthorized")


async def test_a_kiosk_cannot_call(server: ServerProcess) -> None:
    assert_error(await answer(server, "POST", "/api/v1/windows/1/call-next", headers=kiosk(1)), 403, "forbidden")
    ticket = await issued(server)
    assert_error(await answer(server, "POST", f"{TICKETS}/{ticket['id']}/call", headers=kiosk(1),
                              body={"window": 1}), 403, "forbidden")


async def test_a_display_cannot_issue(server: ServerProcess) -> None:
    assert_error(await answer(server, "POST", TICKETS, headers=display(), body={"service": "A01"}), 403,
                 "forbidden")


async def test_a_window_cannot_act_for_another_window(server: ServerProcess) -> None:
    assert_error(await answer(server, "POST", "/api/v1/windows/2/call-next", headers=window(1)), 403, "forbidden")
    assert_error(await answer(server, "POST", "/api/v1/windows/2/sign-in", headers=window(1),
                              body={"staff": "s002", "pin": PIN}), 403, "forbidden")
    ticket = await issued(server)
    assert_error(await answer(server, "POST", f"{TICKETS}/{ticket['id']}/call", headers=window(1),
                              body={"window": 2}), 403, "forbidden")


async def test_unknown_route_is_404(server: ServerProcess) -> None:
    assert_error(await answer(server, "GET", "/api/v1/nothing"), 404, "not_found")
    assert_error(await answer(server, "GET", "/"), 404, "not_found")
    assert_error(await answer(server, "POST", "/api/v2/tickets", headers=kiosk(1), body={"service": "A01"}), 404,
                 "not_found")


@pytest.mark.parametrize(("method", "path"), [("PUT", TICKETS), ("DELETE", "/api/v1/health"),
                                              ("GET", "/api/v1/windows/1/call-next"), ("PATCH", "/api/v1/queues")])
async def test_wrong_method_is_405(server: ServerProcess, method: str, path: str) -> None:
    assert_error(await answer(server, method, path, headers=kiosk(1)), 405, "method_not_allowed")


async def test_unknown_ticket_is_404(server: ServerProcess) -> None:
    assert_error(await answer(server, "GET", f"{TICKETS}/0123456789ab"), 404, "ticket_not_found")
    assert_error(await answer(server, "POST", f"{TICKETS}/0123456789ab/start", headers=window(1)), 404,
                 "ticket_not_found")


async def test_unknown_action_is_404(server: ServerProcess) -> None:
    ticket = await issued(server)
    assert_error(await answer(server, "POST", f"{TICKETS}/{ticket['id']}/explode", headers=window(1)), 404,
                 "unknown_action")


async def test_wrong_type_of_an_integer_field(server: ServerProcess) -> None:
    ticket = await issued(server)
    assert_error(await answer(server, "POST", f"{TICKETS}/{ticket['id']}/call", headers=window(1),
                              body={"window": "1"}), 400, "invalid_type", "window")
    assert_error(await answer(server, "POST", f"{TICKETS}/{ticket['id']}/call", headers=window(1),
                              body={"window": True}), 400, "invalid_type", "window")


@pytest.mark.parametrize("key", ["has space", "x" * 129, "tab\tkey"], ids=["space", "too_long", "control"])
async def test_bad_idempotency_key_is_400(server: ServerProcess, key: str) -> None:
    headers = {**kiosk(3), "Idempotency-Key": key}
    assert_error(await answer(server, "POST", TICKETS, headers=headers, body={"service": "A01"}), 400,
                 "invalid_idempotency_key")


async def test_wrong_pin_is_401(server: ServerProcess) -> None:
    assert_error(await answer(server, "POST", "/api/v1/windows/5/sign-in", headers=window(5),
                              body={"staff": "s005", "pin": "000000"}), 401, "wrong_pin")
    assert_error(await answer(server, "POST", "/api/v1/windows/5/sign-in", headers=window(5),
                              body={"staff": "nobody", "pin": PIN}), 401, "wrong_pin")
    assert_error(await answer(server, "POST", "/api/v1/windows/5/sign-in", headers=window(5),
                              body={"staff": "s005"}), 400, "missing_field", "pin")
    status, state = await answer(server, "POST", "/api/v1/windows/5/sign-in", headers=window(5),
                                 body={"staff": "s005", "pin": PIN})
    assert status == 200 and state["staff"] == "s005"


async def test_five_wrong_pins_then_429_even_for_the_right_pin(server: ServerProcess) -> None:
    url = "/api/v1/windows/6/sign-in"
    for _ in range(5):
        assert_error(await answer(server, "POST", url, headers=window(6), body={"staff": "s006", "pin": "999999"}),
                     401, "wrong_pin")
    error = assert_error(await answer(server, "POST", url, headers=window(6), body={"staff": "s006", "pin": PIN}),
                         429, "too_many_attempts")
    assert 0 < error["details"]["retry_after_s"] <= 301
    # Another window is not locked out by window 6's failures.
    status, _ = await answer(server, "POST", "/api/v1/windows/7/sign-in", headers=window(7),
                             body={"staff": "s007", "pin": PIN})
    assert status == 200


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", ""], ids=["text", "negative", "float", "empty"])
async def test_bad_after_on_the_event_stream(server: ServerProcess, after: str) -> None:
    assert_error(await answer(server, "GET", f"/api/v1/events?after={after}", headers=display()), 400,
                 "invalid_after")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{server.ws_url}?after={after}", headers=display())
        assert refused.value.status == 400


async def test_event_stream_needs_a_token(server: ServerProcess) -> None:
    assert_error(await answer(server, "GET", "/api/v1/events?after=0"), 401, "unauthorized")
    assert_error(await answer(server, "GET", "/api/v1/events?after=0&token=wrong"), 401, "unauthorized")


async def test_server_log_has_no_traceback(server: ServerProcess) -> None:
    """Nothing above reached the catch-all 500 handler."""
    assert "unexpected error" not in server.log_text()
    assert "Traceback" not in server.log_text()
