"""A report drawn as a horizontal bar chart in SVG, built on the server (halls run on closed networks: no CDN).

One bar per row, its label on the left (Chinese names can be long, so bars run across), the value at the
bar's end. ``wait`` draws the median wait in minutes with a tick at p90 (the distribution's tail is what
citizens complain about), ``satisfaction`` the 满意率 in per cent, ``handled`` the 办件量. Text uses the
fonts installed on the manager's machine (``font-family`` only, nothing fetched). Every bar carries
``data-key`` and ``data-value`` so a test (or a script) reads the figures back from the drawing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

METRICS = ("wait", "satisfaction", "handled")
_TITLES = {"wait": "等候时间（分钟，柱为中位数，竖线为 P90）", "satisfaction": "满意率（%）", "handled": "办件量（件）"}
_BY = {"hour": "按时段", "service": "按事项", "department": "按部门", "window": "按窗口", "staff": "按工作人员"}
_PERIOD = {"day": "日报", "week": "周报", "month": "月报", "year": "年报"}
FONT = "Noto Sans CJK SC, WenQuanYi Zen Hei, Microsoft YaHei, sans-serif"
WIDTH, LABEL_W, BAR_H, GAP, TOP = 960, 240, 22, 10, 64
_PLOT_W = WIDTH - LABEL_W - 180  # room for the value and its p90 after the longest bar


def _value(row: dict[str, Any], metric: str) -> tuple[float | None, float | None]:
    """The bar's value and, for waits, the p90 tick (minutes)."""
    if metric == "wait":
        wait = row["wait_s"]
        p50, p90 = wait["p50"], wait["p90"]
        return (None if p50 is None else p50 / 60, None if p90 is None else p90 / 60)
    if metric == "satisfaction":
        rate = row["satisfaction"]
        return (None if rate is None else rate * 100, None)
    return (float(row["handled"]), None)


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> None:
    node = ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", **attrs})
    node.text = text


def _shown(value: float, metric: str) -> str:
    return f"{value:.0f}" if metric == "handled" else f"{value:.1f}"


def chart_svg(report: dict[str, Any], metric: str, hall_name: str = "") -> str:
    """The SVG document of ``report`` for ``metric`` (one of ``METRICS``)."""
    rows = report["rows"]
    values = [_value(row, metric) for row in rows]
    top = max([v for pair in values for v in pair if v is not None], default=0.0)
    scale = _PLOT_W / top if top > 0 else 0.0
    height = TOP + len(rows) * (BAR_H + GAP) + 30
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(height),
                             "viewBox": f"0 0 {WIDTH} {height}", "font-family": FONT, "font-size": "14"})
    title = f"{hall_name} {_PERIOD[report['period']]}{_BY[report['by']]}：{_TITLES[metric]}".strip()
    _text(svg, 12, 26, title, **{"font-size": "18", "font-weight": "bold", "class": "title"})
    _text(svg, 12, 48, f"{report['from']} 至 {report['to']}", **{"class": "range", "fill": "#555"})
    for n, (row, (value, tick)) in enumerate(zip(rows, values, strict=True)):
        y = TOP + n * (BAR_H + GAP)
        _text(svg, LABEL_W - 8, y + BAR_H - 6, row["label"], **{"text-anchor": "end", "class": "label"})
        width = (value or 0.0) * scale
        ET.SubElement(svg, "rect", {"x": str(LABEL_W), "y": str(y), "width": f"{width:.1f}", "height": str(BAR_H),
                                    "fill": "#2f6fb0", "class": "bar", "data-key": str(row["key"]),
                                    "data-value": "" if value is None else f"{value:.4f}"})
        if tick is not None:
            x = LABEL_W + tick * scale
            ET.SubElement(svg, "line", {"x1": f"{x:.1f}", "x2": f"{x:.1f}", "y1": str(y - 3), "y2": str(y + BAR_H + 3),
                                        "stroke": "#c0392b", "stroke-width": "3", "class": "p90",
                                        "data-key": str(row["key"]), "data-value": f"{tick:.4f}"})
        shown = "无数据" if value is None else _shown(value, metric)
        if tick is not None:
            shown += f"（P90 {tick:.1f}）"
        _text(svg, LABEL_W + max(width, tick * scale if tick else 0.0) + 8, y + BAR_H - 6, shown,
              **{"class": "value"})
    return ET.tostring(svg, encoding="unicode", xml_declaration=True)
