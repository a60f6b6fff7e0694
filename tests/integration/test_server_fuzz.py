"""Random bodies and random paths at the app in-process: every answer is < 500 and errors share one shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load_hall
from queue_server.app import create_app
from tests.integration.server_support import ALLDAY_HALL, error_code

FIELDS = ["service", "priority", "holder_key", "holder_masked", "appointment_id", "window", "reason"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
    | st.sampled_from(["A01", "B01", "C01", "D01", "green", "normal", "appointment", "张*", "a" * 64]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
ticket_bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5),
    json_values,
).map(lambda body: json.dumps(body).encode()) | st.binary(max_size=200)
TOKENS = st.sampled_from([None, "demo-kiosk-1", "demo-window-1", "demo-manager", "demo-display", "wrong"])
SEGMENTS = st.sampled_from(["api", "v1", "tickets", "windows", "queues", "events", "health", "openapi.json",
                            "call-next", "sign-in", "pause", "resume", "sign-out", "start", "finish", "call",
                            "1", "0", "99999", "-1", "x", "%41", "..", "", "%00", "%2F", "票"])
PATHS = st.lists(SEGMENTS | st.text(alphabet="abcXYZ019-_.~", max_size=8), min_size=0, max_size=6).map(
    lambda parts: "/" + "/".join(parts))


class InProcessServer:
    """The app on its own event loop, driven from synchronous Hypothesis examples."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.client: TestClient = self.loop.run_until_complete(self._start(data_dir))

    @staticmethod
    async def _start(data_dir: Path) -> TestClient:
        client = TestClient(TestServer(create_app(load_hall(ALLDAY_HALL), data_dir=data_dir)))
        await client.start_server()
        return client

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        async def go() -> tuple[int, bytes]:
            url = f"http://{self.client.server.host}:{self.client.server.port}{path}"  # '//x' stays a path
            async with self.client.session.request(method, url, **kwargs) as response:
                return response.status, await response.read()

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    server = InProcessServer(tmp_path_factory.mktemp("fuzz") / "data")
    yield server
    server.close()


def _check(status: int, raw: bytes) -> None:
    assert status < 500, raw
    if status >= 400:
        error_code(json.loads(raw))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=ticket_bodies, token=TOKENS, key=st.none() | st.text(max_size=20))
def test_random_bodies_on_issue_never_500(app_server: InProcessServer, body: bytes, token: str | None,
                                          key: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None and key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = key
    _check(*app_server.request("POST", "/api/v1/tickets", data=body, headers=headers))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), path=PATHS, token=TOKENS,
       body=st.none() | ticket_bodies)
def test_random_paths_never_500(app_server: InProcessServer, method: str, path: str, token: str | None,
                                body: bytes | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, raw = app_server.request(method, path, data=body, headers=headers)
    if status == 101:  # a WebSocket would need an Upgrade header; never expected here
        raise AssertionError(path)
    _check(status, raw)
