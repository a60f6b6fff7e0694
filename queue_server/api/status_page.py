"""The small mobile page behind a ticket's QR code: where am I in the queue, in big friendly text."""

from __future__ import annotations

import html
from typing import Any


def render_status_page(hall_name: str, view: dict[str, Any]) -> str:
    """HTML for one ticket's public view; refreshes itself, shows no personal data."""
    e = html.escape
    number = e(view["number"])
    if view["state"] == "waiting":
        minutes = max(1, round(view["estimated_wait_s"] / 60)) if view["ahead"] else 0
        line = f"前面还有 <b>{view['ahead']}</b> 人，预计等候约 <b>{minutes}</b> 分钟"
        line_en = f"{view['ahead']} ahead of you, about {minutes} min"
    elif view["state"] == "called" and view.get("window"):
        line = f"请到 <b>{view['window']}</b> 号窗口办理"
        line_en = f"please go to window {view['window']}"
    else:
        line = e(view["state_zh"])
        line_en = e(view["state"])
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="15">
<title>{number} · {e(hall_name)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif; margin: 0; padding: 1.5rem;
       background: #f4f7fb; color: #1b2a3a; text-align: center; }}
h1 {{ font-size: 1.2rem; font-weight: normal; margin: 0 0 1rem; }}
.number {{ font-size: 4.5rem; font-weight: bold; color: #b3261e; letter-spacing: .1em; }}
.service {{ font-size: 1.4rem; margin-bottom: 1.2rem; }}
.line {{ font-size: 1.6rem; line-height: 1.5; }}
.en {{ color: #5b6b7b; font-size: 1rem; margin-top: .5rem; }}
</style></head>
<body><h1>{e(hall_name)}</h1>
<div class="number" id="number">{number}</div>
<div class="service">{e(view["service_name"])}</div>
<div class="line" id="state">{line}</div>
<div class="en">{e(line_en)}</div>
</body></html>
"""
