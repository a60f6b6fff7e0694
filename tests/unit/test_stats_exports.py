"""The report's CSV and XLSX hold the JSON's rows (read back with csv and openpyxl); the SVG chart parses."""

from __future__ import annotations

import csv
import io
import random
import xml.etree.ElementTree as ET
from typing import Any

from openpyxl import load_workbook

from queue_server.stats.chart import METRICS, chart_svg
from queue_server.stats.export import HEADER, filename, table, to_csv, to_xlsx
from queue_server.stats.reports import report_body
from tests.support.engine_kit import Recorder, new_engine
from tests.unit.test_stats_reports import MONDAY, TUESDAY, busy_day, d

SVG = "{http://www.w3.org/2000/svg}"


def a_report(by: str = "service") -> dict[str, Any]:
    rec = Recorder(new_engine())
    rng = random.Random(1)
    for day in (MONDAY, TUESDAY):
        busy_day(rec, day, rng)
    return report_body(rec.engine, "week", d(TUESDAY), by)


def expected_lines(report: dict[str, Any]) -> list[list[Any]]:
    """The report's rows, totals last, as flat cells written from the JSON shape (not from export.py)."""
    lines = []
    for row in [*report["rows"], report["totals"]]:
        cells = [row["key"], row["label"], row["handled"], row["completion_rate"], row["satisfaction"]]
        for name in ("wait_s", "handling_s"):
            cells += [row[name]["mean"], row[name]["p50"], row[name]["p90"]]
            cells += [bucket["count"] for bucket in row[name]["histogram"]]
        lines.append(cells)
    return lines


def test_csv_is_excel_ready_and_holds_the_rows() -> None:
    report = a_report()
    data = to_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == HEADER and lines[0][2] == "办件量 (handled)"
    assert len(lines[0]) == 5 + 2 * 3 + 11 + 10  # 11 wait buckets, 10 handling buckets
    assert [line[:2] for line in lines[1:]] == [["A01", "社保查询"], ["B01", "不动产登记"], ["C01", "户籍办理"],
                                                ["total", "合计"]]
    want = [["" if cell is None else str(cell) for cell in line] for line in expected_lines(report)]
    assert lines[1:] == want
    assert report["totals"]["handled"] > 0


def test_xlsx_reads_back_with_the_same_numbers() -> None:
    report = a_report("hour")
    book = load_workbook(io.BytesIO(to_xlsx(report)), read_only=True)
    (sheet,) = book.worksheets
    got = [list(line) for line in sheet.iter_rows(values_only=True)]
    book.close()
    assert got[0] == HEADER
    assert got[1:] == expected_lines(report)  # numbers stay numbers, nulls are empty cells
    assert sheet.title == f"week {report['from']}"


def test_text_a_spreadsheet_would_run_is_defused() -> None:
    report = a_report()
    report["rows"][0]["label"] = "=HYPERLINK(\"x\")\x07"
    assert table(report)[1][1] == report["rows"][0]["label"]
    lines = list(csv.reader(io.StringIO(to_csv(report).decode("utf-8-sig"))))
    assert lines[1][1] == "'=HYPERLINK(\"x\")"
    book = load_workbook(io.BytesIO(to_xlsx(report)))
    assert book.active is not None and book.active["B2"].value == "'=HYPERLINK(\"x\")"
    assert book.active["B2"].data_type == "s"
    assert book.active["D2"].number_format == book.active["E5"].number_format == "0.0%"  # rates read as per cent
    assert book.active.freeze_panes == "C2"


def test_the_download_is_named_after_the_period() -> None:
    report = a_report("window")
    assert filename(report, "xlsx") == "report-week-2026-11-30-2026-12-06-by-window.xlsx"


def test_the_chart_draws_one_bar_per_row_with_its_value() -> None:
    report = a_report("hour")
    for metric in METRICS:
        root = ET.fromstring(chart_svg(report, metric, "测试大厅"))
        assert root.tag == SVG + "svg"
        bars = root.findall(f"{SVG}rect[@class='bar']")
        assert [bar.get("data-key") for bar in bars] == [row["key"] for row in report["rows"]]
        texts = [t.text or "" for t in root.iter(SVG + "text")]
        assert texts[0].startswith("测试大厅 周报按时段") and "2026-11-30 至 2026-12-06" in texts
        assert [t for t in texts if t in {row["label"] for row in report["rows"]}] == [
            row["label"] for row in report["rows"]]
        for bar, row in zip(bars, report["rows"], strict=True):
            value = {"wait": None if row["wait_s"]["p50"] is None else row["wait_s"]["p50"] / 60,
                     "satisfaction": None if row["satisfaction"] is None else row["satisfaction"] * 100,
                     "handled": row["handled"]}[metric]
            assert bar.get("data-value") == ("" if value is None else f"{value:.4f}")
        widths = [float(bar.get("width") or 0) for bar in bars]
        values = [float(bar.get("data-value") or 0) for bar in bars]
        biggest = max(range(len(values)), key=values.__getitem__)
        assert max(widths) == widths[biggest] > 0  # the longest bar is the largest value
        if metric == "wait":
            ticks = root.findall(f"{SVG}line[@class='p90']")
            assert {t.get("data-key") for t in ticks} == {r["key"] for r in report["rows"] if r["wait_s"]["p90"]}
        assert "href" not in ET.tostring(root, encoding="unicode")  # nothing fetched from anywhere
