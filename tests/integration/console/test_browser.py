"""The managers' console in a real headless Chromium against the real server, driven over DevTools.

Each test signs in through the page, acts by clicking, and checks the outcome both on the page (which
must change without a reload: a marker set on ``window`` before the change must still be there after)
and through the API. Screenshots of each page are saved for people to look at (the path is printed).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.integration.console.conftest import call, dashboard, sign_in_page
from tests.integration.server_support import ServerProcess, free_port, kiosk, manager, sign_in, window
from tests.support.cdp import Page


async def still_same_page(page: Page) -> None:
    assert await page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def text_of(selector: str) -> str:
    return f"((document.querySelector({json.dumps(selector)}) || {{}}).innerText || '')"


async def test_sign_in_refuses_a_wrong_pin_then_locks_and_the_dashboard_shows_a_new_ticket_live(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession, shots: Path) -> None:
    await page.goto(f"{server.url}/manage")
    assert await page.evaluate("location.pathname") == "/manage/sign-in"  # not signed in: sent to sign in
    await sign_in_page(page, server, pin="999999")
    await page.wait_for(f"{text_of('#sign-in-message')}.includes('工号或密码错误')", "the wrong-PIN message")
    for _ in range(5):  # s003 is no manager; its count is its own, the demo manager stays free
        await page.type_into("#staff", "s003")
        await page.type_into("#pin", "999999")
        await page.evaluate("document.querySelector('#sign-in-message').textContent = ''")
        await page.click("#pin-submit")
        await page.wait_for(f"{text_of('#sign-in-message')}.includes('工号或密码错误')", "a wrong-PIN refusal")
    await page.click("#pin-submit")
    await page.wait_for(f"{text_of('#sign-in-message')}.includes('次数过多')", "the lock message")
    assert "秒后再试" in await page.evaluate(text_of("#sign-in-message"))
    await page.screenshot(shots / "sign-in-locked.png")

    await dashboard(page, server)
    await page.screenshot(shots / "dashboard-empty.png")
    issued = await call(api, "POST", f"{server.url}/api/v1/tickets", kiosk(1), {"service": "B01"})
    await page.wait_for(f"{text_of('#tickets')}.includes({json.dumps(issued['number'])})",
                        f"ticket {issued['number']} in the waiting list")
    await page.wait_for(f"{text_of('#activity')}.includes({json.dumps(issued['number'])})", "it in the activity")
    await page.wait_for(f"{text_of('#figures .figure:first-child .value')} === '1'",
                        "the issued figure updated by the stats message")
    await still_same_page(page)

    await sign_in(api, server, 2)  # a window calls it: the windows table follows, still without a reload
    await call(api, "POST", f"{server.url}/api/v1/windows/2/call-next", window(2))
    await page.wait_for("(document.querySelector('#windows tr[data-window=\"2\"]') || {}).innerText"
                        f"?.includes({json.dumps(issued['number'])})", "window 2 serving the ticket")
    await still_same_page(page)
    await page.screenshot(shots / "dashboard-1366x768.png")
    await page.viewport(820, 1180, mobile=True)  # a tablet, upright
    await page.screenshot(shots / "dashboard-tablet-820x1180.png")


async def test_a_manager_acknowledges_and_closes_an_alert_by_clicking(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession, shots: Path) -> None:
    await dashboard(page, server)
    for n in range(31):  # one more than the long_queue threshold (30)
        await call(api, "POST", f"{server.url}/api/v1/tickets", kiosk(1 + n % 10), {"service": "A01"})
    row = "#alerts tr[data-alert]"
    await page.wait_for(f"document.querySelector('{row}') !== null", "the long-queue alert on the page")
    alert_id = await page.evaluate(f"document.querySelector('{row}').dataset.alert")
    await page.click(f"{row} button.ack")
    await page.wait_for(f"{text_of(row + ' td.state')} === '已确认'", "the alert acknowledged")
    await page.screenshot(shots / "dashboard-alert-acknowledged.png")
    await page.type_into(f"{row} input.note-input", "已加开窗口")
    await page.click(f"{row} button.close")
    await page.wait_for(f"document.querySelector('#alerts tr[data-alert=\"{alert_id}\"]') === null",
                        "the closed alert gone from the open list")
    await still_same_page(page)
    alerts = (await call(api, "GET", f"{server.url}/api/v1/alerts", manager()))["alerts"]
    closed = next(a for a in alerts if a["id"] == alert_id)
    assert (closed["state"], closed["note"]) == ("closed", "已加开窗口")
    assert closed["acknowledged_by"] == closed["closed_by"] == "console:s001"

    # a node's device goes wrong: the nodes table says what, in words, live
    await call(api, "POST", f"{server.url}/api/v1/nodes/kiosk-3/health", kiosk(3), {"devices": [
        {"name": "ticket_printer", "kind": "ticket_printer", "state": "fault", "reason": "缺纸"},
        {"name": "idcard", "kind": "idcard", "state": "ready"}]})
    await page.wait_for(f"{text_of('#nodes tr.faulty')}.includes('ticket_printer：故障（缺纸）')",
                        "the printer fault in words")
    assert "在线" in await page.evaluate(text_of("#nodes tr.faulty"))
    assert await page.evaluate("document.querySelector('#nodes tbody tr').className") == "faulty"  # listed first
    await still_same_page(page)
    await page.screenshot(shots / "dashboard-device-fault.png")


async def test_the_appointments_of_a_chosen_day_are_listed_masked(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession) -> None:
    await dashboard(page, server)
    today = dt.date.fromisoformat((await call(api, "GET", f"{server.url}/api/v1/queues", manager()))["day"])
    for ahead in range(1, 8):  # the first day ahead with a 10:00 slot of C01 (a weekend may have none)
        day = (today + dt.timedelta(days=ahead)).isoformat()
        async with api.post(f"{server.url}/api/v1/appointments", headers=manager(), json={
                "service": "C01", "slot_start": f"{day}T10:00", "holder_key": "ab" * 32,
                "holder_masked": "张*"}) as answer:
            if answer.status == 201:
                break
    else:
        raise AssertionError("no day in the next week had a 10:00 slot of C01")
    await page.type_into("#appointments-day", day)
    await page.evaluate("document.querySelector('#appointments-day').dispatchEvent(new Event('change'))")
    await page.wait_for(f"{text_of('#appointments')}.includes('10:00–10:30')", f"the booking of {day}")
    shown = await page.evaluate(text_of("#appointments"))
    assert "张*" in shown and "已预约" in shown and "ab" * 32 not in shown


async def test_a_manager_works_a_bad_rating_follow_up_to_closed_and_traces_the_matter(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession, shots: Path) -> None:
    await sign_in(api, server, 1)
    issued = await call(api, "POST", f"{server.url}/api/v1/tickets", kiosk(1), {"service": "A01"})
    await call(api, "POST", f"{server.url}/api/v1/windows/1/call-next", window(1))
    for action in ("start", "finish"):
        await call(api, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/{action}", window(1))
    await dashboard(page, server)
    rated = await call(api, "POST", f"{server.url}/api/v1/tickets/{issued['id']}/rating", window(1),
                       {"level": 1, "channel": "pad", "comment": "等太久"})
    followup = rated["followup"]["id"]
    row = f"#followups tr[data-followup=\"{followup}\"]"
    await page.wait_for(f"document.querySelector('{row}') !== null", "the follow-up on the page")
    await page.screenshot(shots / "dashboard-followup.png")
    for step, state in (("contact", "已联系"), ("rectify", "已整改")):
        await page.type_into(f"{row} input.note-input", f"{step}：已处理")
        await page.click(f"{row} button[data-step={step}]")
        await page.wait_for(f"{text_of(row + ' td.state')} === '{state}'", f"the follow-up {state}")
    await page.type_into(f"{row} input.note-input", "整改完成，回访满意")
    await page.click(f"{row} button[data-step=close]")
    await page.wait_for(f"document.querySelector('{row}') === null", "the closed follow-up gone from the list")
    await still_same_page(page)
    listed = (await call(api, "GET", f"{server.url}/api/v1/followups", manager()))["followups"]
    done = next(f for f in listed if f["id"] == followup)
    assert done["state"] == "closed" and done["steps"][-1]["note"] == "整改完成，回访满意"
    assert {s["node"] for s in done["steps"]} == {"console:s001"}

    day = (await call(api, "GET", f"{server.url}/api/v1/queues", manager()))["day"]
    await page.goto(f"{server.url}/manage/history")
    await page.type_into("#number", issued["number"].lower())
    await page.type_into("#day", day)
    await page.click("#search button")
    await page.wait_for("document.querySelectorAll('#history tr[data-type]').length > 0", "the history table")
    types = await page.evaluate("[...document.querySelectorAll('#history tr[data-type]')].map(r => r.dataset.type)")
    assert types[:4] == ["ticket.issued", "ticket.called", "ticket.started", "ticket.finished"]
    assert "rating.given" in types and types.count("case.step") == 3
    await page.screenshot(shots / "history.png")


async def evil_site(port: int, target: str) -> web.AppRunner:
    """Another origin's page that tries, with the manager's browser, to act on the hall (it must not)."""
    html = f"""<!doctype html><meta charset=utf-8><body>evil<script>
    const hit = (path, init) => fetch({json.dumps(target)} + path, {{mode: "no-cors", credentials: "include",
      method: "POST", ...init}}).then(() => "sent", (e) => "failed: " + e);
    Promise.all([hit("/api/v1/tickets", {{body: '{{"service": "A01"}}', headers: {{"Content-Type": "text/plain"}}}}),
                 hit("/manage/sign-out", {{}})]).then((r) => {{ window.__done = r; }});
    </script>"""

    async def evil(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "localhost", port).start()
    return runner


async def test_cross_site_posts_and_posts_without_the_csrf_token_are_refused(
        server: ServerProcess, page: Page, api: aiohttp.ClientSession, shots: Path) -> None:
    await dashboard(page, server)
    for headers, code in (({}, "csrf_token_invalid"), ({"X-CSRF-Token": "forged"}, "csrf_token_invalid")):
        status, body = await page.evaluate(
            f"fetch('/api/v1/tickets', {{method: 'POST', credentials: 'same-origin', body: '{{\"service\": \"A01\"}}',"
            f" headers: {{'Content-Type': 'application/json', ...{json.dumps(headers)}}}}})"
            ".then(async (r) => [r.status, await r.json()])")
        assert (status, body["error"]["code"]) == (403, code)
    runner = await evil_site(port := free_port(), server.url)
    try:
        await page.goto(f"http://localhost:{port}/")
        assert await page.wait_for("window.__done", "the other site's requests to finish") == ["sent", "sent"]
    finally:
        await runner.cleanup()
    tickets = (await call(api, "GET", f"{server.url}/api/v1/tickets", manager()))["tickets"]
    assert tickets == []  # nothing was issued by any refused request
    await page.goto(f"{server.url}/manage")  # and the session was not signed out from the other site
    await page.wait_for("location.pathname === '/manage' && document.querySelector('#windows table') !== null",
                        "the dashboard still signed in")
    await page.screenshot(shots / "dashboard-after-cross-site.png")
