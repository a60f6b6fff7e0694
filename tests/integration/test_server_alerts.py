"""预警, node health and the audit trail on a real server, its wall clock stepped through libfaketime.

An alert raised by a long wait (a hall copy with ``long_wait_minutes = 1``), acknowledged by a manager
and resolved by calling the ticket once the hold time passed; device transitions from a node's own
heartbeats; the history of a transferred ticket; and the roles that are refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server_support import (
    ALLDAY_HALL,
    ServerProcess,
    display,
    error_code,
    kiosk,
    manager,
    read_log,
    sign_in,
    window,
)
from tests.support.halls import MONDAY
from tests.support.wall_clock import WallClock

WAIT_BOUND_S = 20.0  # the tick runs every second; this bounds a hang, it is not a performance figure
HOLDER = "ab" * 32





@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def quick_hall(tmp_path: Path) -> Path:
    """The all-day hall with a one-minute long-wait threshold (the loader reads long_wait_minutes today)."""
    path = tmp_path / "quick_alerts_hall.toml"
    path.write_text(ALLDAY_HALL.read_text(encoding="utf-8") + "\n[alerts]\nlong_wait_minutes = 1\n", encoding="utf-8")
    return path


async def call(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
               body: Any = None, status: int = 200) -> Any:
    async with session.request(method, url, headers=headers, json=body) as answer:
        assert answer.status == status, await answer.text()
        return await answer.json()


async def alerts_of(session: aiohttp.ClientSession, server: ServerProcess, kind: str,
                    **query: str) -> list[dict[str, Any]]:
    async with session.get(f"{server.url}/api/v1/alerts", headers=manager(), params=query) as answer:
        assert answer.status == 200, await answer.text()
        return [a for a in (await answer.json())["alerts"] if a["kind"] == kind]


async def wait_for_alert(session: aiohttp.ClientSession, server: ServerProcess, kind: str,
                         state: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_BOUND_S
    while True:
        found = await alerts_of(session, server, kind, state=state)
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {state} {kind} alert within {WAIT_BOUND_S} s"
        await asyncio.sleep(0.2)


async def test_a_long_wait_raises_one_alert_a_manager_acks_and_calling_resolves_it(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    clock = WallClock(tmp_path / "faketime")
    clock.set(MONDAY, "10:00:00")
    with ServerProcess(tmp_path / "data", config=quick_hall(tmp_path), env=clock.env()) as server:
        ticket = await call(session, "POST", f"{server.url}/api/v1/tickets", kiosk(1), {"service": "A01"}, 201)
        await asyncio.sleep(1.5)
        assert await alerts_of(session, server, "long_wait") == []
        clock.step(75)
        alert = await wait_for_alert(session, server, "long_wait", "open")
        assert alert["subject"] == f"ticket:{ticket['id']}" and alert["figures"]["number"] == ticket["number"]

        # A display reads alerts but cannot acknowledge; a kiosk cannot even read them.
        listed = await call(session, "GET", f"{server.url}/api/v1/alerts", display())
        assert [a["id"] for a in listed["alerts"]] == [alert["id"]]
        refused = await call(session, "POST", f"{server.url}/api/v1/alerts/{alert['id']}/ack", display(), status=403)
        assert error_code(refused) == "forbidden"
        kiosk_read = await call(session, "GET", f"{server.url}/api/v1/alerts", kiosk(1), status=403)
        assert error_code(kiosk_read) == "forbidden"
        assert error_code(await call(session, "GET", f"{server.url}/api/v1/alerts?state=gone", manager(),
                                     status=400)) == "invalid_state_filter"
        headers = {**manager(), "Idempotency-Key": "ack-1"}
        acked = await call(session, "POST", f"{server.url}/api/v1/alerts/{alert['id']}/ack", headers)
        again = await call(session, "POST", f"{server.url}/api/v1/alerts/{alert['id']}/ack", headers)
        assert acked == again and acked["state"] == "acknowledged" and acked["acknowledged_by"] == "manager"
        assert error_code(await call(session, "POST", f"{server.url}/api/v1/alerts/{alert['id']}/close", manager(),
                                     {}, status=400)) == "missing_field"
        assert error_code(await call(session, "POST", f"{server.url}/api/v1/alerts/nope/ack", manager(),
                                     status=404)) == "alert_not_found"

        await sign_in(session, server, 1)
        called = await call(session, "POST", f"{server.url}/api/v1/windows/1/call-next", window(1))
        assert called["id"] == ticket["id"]
        await asyncio.sleep(1.5)  # the tick sees the condition clear, and holds it for hold_minutes (5)
        assert (await alerts_of(session, server, "long_wait"))[0]["state"] == "acknowledged"
        clock.step(5 * 60 + 5)
        resolved = await wait_for_alert(session, server, "long_wait", "resolved")
        assert resolved["id"] == alert["id"] and resolved["acknowledged_by"] == "manager"

        server.restart()  # the log rebuilds the alert as it was: one raised, one acknowledged, one resolved
        assert [a["state"] for a in await alerts_of(session, server, "long_wait")] == ["resolved"]
        log = await read_log(session, server)
        steps = [e["type"] for e in log if e["type"].startswith("alert.") and e["data"]["alert"] == alert["id"]]
        assert steps == ["alert.raised", "alert.acknowledged", "alert.resolved"]


async def test_node_health_transitions_the_nodes_list_and_a_transferred_tickets_history(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    with ServerProcess(tmp_path / "data") as server:
        url = f"{server.url}/api/v1/nodes/kiosk-1/health"
        printer = {"name": "ticket_printer", "kind": "escpos", "state": "ready", "reason": "ok", "since": 1.0}
        await call(session, "POST", url, kiosk(1), {"devices": [printer]})
        await call(session, "POST", url, kiosk(1), {"devices": [{**printer, "reason": "ok again"}]})
        seen = await call(session, "POST", url, kiosk(1), {"devices": [{**printer, "state": "fault",
                                                                         "reason": "paper out"}]})
        assert seen["online"] is True and seen["devices"][0]["state"] == "fault"
        assert error_code(await call(session, "POST", url, kiosk(2), {"devices": []}, status=403)) == "forbidden"
        bad = await call(session, "POST", url, kiosk(1), {"devices": [{**printer, "state": "on fire"}]}, status=400)
        assert error_code(bad) == "invalid_device_state"
        bad = await call(session, "POST", url, kiosk(1), {"devices": [printer, printer]}, status=400)
        assert error_code(bad) == "duplicate_device"
        assert error_code(await call(session, "POST", url, kiosk(1), {"devices": "x"}, status=400)) == "invalid_type"

        nodes = {n["node"]: n for n in (await call(session, "GET", f"{server.url}/api/v1/nodes", display()))["nodes"]}
        assert nodes["kiosk-1"]["online"] is True and nodes["kiosk-1"]["devices"][0]["reason"] == "paper out"
        assert nodes["kiosk-2"]["online"] is False and nodes["kiosk-2"]["last_seen"] is None
        assert nodes["window-3"]["role"] == "window" and nodes["window-3"]["window"] == 3
        assert error_code(await call(session, "GET", f"{server.url}/api/v1/nodes", kiosk(1), status=403)) == "forbidden"
        states = [e["data"]["state"] for e in await read_log(session, server) if e["type"] == "device.state"]
        assert states == ["ready", "fault"]  # transitions only: the repeated "ready" was a heartbeat

        # A ticket called at window 1, transferred to window 2, called there: its history in order.
        ticket = await call(session, "POST", f"{server.url}/api/v1/tickets", kiosk(1),
                            {"service": "A01", "holder_key": HOLDER, "holder_masked": "张*"}, 201)
        await sign_in(session, server, 1)
        await sign_in(session, server, 2)
        await call(session, "POST", f"{server.url}/api/v1/windows/1/call-next", window(1))
        await call(session, "POST", f"{server.url}/api/v1/tickets/{ticket['id']}/transfer", window(1),
                   {"to_window": 2, "reason": "联办"})
        await call(session, "POST", f"{server.url}/api/v1/windows/2/call-next", window(2))
        history_url = f"{server.url}/api/v1/tickets/{ticket['id']}/history"
        history = await call(session, "GET", history_url, window(2))
        assert [e["type"] for e in history["events"]] == ["ticket.issued", "ticket.called", "ticket.transferred",
                                                          "ticket.called"]
        assert [(e["window"], e["staff"]) for e in history["events"][1:]] == [(1, "s001"), (1, "s001"), (2, "s002")]
        assert history["events"][2]["data"]["to_window"] == 2 and history["number"] == ticket["number"]
        assert HOLDER not in str(history) and history["events"][0]["data"]["holder_masked"] == "张*"
        assert history == await call(session, "GET", history_url, manager())
        assert error_code(await call(session, "GET", history_url, window(3), status=403)) == "forbidden"
        assert error_code(await call(session, "GET", history_url, kiosk(1), status=403)) == "forbidden"
        assert error_code(await call(session, "GET", f"{server.url}/api/v1/tickets/nope/history", manager(),
                                     status=404)) == "ticket_not_found"

        # The audit log, filtered and paged; masked data only; a kiosk cannot read it.
        audit_url = f"{server.url}/api/v1/audit"
        page = await call(session, "GET", f"{audit_url}?type=ticket&window=1", manager())
        assert [e["type"] for e in page["events"]] == ["ticket.called", "ticket.transferred"]
        assert page["next"] is None
        first = await call(session, "GET", f"{audit_url}?limit=2", manager())
        rest = await call(session, "GET", f"{audit_url}?after={first['next']}", manager())
        everything = await call(session, "GET", audit_url, manager())
        assert [e["id"] for e in first["events"] + rest["events"]] == [e["id"] for e in everything["events"]]
        assert HOLDER not in str(everything)
        staff = await call(session, "GET", f"{audit_url}?staff=s002&from=2020-01-01", manager())
        assert staff["events"] and all(e["staff"] == "s002" for e in staff["events"])
        assert (await call(session, "GET", f"{audit_url}?to=2020-01-01", manager()))["events"] == []
        assert error_code(await call(session, "GET", audit_url, kiosk(1), status=403)) == "forbidden"
        assert error_code(await call(session, "GET", f"{audit_url}?from=yesterday", manager(),
                                     status=400)) == "invalid_date"
        assert error_code(await call(session, "GET", f"{audit_url}?limit=0", manager(), status=400)) == "invalid_limit"
