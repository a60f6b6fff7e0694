"""Requests refused before any route runs, against the real server over a raw socket: each answer has the
documented JSON error shape, and each refusal is one info/warning line in the log, never a traceback.

aiohttp's own parser refuses an over-long request line or header, bad header characters and broken
chunked bodies; a deeply nested JSON body would otherwise reach ``json.loads`` and its recursion limit.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.integration.server_support import ServerProcess, error_code, kiosk

TICKETS = "/api/v1/tickets"
AUTH = "Authorization: Bearer demo-kiosk-1\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("refusals") / "data") as proc:
        yield proc


def exchange(server: ServerProcess, *parts: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (parts a moment apart, so the server sees them separately), read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10.0) as sock:
        for index, part in enumerate(parts):
            if index:
                time.sleep(0.2)
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed without an answer; got {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body[:length]


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int | None = None) -> str:
    got, headers, body = answer
    assert 400 <= got < 500, answer
    if status is not None:
        assert got == status, answer
    assert headers.get("content-type", "").startswith("application/json"), answer
    return error_code(json.loads(body))


def request(line: str, *headers: str, body: bytes = b"") -> bytes:
    return (line + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode("latin-1") + body


LOW_LEVEL = {
    "long_url": request(f"GET /api/v1/health?x={'a' * 9000} HTTP/1.1", "Host: x"),
    "long_path": request(f"GET /{'a' * 9000} HTTP/1.1", "Host: x"),
    "long_header": request("GET /api/v1/health HTTP/1.1", "Host: x", f"X-Long: {'a' * 9000}"),
    "long_header_name": request("GET /api/v1/health HTTP/1.1", "Host: x", f"X-{'a' * 9000}: v"),
    "too_many_headers": request("GET /api/v1/health HTTP/1.1", "Host: x", *(f"X-H{i}: v" for i in range(200))),
    "bad_request_line": request("GARBAGE"),
    "bad_method": request("G(T / HTTP/1.1", "Host: x"),
    "bad_version": request("GET / HTTP/9.x", "Host: x"),
    "invalid_header_name": request("GET /api/v1/health HTTP/1.1", "Host: x", "X Bad: v"),
    "invalid_header_value": request("GET /api/v1/health HTTP/1.1", "Host: x", "X-Bad: a\x01b"),
    "bad_content_length": request(f"POST {TICKETS} HTTP/1.1", "Host: x", "Content-Length: abc"),
    "length_and_chunked": request(f"POST {TICKETS} HTTP/1.1", "Host: x", "Content-Length: 5",
                                  "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "bad_chunk_size": request(f"POST {TICKETS} HTTP/1.1", "Host: x", AUTH.strip(), "Content-Type: application/json",
                              "Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"),
    "bad_chunk_end": request(f"POST {TICKETS} HTTP/1.1", "Host: x", AUTH.strip(), "Content-Type: application/json",
                             "Transfer-Encoding: chunked", body=b"5\r\nhelloXX0\r\n\r\n"),
}


CODES = {"long_url": "line_too_long", "long_path": "line_too_long", "long_header": "line_too_long",
         "long_header_name": "line_too_long", "too_many_headers": "too_many_headers"}


@pytest.mark.parametrize(("case", "raw"), LOW_LEVEL.items(), ids=LOW_LEVEL.keys())
def test_low_level_refusals_are_json(server: ServerProcess, case: str, raw: bytes) -> None:
    assert assert_json_error(exchange(server, raw)) == CODES.get(case, "bad_http_request")


def test_a_broken_chunk_after_the_handler_started_reading(server: ServerProcess) -> None:
    head = request(f"POST {TICKETS} HTTP/1.1", "Host: x", AUTH.strip(), "Content-Type: application/json",
                   "Transfer-Encoding: chunked")
    assert assert_json_error(exchange(server, head + b"5\r\n{\"ser", b"zz\r\n\r\n")) == "bad_http_request"


def _nested(depth: int) -> bytes:
    return b'{"service": "A01", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("body", [
    _nested(1000), b"[" * 1000 + b"]" * 1000, b"{" * 2000, b'{"a":' * 1000 + b"1" + b"}" * 1000,
    b"[" * 60_000,
], ids=["object_list_1000", "list_1000", "unclosed_2000", "objects_1000", "unclosed_60000"])
def test_deeply_nested_json_is_a_400(server: ServerProcess, body: bytes) -> None:
    raw = request(f"POST {TICKETS} HTTP/1.1", "Host: x", AUTH.strip(), "Content-Type: application/json",
                  f"Content-Length: {len(body)}", body=body)
    assert assert_json_error(exchange(server, raw), 400) == "json_too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(server: ServerProcess) -> None:
    # a free-text field (appointment_id is refused on POST /tickets since appointments come only by check-in)
    body = json.dumps({"service": "A01", "holder_masked": "[{" * 16 + '\\"[' * 2 + "*"}).encode()
    raw = request(f"POST {TICKETS} HTTP/1.1", "Host: x", AUTH.strip(), "Content-Type: application/json",
                  f"Content-Length: {len(body)}", "Connection: close", body=body)
    status, _, answer = exchange(server, raw)
    assert status == 201, answer


def test_the_server_still_serves_and_logged_each_refusal_in_one_line(server: ServerProcess) -> None:
    req = urllib.request.Request(f"{server.url}{TICKETS}", data=b'{"service": "A01"}', headers=kiosk(1))
    with urllib.request.urlopen(req, timeout=10) as answer:
        assert answer.status == 201
    log = server.log_text()
    assert "Traceback" not in log
    assert " ERROR " not in log, log
    refusals = [line for line in log.splitlines() if "refused" in line and "request" in line]
    assert len(refusals) >= len(LOW_LEVEL), log
    assert all(" INFO " in line or " WARNING " in line for line in refusals), refusals
