"""The small mobile page behind a ticket's QR code: where am I in the queue, in big friendly text.

With the ticket's rating secret in the link (``?k=``, see queue_server/desks/ratings.py) and its matter
finished and not yet rated, the page offers the five 好差评 levels as plain forms (no script, no level
chosen beforehand); a wrong or missing secret shows the status only, with no hint.
"""

from __future__ import annotations

import html
from typing import Any

LEVELS_ZH = ((5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意"))


def render_status_page(hall_name: str, view: dict[str, Any], rating: dict[str, Any] | None = None) -> str:
    """HTML for one ticket's public view; refreshes itself, shows no personal data; the rating when offered."""
    e = html.escape
    if view["day_over"]:
        line = f"此号为 <b>{e(view['day'])}</b> 的号票，当日办理已结束（{e(view['state_zh'])}）"
        line_en = f"this ticket was for {view['day']}; that day is over ({view['state']})"
    elif view["state"] == "waiting" and view.get("wait_note"):
        line = f"前面还有 <b>{view['ahead']}</b> 人，今日可能无法办理，请考虑预约或改日再来"
        line_en = f"{view['ahead']} ahead of you; you may not be served today"
    elif view["state"] == "waiting":
        minutes = max(1, round(view["estimated_wait_s"] / 60)) if view["ahead"] else 0
        line = f"前面还有 <b>{view['ahead']}</b> 人，预计等候约 <b>{minutes}</b> 分钟"
        line_en = f"{view['ahead']} ahead of you, about {minutes} min"
    elif view["state"] == "called" and view.get("window"):
        line = f"请到 <b>{view['window']}</b> 号窗口办理"
        line_en = f"please go to window {view['window']}"
    else:
        line = e(view["state_zh"])
        line_en = e(view["state"])
    extra = ""
    if rating is not None and rating.get("rated"):
        extra = '<div class="line" id="rating">感谢您的评价</div><div class="en">thank you for your rating</div>'
    elif rating is not None:
        action = f"/api/v1/tickets/{e(view['id'])}/rating"
        buttons = "".join(
            f'<form method="post" action="{action}"><input type="hidden" name="k" value="{e(rating["secret"])}">'
            f'<input type="hidden" name="level" value="{level}"><button type="submit">{text}</button></form>'
            for level, text in LEVELS_ZH)
        extra = f'<div class="rate" id="rating"><div class="line">请对本次服务作出评价</div>{buttons}</div>'
    return _page(hall_name, view["number"], view["service_name"], line, line_en,
                 refresh=not view["day_over"] and rating is None, extra=extra)


def render_rating_answer(hall_name: str, ok: bool, message_zh: str, message_en: str) -> str:
    """What the phone shows after a rating from the status page: thanks, or why it was refused."""
    title = "评价成功" if ok else "未能评价"
    return _page(hall_name, title, "", html.escape(message_zh), message_en, refresh=False)


def render_not_found_page(hall_name: str) -> str:
    """What a phone shows for a QR code whose ticket is unknown (or older than the days kept)."""
    return _page(hall_name, "—", "", "未找到此号票，请咨询大厅工作人员", "ticket not found; please ask the hall staff",
                 refresh=False)


def _page(hall_name: str, number_text: str, service_name: str, line: str, line_en: str, *, refresh: bool,
          extra: str = "") -> str:
    e = html.escape
    number = e(number_text)
    meta_refresh = '<meta http-equiv="refresh" content="15">\n' if refresh else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta_refresh}<title>{number} · {e(hall_name)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif; margin: 0; padding: 1.5rem;
       background: #f4f7fb; color: #1b2a3a; text-align: center; }}
h1 {{ font-size: 1.2rem; font-weight: normal; margin: 0 0 1rem; }}
.number {{ font-size: 4.5rem; font-weight: bold; color: #b3261e; letter-spacing: .1em; }}
.service {{ font-size: 1.4rem; margin-bottom: 1.2rem; }}
.line {{ font-size: 1.6rem; line-height: 1.5; }}
.en {{ color: #5b6b7b; font-size: 1rem; margin-top: .5rem; }}
.rate {{ margin-top: 1.5rem; }} .rate form {{ margin: .4rem 0; }}
.rate button {{ font-size: 1.3rem; width: 80%; padding: .6rem; border-radius: .5rem; border: 1px solid #8aa; }}
</style></head>
<body><h1>{e(hall_name)}</h1>
<div class="number" id="number">{number}</div>
<div class="service">{e(service_name)}</div>
<div class="line" id="state">{line}</div>
<div class="en">{e(line_en)}</div>
{extra}
</body></html>
"""
