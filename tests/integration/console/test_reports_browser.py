"""The console's reports page in headless Chromium against the real server's reports API.

The table, the charts and the CSV and XLSX the page links to are checked against GET /api/v1/reports
itself: the downloads are real browser downloads (saved by Chromium), read back and compared row by row.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import aiohttp

from tests.integration.console.conftest import call, dashboard
from tests.integration.server_support import ServerProcess, kiosk, manager, sign_in, window
from tests.support.cdp import Page


async def a_morning(api: aiohttp.ClientSession, server: ServerProcess) -> None:
    """Five matters at two windows over two services, three rated (5, 4, 1)."""
    for n in (1, 2):
        await sign_in(api, server, n)
    levels = iter((5, 4, 1))
    for i, service in enumerate(("A01", "B01", "A01", "A01", "B01")):
        n = 1 + i % 2
        issued = await call(api, "POST", f"{server.url}/api/v1/tickets", kiosk(1), {"service": service})
        await call(api, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/call", window(n), {"window": n})
        for action in ("start", "finish"):
            await call(api, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/{action}", window(n))
        level = next(levels, None)
        if level is not None:
            await call(api, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/rating", window(n),
                       {"level": level, "channel": "pad"})


async def test_the_reports_page_shows_the_apis_rows_charts_and_downloads_csv_and_xlsx(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession, shots: Path, tmp_path: Path) -> None:
    # the reports helper's dependency, there once its branch is merged
    from openpyxl import load_workbook  # type: ignore[import-untyped,import-not-found,unused-ignore]

    await a_morning(api, server)
    query = {"period": "day", "by": "service"}
    expected = await call(api, "GET", f"{server.url}/api/v1/reports?period=day&by=service", manager())
    async with api.get(f"{server.url}/api/v1/reports", params={**query, "format": "csv"},
                       headers=manager()) as answer:
        expected_csv = await answer.read()
    await dashboard(page, server)
    await page.goto(f"{server.url}/manage/reports?period=day&by=service&date={expected['from']}")
    await page.wait_for("document.querySelectorAll('#report-table tr[data-key]').length > 0", "the report table")
    shown = await page.evaluate("Object.fromEntries([...document.querySelectorAll('#report-table tr[data-key]')]"
                                ".map(r => [r.dataset.key, r.querySelector('td.handled').innerText]))")
    assert shown == {**{r["key"]: str(r["handled"]) for r in expected["rows"]}, "total": "5"}
    assert expected["totals"]["handled"] == 5
    for chart, bars in (("#handled-chart", 2), ("#satisfaction-chart", None), ("#wait-chart", None)):
        count = await page.evaluate(f"document.querySelectorAll({json.dumps(chart + ' rect.chart-bar')}).length")
        assert count >= (bars or 1), chart
    await page.screenshot(shots / "reports.png")

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await page.allow_downloads(downloads)
    saved_csv = await page.download("#csv", downloads)
    assert saved_csv.read_bytes() == expected_csv
    rows = list(csv.reader(io.StringIO(saved_csv.read_bytes().decode("utf-8-sig"))))
    assert [(r[0], int(r[2])) for r in rows[1:-1]] == [(r["key"], r["handled"]) for r in expected["rows"]]
    saved_xlsx = await page.download("#xlsx", downloads)
    sheet = load_workbook(saved_xlsx, read_only=True).active
    assert sheet is not None
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [(r[0], r[2]) for r in cells[1:-1]] == [(r["key"], r["handled"]) for r in expected["rows"]]
