"""Reports over real HTTP: tickets issued, called, finished and rated through the API, then GET /api/v1/reports
(JSON, CSV, XLSX, the SVG chart) agrees with GET /api/v1/stats, survives a restart, and refuses bad parameters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook

from tests.integration.server_support import ServerProcess, display, error_code, kiosk, manager, sign_in, window
from tests.integration.test_server_stats import get, post

BYS_SCOPES = {"service": "service", "department": "department", "window": "window", "staff": "staff"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "data") as proc:
        yield proc


async def download(session: aiohttp.ClientSession, server: ServerProcess, **params: str) -> tuple[bytes, Any]:
    async with session.get(server.url + "/api/v1/reports", headers=manager(), params=params) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.read(), answer.headers


async def a_morning(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    """Six tickets: four finished and rated at windows 1 and 2, one skipped, one still waiting."""
    await sign_in(session, server, 1)
    await sign_in(session, server, 2)
    for n, code in enumerate(("A01", "A01", "B01", "A01", "B01", "D01")):
        await post(session, server, "/api/v1/tickets", kiosk(1, f"k{n}"), {"service": code}, 201)
    for n, (win, level) in enumerate(((1, 5), (2, 4), (1, 2), (2, 5))):
        called = await post(session, server, f"/api/v1/windows/{win}/call-next", window(win, f"c{n}"))
        await post(session, server, f"/api/v1/tickets/{called['id']}/start", window(win, f"s{n}"))
        await post(session, server, f"/api/v1/tickets/{called['id']}/finish", window(win, f"f{n}"))
        await post(session, server, f"/api/v1/tickets/{called['id']}/rating", window(win, f"r{n}"),
                   {"level": level, "channel": "pad"}, 201)
    skipped = await post(session, server, "/api/v1/windows/1/call-next", window(1, "c9"))
    await post(session, server, f"/api/v1/tickets/{skipped['id']}/skip", window(1, "k9"))


def same_figures(row: dict[str, Any], stats: dict[str, Any]) -> None:
    """A report row against the stats row of the same key: the API's own figures."""
    assert row["handled"] == stats["finished"]
    assert row["completion_rate"] == stats["completion_rate"] and row["satisfaction"] == stats["satisfaction"]
    for name in ("wait_s", "handling_s"):
        assert {k: row[name][k] for k in ("mean", "p50", "p90")} == stats[name]


def flat(row: dict[str, Any]) -> list[Any]:
    cells = [row["key"], row["label"], row["handled"], row["completion_rate"], row["satisfaction"]]
    for name in ("wait_s", "handling_s"):
        cells += [row[name]["mean"], row[name]["p50"], row[name]["p90"], *(b["count"] for b in row[name]["histogram"])]
    return cells


async def test_reports_agree_with_the_stats_in_every_format(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        await a_morning(session, server)
        today = (await get(session, server, "/api/v1/health", {}))["day"]
        report = await get(session, server, "/api/v1/reports", manager(), period="day", date=today, by="service")
        assert (report["period"], report["from"], report["to"], report["by"]) == ("day", today, today, "service")
        (hall,) = (await get(session, server, "/api/v1/stats", manager()))["rows"]
        same_figures(report["totals"], hall)
        assert report["totals"]["handled"] == 4 and report["totals"]["completion_rate"] == 0.8
        assert report["totals"]["satisfaction"] == 0.75  # 5, 4, 5 good; 2 not
        assert sum(b["count"] for b in report["totals"]["wait_s"]["histogram"]) == 5  # five matters called
        assert sum(b["count"] for b in report["totals"]["handling_s"]["histogram"]) == 4

        for by, scope in BYS_SCOPES.items():
            rows = (await get(session, server, "/api/v1/reports", manager(), period="day", by=by))["rows"]
            stats = {str(r[scope]): r for r in (await get(session, server, "/api/v1/stats", manager(),
                                                          scope=scope))["rows"]}
            assert [r["key"] for r in rows] == list(stats)
            for row in rows:
                same_figures(row, stats[row["key"]])
        windows = (await get(session, server, "/api/v1/reports", manager(), by="window"))["rows"]
        assert [r["handled"] for r in windows[:3]] == [2, 2, 0] and windows[0]["label"] == "1号窗口"
        hours = (await get(session, server, "/api/v1/reports", manager(), by="hour"))["rows"]
        assert sum(r["handled"] for r in hours) == 4 and len(hours) == 24  # the all-day hall opens every hour
        for period in ("week", "month", "year"):  # only today has figures
            longer = await get(session, server, "/api/v1/reports", manager(), period=period, date=today, by="service")
            assert longer["rows"] == report["rows"] and longer["totals"] == report["totals"]
            assert longer["from"] <= today <= longer["to"]
        week = await get(session, server, "/api/v1/reports", manager(), period="week", date=today)
        assert dt.date.fromisoformat(week["from"]).weekday() == 0 and dt.date.fromisoformat(week["to"]).weekday() == 6

        data, headers = await download(session, server, period="month", date=today, by="service", format="csv")
        assert headers["Content-Type"].startswith("text/csv") and data.startswith(b"\xef\xbb\xbf")
        month = await get(session, server, "/api/v1/reports", manager(), period="month", date=today, by="service")
        assert headers["Content-Disposition"] == (f'attachment; filename="report-month-{month["from"]}-'
                                                  f'{month["to"]}-by-service.csv"')
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert lines[0][:3] == ["键 (key)", "名称 (label)", "办件量 (handled)"]
        assert lines[1:] == [["" if c is None else str(c) for c in flat(r)] for r in [*month["rows"], month["totals"]]]

        data, headers = await download(session, server, period="day", by="staff", format="xlsx")
        assert headers["Content-Disposition"].endswith('-by-staff.xlsx"')
        staff = await get(session, server, "/api/v1/reports", manager(), period="day", by="staff")
        book = load_workbook(io.BytesIO(data), read_only=True)
        got = [list(line) for line in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        assert got[0] == lines[0] and got[1:] == [flat(r) for r in [*staff["rows"], staff["totals"]]]

        async with session.get(server.url + "/api/v1/reports/chart.svg", headers=manager(),
                               params={"by": "window", "metric": "handled"}) as answer:
            assert answer.status == 200 and answer.content_type == "image/svg+xml"
            root = ET.fromstring(await answer.text())
        bars = root.findall("{http://www.w3.org/2000/svg}rect[@class='bar']")
        assert [(b.get("data-key"), float(b.get("data-value") or 0)) for b in bars] == [
            (r["key"], float(r["handled"])) for r in windows]

        server.restart()  # the figures are rebuilt by replay: the same report after a restart
        again = await get(session, server, "/api/v1/reports", manager(), period="day", date=today, by="service")
        assert again == report


async def test_bad_parameters_and_roles_are_refused(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        cases = [({"period": "quarter"}, "invalid_period", "period"), ({"date": "2026-13-01"}, "invalid_day", "date"),
                 ({"date": "yesterday"}, "invalid_day", "date"), ({"by": "floor"}, "invalid_by", "by"),
                 ({"period": "month", "date": "9999-12-31"}, "invalid_day", "date"),
                 ({"format": "pdf"}, "invalid_format", "format")]
        for params, code, field in cases:
            body = await get(session, server, "/api/v1/reports", manager(), 400, **params)
            assert error_code(body) == code and body["error"]["details"]["field"] == field, body
        body = await get(session, server, "/api/v1/reports/chart.svg", manager(), 400, metric="mood")
        assert error_code(body) == "invalid_metric" and body["error"]["details"]["field"] == "metric"
        for headers in (display(), window(1), kiosk(1)):
            assert error_code(await get(session, server, "/api/v1/reports", headers, 403)) == "forbidden"
            assert error_code(await get(session, server, "/api/v1/reports/chart.svg", headers, 403)) == "forbidden"
        assert error_code(await get(session, server, "/api/v1/reports", {}, 401)) == "unauthorized"
        document = await get(session, server, "/api/v1/openapi.json", {})
        operation = document["paths"]["/api/v1/reports"]["get"]
        assert [p["name"] for p in operation["parameters"]] == ["period", "date", "by", "format"]
        assert "/api/v1/reports/chart.svg" in document["paths"]
