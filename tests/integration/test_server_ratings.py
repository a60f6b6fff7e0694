"""好差评 and the case ledger over real HTTP: pad, kiosk and QR-page ratings, follow-ups, appeals, export, kill -9."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.server_support import ServerProcess, error_code, kiosk, manager, sign_in, window


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None,
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with session.request(method, url, headers=headers, json=body) as answer:
        return answer.status, await answer.json()


async def finished_matter(session: aiohttp.ClientSession, server: ServerProcess, n: int,
                          key: str) -> dict[str, Any]:
    """Kiosk 1 issues, window ``n`` calls, starts and finishes it; the issue answer (with rating_url)."""
    status, issued = await call(session, "POST", f"{server.url}/api/v1/tickets", kiosk(1, key), {"service": "A01"})
    assert status == 201, issued
    status, body = await call(session, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/call", window(n),
                              {"window": n})
    assert status == 200, body
    for action in ("start", "finish"):
        status, body = await call(session, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/{action}", window(n))
        assert status == 200, body
    return issued


async def rate(session: aiohttp.ClientSession, server: ServerProcess, ticket: str, headers: dict[str, str] | None,
               **body: Any) -> tuple[int, Any]:
    return await call(session, "POST", f"{server.url}/api/v1/tickets/{ticket}/rating", headers, body)


async def export(session: aiohttp.ClientSession, server: ServerProcess, fmt: str) -> bytes:
    async with session.get(f"{server.url}/api/v1/ratings/export", headers=manager(),
                           params={"format": fmt}) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.read()


async def ledger(session: aiohttp.ClientSession, server: ServerProcess) -> tuple[Any, Any, bytes]:
    _, followups = await call(session, "GET", f"{server.url}/api/v1/followups", manager())
    _, cases = await call(session, "GET", f"{server.url}/api/v1/cases", manager())
    return followups, cases, await export(session, server, "jsonl")


async def test_a_day_of_ratings_followups_appeals_cases_and_export_survives_kill_9(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        with ServerProcess(tmp_path / "data") as server:
            url = server.url
            for n in (1, 2):
                await sign_in(session, server, n)
            good = await finished_matter(session, server, 1, "k1")
            assert good["rating_url"].startswith(f"/api/v1/tickets/{good['id']}?k=")
            status, public = await call(session, "GET", f"{url}/api/v1/tickets/{good['id']}")
            assert "k=" not in json.dumps(public) and good["rating_url"].split("k=")[1] not in json.dumps(public)

            # the pad of the window that finished it rates it, once; another window may not
            assert error_code((await rate(session, server, good["id"], window(2), level=5, channel="pad"))[1]) \
                == "forbidden"
            status, rated = await rate(session, server, good["id"], window(1, "r1"), level=5, channel="pad")
            assert status == 201 and rated["window"] == 1 and rated["staff"] == "s001" and rated["followup"] is None
            assert (await rate(session, server, good["id"], window(1, "r1"), level=5, channel="pad"))[1] == rated
            status, body = await rate(session, server, good["id"], window(1), level=4, channel="pad")
            assert (status, error_code(body)) == (409, "already_rated")

            # not finished: 409 whoever asks
            _, waiting = await call(session, "POST", f"{url}/api/v1/tickets", kiosk(2), {"service": "B01"})
            for headers in (window(2), kiosk(1), manager(), None):
                status, body = await rate(session, server, waiting["id"], headers, level=3,
                                          channel="web" if headers is None else "kiosk")
                assert (status, error_code(body)) == (409, "not_finished")

            # a bad rating is followed up and closed, each step by the window
            bad = await finished_matter(session, server, 1, "k2")
            status, rated = await rate(session, server, bad["id"], window(1), level=1, channel="pad", comment="太慢")
            assert status == 201 and rated["followup"]["state"] == "open" and rated["followup"]["level"] == 1
            followup = rated["followup"]["id"]
            _, listed = await call(session, "GET", f"{url}/api/v1/followups?state=open", manager())
            assert [f["id"] for f in listed["followups"]] == [followup]
            assert {"id", "ticket", "level", "state", "opened_at", "deadline"} <= set(listed["followups"][0])
            for step, state in (("contact", "contacted"), ("rectify", "rectified"), ("close", "closed")):
                status, body = await call(session, "POST", f"{url}/api/v1/followups/{followup}/{step}",
                                          window(1, f"step-{step}"), {"note": f"{step} 已完成"})
                assert (status, body["state"]) == (200, state), body
            assert body["steps"][-1]["staff"] == "s001" and body["steps"][-1]["node"] == "window-1"

            # an appeal, overturned by the manager (a window may not decide it)
            appealed = await finished_matter(session, server, 2, "k3")
            status, rated = await rate(session, server, appealed["id"], kiosk(1), level=2, channel="kiosk")
            assert status == 201, rated
            other = rated["followup"]["id"]
            status, body = await call(session, "POST", f"{url}/api/v1/followups/{other}/appeal", window(2),
                                      {"note": "市民评错窗口"})
            assert body["state"] == "appealed"
            status, body = await call(session, "POST", f"{url}/api/v1/followups/{other}/overturn", window(2))
            assert (status, error_code(body)) == (403, "forbidden")
            status, body = await call(session, "POST", f"{url}/api/v1/followups/{other}/overturn", manager(),
                                      {"note": "同意撤销"})
            assert body["state"] == "overturned"

            # the QR page: the five levels with the right secret only; a wrong secret is refused
            web = await finished_matter(session, server, 2, "k4")
            secret = web["rating_url"].split("k=")[1]
            async with session.get(f"{url}{web['rating_url']}", headers={"Accept": "text/html"}) as answer:
                page = await answer.text()
            assert page.count('name="level"') == 5 and "checked" not in page
            async with session.get(f"{url}/api/v1/tickets/{web['id']}?k={'0' * 32}",
                                   headers={"Accept": "text/html"}) as answer:
                assert 'name="level"' not in await answer.text()
            status, body = await rate(session, server, web["id"], None, level=4, channel="web", secret="0" * 32)
            assert (status, error_code(body)) == (403, "invalid_rating_link")
            async with session.post(f"{url}/api/v1/tickets/{web['id']}/rating",
                                    data={"level": "3", "k": secret}) as answer:
                assert answer.status == 201 and "感谢" in await answer.text()

            # a complaint registered by the manager, assigned, resolved; figures
            status, case = await call(session, "POST", f"{url}/api/v1/cases", manager(),
                                      {"kind": "complaint", "subject": "材料被退回三次", "holder_masked": "李*"})
            assert status == 201 and case["state"] == "registered"
            for step, extra in (("assign", {"department": "shebao"}), ("start", {}), ("resolve", {})):
                status, case = await call(session, "POST", f"{url}/api/v1/cases/{case['id']}/{step}", manager(),
                                          {"note": step, **extra})
                assert status == 200, case
            _, figures = await call(session, "GET", f"{url}/api/v1/cases/figures", manager())
            rows = {(r["kind"], r["department"]): r for r in figures["rows"]}
            assert rows[("complaint", "shebao")]["resolution_rate"] == 1.0
            assert rows[("followup", "shebao")]["registered"] == 2
            assert rows[("followup", "shebao")]["withdrawn"] == 1

            # the export: one row per rating, the same in csv and jsonl, as the API said
            lines = [json.loads(line) for line in (await export(session, server, "jsonl")).decode().splitlines()]
            assert [(r["ticket"], r["level"], r["channel"]) for r in lines] == [
                (good["id"], 5, "pad"), (bad["id"], 1, "pad"), (appealed["id"], 2, "kiosk"), (web["id"], 3, "web")]
            assert lines[1]["followup"] == followup and lines[1]["followup_state"] == "closed"
            assert lines[2]["overturned"] is True and lines[2]["followup_state"] == "overturned"
            assert lines[0]["service_name"] == "社保查询" and lines[0]["department"] == "shebao"
            raw = await export(session, server, "csv")
            assert raw.startswith("\ufeff".encode())
            table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
            assert [row["ticket"] for row in table] == [r["ticket"] for r in lines]
            assert table[1]["followup_deadline"] == lines[1]["followup_deadline"] and table[0]["followup"] == ""

            before = await ledger(session, server)
            server.kill()
            server.start()
            assert await ledger(session, server) == before
            status, body = await rate(session, server, bad["id"], window(1), level=5, channel="pad")
            assert (status, error_code(body)) == (409, "already_rated")
            async with session.get(f"{server.url}{web['rating_url']}",
                                   headers={"Accept": "text/html"}) as answer:
                assert "感谢您的评价" in await answer.text()  # the same key after the restart: the link still works


async def test_the_rating_route_is_not_swallowed_by_the_ticket_action_route(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        with ServerProcess(tmp_path / "data") as server:
            status, body = await rate(session, server, "no-such-ticket", manager(), level=5, channel="pad")
            assert (status, error_code(body)) == (404, "ticket_not_found")  # not unknown_action
            status, body = await rate(session, server, "x", manager(), level=9, channel="pad")
            assert (status, error_code(body)) == (400, "invalid_value")
            status, body = await call(session, "GET", f"{server.url}/api/v1/ratings/export", kiosk(1))
            assert (status, error_code(body)) == (403, "forbidden")
            status, body = await call(session, "GET", f"{server.url}/api/v1/ratings/export?from=2026-13-01",
                                      manager())
            assert (status, error_code(body)) == (400, "invalid_date")
