"""The published contract: OpenAPI matches the router and real answers; the QR status page; `serve` exits."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.loader import load_hall
from config.model import Hall
from queue_server.app import create_app
from queue_server.keys import SERVICE
from tests.integration.server_support import (
    ALLDAY_HALL,
    PYTHON,
    REPO,
    ServerProcess,
    free_port,
    kiosk,
    sign_in,
    window,
)

TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(load_hall(ALLDAY_HALL), data_dir=tmp_path / "data"))) as c:
        yield c


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = document["components"]["schemas"][name]
    return schema


def assert_matches(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """A small JSON-schema check: required keys, declared types, enums, nested objects."""
    schema = _resolve(document, schema)
    if value is None:
        assert schema.get("nullable"), f"{where} is null but not nullable"
        return
    if "type" in schema:
        expected = TYPES[schema["type"]]
        assert isinstance(value, expected) and not (schema["type"] in ("integer", "number")
                                                    and isinstance(value, bool)), f"{where}: {value!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{where} lacks {sorted(missing)}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                assert_matches(document, sub, value[key], f"{where}.{key}")


async def test_openapi_lists_exactly_the_routes_of_the_router(client: TestClient) -> None:
    answer = await client.get("/api/v1/openapi.json")
    assert answer.status == 200
    document = await answer.json()
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for route in client.app.router.routes():
        if route.method == "HEAD":  # added by aiohttp beside every GET
            continue
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical)
        routed.add((route.method, path))
    assert ("POST", "/api/v1/windows/{window}/{verb}") in routed
    assert documented == routed


async def test_post_tickets_answers_match_their_documented_schemas(client: TestClient, tmp_path: Path) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    responses = document["paths"]["/api/v1/tickets"]["post"]["responses"]
    seen: dict[str, Any] = {}

    async def post(headers: dict[str, str], **kwargs: Any) -> None:
        async with client.post("/api/v1/tickets", headers=headers, **kwargs) as answer:
            seen.setdefault(str(answer.status), await answer.json())

    holder = {"service": "A01", "holder_key": "ab" * 32, "holder_masked": "张*"}
    await post(kiosk(1), json=holder)  # 201
    await post(kiosk(1), json=holder)  # 200: the holder's open ticket again
    await post(kiosk(1), data=b"{")  # 400
    await post({})  # 401
    await post(window(1), json={"service": "A01"})  # 403
    await post(kiosk(1), json={"service": "Z99"})  # 404
    await post(kiosk(1), json={"service": "A01", "priority": "vip"})  # 422
    await post(kiosk(1), data=b"x" * 70_000)  # 413
    assert seen["200"]["id"] == seen["201"]["id"] and seen["200"]["existing"] is True

    # 409: the same hall with no opening hours; 503: the same hall with its log gone.
    allday = load_hall(ALLDAY_HALL)
    closed: Hall = dataclasses.replace(allday, hours=dataclasses.replace(allday.hours, weekdays=(), weekend=()))
    async with (TestClient(TestServer(create_app(closed, data_dir=tmp_path / "closed"))) as other,
                other.post("/api/v1/tickets", headers=kiosk(1), json={"service": "A01"}) as answer):
        seen[str(answer.status)] = await answer.json()
    await client.app[SERVICE].store.close()
    await post(kiosk(1), json={"service": "B01"})  # 503, and the service refuses from now on (fail-stop)
    assert seen["503"]["error"]["code"] == "store_unavailable"

    documented = {code for code in responses if code[0] in "24"} | {"503"}
    assert documented <= set(seen), f"not exercised: {documented - set(seen)}"
    for status, body in seen.items():
        assert status in responses, f"POST /api/v1/tickets answered an undocumented {status}: {body}"
        schema = responses[status]["content"]["application/json"]["schema"]
        assert_matches(document, schema, body, f"{status}")


# ---------------------------------------------------------------------------------------------- status page
@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def test_status_page_shows_the_number_and_no_personal_data(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        tickets = []
        for n in range(3):
            body = {"service": "A01", "holder_key": f"{n:02x}" * 32, "holder_masked": f"欧阳{n}*"}
            async with session.post(f"{server.url}/api/v1/tickets", headers=kiosk(1), json=body) as answer:
                assert answer.status == 201
                tickets.append(await answer.json())
        third = tickets[2]
        url = f"{server.url}/api/v1/tickets/{third['id']}"
        async with session.get(url, headers={"Accept": "text/html"}) as answer:
            assert answer.status == 200 and answer.content_type == "text/html"
            page = await answer.text()
        assert third["number"] in page and "全天测试大厅" in page
        assert "欧阳" not in page and "02" * 32 not in page
        assert "前面还有 <b>2</b> 人" in page

        async with session.get(url) as answer:  # JSON by default, public: no holder fields
            assert answer.status == 200
            view = await answer.json()
        assert view["number"] == third["number"] and view["state"] == "waiting"
        assert view["ahead"] == 2
        assert view["estimated_wait_s"] == 2 * 5 * 60  # two ahead, 5 minutes each, one window (the floor)
        assert not {"holder_masked", "holder_key"} & set(view)

        await sign_in(session, server, 1)
        async with session.post(f"{server.url}/api/v1/windows/1/call-next", headers=window(1)) as answer:
            assert (await answer.json())["id"] == tickets[0]["id"]
        async with session.get(f"{server.url}/api/v1/tickets/{tickets[0]['id']}",
                               headers={"Accept": "text/html"}) as answer:
            assert "请到 <b>1</b> 号窗口办理" in await answer.text()
        async with session.get(url) as answer:
            view = await answer.json()
        assert view["ahead"] == 1 and view["estimated_wait_s"] == 5 * 60


# ---------------------------------------------------------------------------------------------- serve
def test_serve_with_a_broken_config_exits_1_and_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "hall.toml"
    broken.write_text(ALLDAY_HALL.read_text(encoding="utf-8").replace("[hours]", "[hours]\nlunch = true", 1),
                      encoding="utf-8")
    run = subprocess.run([PYTHON, "-m", "kiosk.cli", "serve", "--config", str(broken), "--data",
                          str(tmp_path / "data"), "--port", str(free_port())],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert str(broken) in run.stderr and "hours.lunch" in run.stderr
    missing = subprocess.run([PYTHON, "-m", "kiosk.cli", "serve", "--config", str(tmp_path / "nope.toml"),
                              "--data", str(tmp_path / "data"), "--port", str(free_port())],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "nope.toml" in missing.stderr and "cannot read" in missing.stderr


def test_sigterm_exits_0(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    assert server.stop() == 0
    assert "Traceback" not in server.log_text()
