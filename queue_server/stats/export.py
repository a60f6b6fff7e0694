"""A report as a table for people: CSV (UTF-8 with a BOM, so Excel opens the Chinese) and XLSX (openpyxl).

Both come from one ``table()``: a header row of Chinese names with the English in brackets, then the
report's rows in order and the totals last, with the same numbers as the JSON (rates as fractions,
durations in whole seconds, one column per histogram bucket). Text that a spreadsheet would run as a
formula (a label starting with ``=``, ``+``, ``-`` or ``@``) is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from queue_server.engine.figures import HANDLING_EDGES_S, WAIT_EDGES_S

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@")
Cell = str | int | float | None


def _bucket_titles(zh: str, en: str, edges: tuple[int, ...]) -> list[str]:
    titles, low = [], 0
    for edge in edges:
        titles.append(f"{zh} {low}–{edge} 秒 ({en} {low}-{edge} s)")
        low = edge
    titles.append(f"{zh} >{low} 秒 ({en} >{low} s)")
    return titles


def _durations_titles(zh: str, en: str, edges: tuple[int, ...]) -> list[str]:
    return [f"{zh}平均/秒 ({en} mean, s)", f"{zh}中位数/秒 ({en} p50, s)", f"{zh}P90/秒 ({en} p90, s)",
            *_bucket_titles(zh, en, edges)]


_RATE_COLUMNS = (3, 4)  # 办结率, 满意率
HEADER = ["键 (key)", "名称 (label)", "办件量 (handled)", "办结率 (completion rate)", "满意率 (satisfaction)",
          *_durations_titles("等候", "wait", WAIT_EDGES_S), *_durations_titles("办理", "handling", HANDLING_EDGES_S)]


def _durations_cells(d: dict[str, Any]) -> list[Cell]:
    return [d["mean"], d["p50"], d["p90"], *(bucket["count"] for bucket in d["histogram"])]


def _cells(row: dict[str, Any]) -> list[Cell]:
    return [row["key"], row["label"], row["handled"], row["completion_rate"], row["satisfaction"],
            *_durations_cells(row["wait_s"]), *_durations_cells(row["handling_s"])]


def table(report: dict[str, Any]) -> list[list[Cell]]:
    """The header and one line per row, totals last (what both files hold)."""
    return [list(HEADER), *(_cells(row) for row in report["rows"]), _cells(report["totals"])]


def _safe(cell: Cell) -> Cell:
    if not isinstance(cell, str):
        return cell
    text: str = ILLEGAL_CHARACTERS_RE.sub("", cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(report: dict[str, Any]) -> bytes:
    """The report as CSV bytes: UTF-8 with a BOM, CRLF line ends, empty cells for nulls."""
    out = io.StringIO()
    writer = csv.writer(out)
    for line in table(report):
        writer.writerow(["" if cell is None else _safe(cell) for cell in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report: dict[str, Any]) -> bytes:
    """The report as an XLSX workbook of one sheet (numbers as numbers, rates shown as per cent, nulls empty)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=f"{report['period']} {report['from']}")
    sheet.freeze_panes = "C2"  # the header and the names stay in view
    sheet.column_dimensions["B"].width = 24
    header, *lines = table(report)
    sheet.append(header)
    for line in lines:
        cells: list[Any] = [_safe(cell) for cell in line]
        for column in _RATE_COLUMNS:
            cell = WriteOnlyCell(sheet, value=cells[column])
            cell.number_format = "0.0%"
            cells[column] = cell
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(report: dict[str, Any], ext: str) -> str:
    """The download's name, with the period: ``report-month-2026-11-01-2026-11-30-by-service.csv``."""
    return f"report-{report['period']}-{report['from']}-{report['to']}-by-{report['by']}.{ext}"
