"""Routes of the managers' reports: ``GET /api/v1/reports`` (JSON, CSV, XLSX) and ``/api/v1/reports/chart.svg``.

Managers only: staff figures and per-window counts are the hall's management information. The rows are
queue_server/stats/reports.py's; the files and the chart are drawn from the same body, so a download
holds exactly what the JSON says. XLSX and SVG are built in a worker thread (a year by staff is a few
hundred cells, but the event loop never waits on a library it does not own).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from config.model import NodeRole
from queue_server.answer import dumps
from queue_server.api.auth import require
from queue_server.api.errors import bad_request
from queue_server.api.schema import errors, query
from queue_server.api.stats import day_param
from queue_server.engine.figures import HANDLING_EDGES_S, WAIT_EDGES_S
from queue_server.keys import AUTH, SERVICE
from queue_server.stats.chart import METRICS, chart_svg
from queue_server.stats.export import CSV_TYPE, XLSX_TYPE, filename, to_csv, to_xlsx
from queue_server.stats.reports import BYS, PERIODS

routes = web.RouteTableDef()
FORMATS = ("json", "csv", "xlsx")
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


@dataclass(frozen=True)
class ReportQuery:
    """The parameters every report route shares, checked."""

    period: str
    day: dt.date | None
    by: str


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str, zh: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, not {value[:40]!r}", f"{zh}无效",
                          f"invalid_{name}", name)
    return value


def _report_query(request: web.Request) -> ReportQuery:
    require(request.app[AUTH].node(request), NodeRole.MANAGER)
    return report_params(request)


def report_params(request: web.Request) -> ReportQuery:
    """period, date and by of a report request, checked (a hall's manager's, or the city manager's)."""
    period = _choice(request, "period", PERIODS, "day", "统计周期")
    day = day_param(request, "date")
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:  # a period of year 9999 would end past the calendar
        raise bad_request(f"date must be from {FIRST_DAY} to {LAST_DAY}", "日期超出范围", "invalid_day", "date")
    return ReportQuery(period, day, _choice(request, "by", BYS, "hour", "分组方式"))


async def _report(request: web.Request, q: ReportQuery) -> dict[str, Any]:
    return await request.app[SERVICE].report(q.period, q.day, q.by)


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Content-Disposition": f'attachment; filename="{name}"'})


@routes.get("/api/v1/reports")
async def reports(request: web.Request) -> web.Response:
    q = _report_query(request)
    fmt = _choice(request, "format", FORMATS, "json", "文件格式")
    report = await _report(request, q)
    if fmt == "csv":
        return _download(to_csv(report), CSV_TYPE, filename(report, "csv"))
    if fmt == "xlsx":
        return _download(await asyncio.to_thread(to_xlsx, report), XLSX_TYPE, filename(report, "xlsx"))
    return web.Response(text=dumps(report), content_type="application/json")


@routes.get("/api/v1/reports/chart.svg")
async def report_chart(request: web.Request) -> web.Response:
    q = _report_query(request)
    metric = _choice(request, "metric", METRICS, "handled", "图表指标")
    report = await _report(request, q)
    svg = await asyncio.to_thread(chart_svg, report, metric, request.app[SERVICE].hall.name)
    return web.Response(text=svg, content_type="image/svg+xml")


_NUMBER = {"type": "number", "nullable": True}
_DURATIONS = {
    "type": "object", "required": ["mean", "p50", "p90", "histogram"],
    "properties": {"mean": _NUMBER, "p50": _NUMBER, "p90": _NUMBER, "histogram": {
        "type": "array", "description": "counts per bucket: above the previous edge up to and including upto_s; "
                                        "the last bucket (upto_s null) holds the rest",
        "items": {"type": "object", "required": ["upto_s", "count"],
                  "properties": {"upto_s": {"type": "integer", "nullable": True},
                                 "count": {"type": "integer", "minimum": 0}}}}}}
_ROW = {"type": "object", "required": ["key", "label", "handled", "completion_rate", "satisfaction", "wait_s",
                                       "handling_s"],
        "properties": {
            "key": {"type": "string", "description": "hour \"09\", service or department code, window number, "
                                                     "staff id; \"total\" for the totals"},
            "label": {"type": "string"}, "handled": {"type": "integer", "minimum": 0, "description": "办件量"},
            "completion_rate": {**_NUMBER, "description": "办结率, as in GET /api/v1/stats"},
            "satisfaction": {**_NUMBER, "description": "满意率, as in GET /api/v1/stats"},
            "wait_s": {**_DURATIONS, "description": f"issue → first call; bucket edges {list(WAIT_EDGES_S)} s"},
            "handling_s": {**_DURATIONS, "description": f"start → finish; bucket edges {list(HANDLING_EDGES_S)} s"}}}
_PARAMS = [
    query("period", {"type": "string", "enum": list(PERIODS), "default": "day"},
          "day, ISO week (Monday to Sunday), calendar month or year, in the hall's time zone"),
    query("date", {"type": "string", "format": "date"}, "a day inside the period (default today)"),
    query("by", {"type": "string", "enum": list(BYS), "default": "hour"},
          "hour: the hour of day the matter's ticket was issued"),
]
_ERRORS = errors((400, "bad period, date, by, format or metric (details.field names it)"),
                 (401, "no or unknown token"), (403, "not a manager"))

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/api/v1/reports", {
        "summary": "a manager's report of a day, week, month or year by hour, service, department, window or staff",
        "description": "From the per-day figures (as GET /api/v1/stats), merged over the period. format=csv is "
                       "UTF-8 with a BOM, one header row (Chinese names, English in brackets), the rows and the "
                       "totals last, one column per histogram bucket; format=xlsx the same table in one sheet. "
                       "Both come as attachments named after the period.",
        "parameters": [*_PARAMS, query("format", {"type": "string", "enum": list(FORMATS), "default": "json"})],
        "responses": {"200": {"description": "the report", "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["period", "from", "to", "by", "rows", "totals"],
                "properties": {"period": {"type": "string"}, "from": {"type": "string", "format": "date"},
                               "to": {"type": "string", "format": "date"}, "by": {"type": "string"},
                               "rows": {"type": "array", "items": _ROW}, "totals": _ROW}}},
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}, **_ERRORS}}),
    ("get", "/api/v1/reports/chart.svg", {
        "summary": "the report as an SVG bar chart (wait: median and p90 in minutes; satisfaction %; handled)",
        "parameters": [*_PARAMS, query("metric", {"type": "string", "enum": list(METRICS), "default": "handled"})],
        "responses": {"200": {"description": "an SVG document", "content": {
            "image/svg+xml": {"schema": {"type": "string"}}}}, **_ERRORS}}),
]
