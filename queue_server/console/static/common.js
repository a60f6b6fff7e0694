// Shared by every console page: the API call with the session's CSRF token, safe DOM building, words for
// states and times, and the event feed (WebSocket with replay from the last event id applied).
// No framework and nothing from a CDN: halls run on closed networks, the queue server serves this file.
"use strict";

const Console = (() => {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const csrf = meta("csrf-token");
  const zone = meta("hall-timezone") || undefined;

  // One call for every request: same-origin cookie, CSRF header on anything but a read, JSON both ways.
  // A 401 means the session ended (idle, absolute, restart): back to the sign-in page.
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["X-CSRF-Token"] = csrf;
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    const answer = await fetch(path, init);
    let data = null;
    try { data = await answer.json(); } catch (_) { data = null; }
    if (answer.status === 401 && !path.startsWith("/manage/sign-in")) {
      window.location.assign("/manage/sign-in");
    }
    if (!answer.ok) {
      const err = (data && data.error) || { code: "http_" + answer.status, message_zh: "请求失败", message_en: "" };
      const failure = new Error(err.message_zh + (err.message_en ? " / " + err.message_en : ""));
      failure.code = err.code; failure.status = answer.status; failure.details = err.details || {};
      throw failure;
    }
    return data;
  }

  // el("td", {class: "x", text: "…"}, child…): text always goes in as text, never as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(id, ...children) {
    const target = document.getElementById(id);
    target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
    return target;
  }

  const timeFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: zone, hour: "2-digit", minute: "2-digit",
                                                        second: "2-digit", hour12: false });
  const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit",
                                                       day: "2-digit" });
  const clock = (seconds) => (seconds ? timeFormat.format(new Date(seconds * 1000)) : "—");
  const today = () => dayFormat.format(new Date());
  const hhmm = (date) => timeFormat.format(date).slice(0, 5);

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return `${s} 秒`;
    if (s < 3600) return `${Math.round(s / 60)} 分钟`;
    return `${Math.floor(s / 3600)} 小时 ${Math.round((s % 3600) / 60)} 分`;
  }
  const percent = (rate) => (rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`);

  // A message line under a form or a section: what went wrong in words, or what was done.
  function say(id, text, bad) {
    const target = document.getElementById(id);
    if (!target) return;
    target.textContent = text;
    target.className = "message" + (bad ? " bad" : " good");
  }

  // Event types in words, for the activity list and the history page.
  const EVENT_WORDS = {
    "ticket.issued": "取号", "ticket.called": "呼叫", "ticket.recalled": "重呼", "ticket.skipped": "过号",
    "ticket.requeued": "重新排队", "ticket.started": "开始办理", "ticket.finished": "办结", "ticket.transferred": "转办",
    "ticket.cancelled": "取消", "ticket.returned": "退回队首", "ticket.printed": "打印", "window.signed_in": "窗口签到",
    "window.signed_out": "窗口签退", "window.paused": "窗口暂停", "window.resumed": "窗口恢复", "rating.given": "评价",
    "case.opened": "立案", "case.step": "案件处理", "case.overdue": "案件超期", "alert.raised": "预警",
    "alert.acknowledged": "预警已确认", "alert.resolved": "预警恢复", "alert.closed": "预警关闭",
    "device.state": "设备状态", "appointment.booked": "预约", "appointment.cancelled": "取消预约",
    "appointment.checked_in": "预约签到", "appointment.no_show": "预约爽约", "day.rolled": "新的一天",
    "staff.pin_failed": "密码错误", "appointment.due": "预约到时", "certificate.printed": "打印证明",
  };

  // The event stream of a manager: history after `after`, then live; reconnects with ?after=<last applied>
  // so nothing is missed or applied twice; says in words since when the data is not current.
  class Feed {
    constructor({ after, stats, onEvent, onStats, onState }) {
      this.last = after || 0;
      this.stats = stats;
      this.onEvent = onEvent; this.onStats = onStats; this.onState = onState;
      this.delay = 500;
      this.lostSince = null;
      this.open();
    }

    open() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const query = `after=${this.last}` + (this.stats ? "&stats=1" : "");
      this.ws = new WebSocket(`${scheme}//${window.location.host}/api/v1/events?${query}`);
      this.ws.onopen = () => { this.delay = 500; this.lostSince = null; this.onState(true, null); };
      this.ws.onmessage = (message) => {
        const item = JSON.parse(message.data);
        if (item.type === "stats") { if (this.onStats) this.onStats(item); return; }
        if (typeof item.id !== "number" || item.id <= this.last) return;
        this.last = item.id;
        this.onEvent(item);
      };
      this.ws.onclose = (closing) => {
        if (closing.code === 4001) { window.location.assign("/manage/sign-in"); return; }  // the session ended
        if (closing.code === 4009) this.last = 0;  // the log was reset: start again from its beginning
        if (this.lostSince === null) this.lostSince = new Date();
        this.onState(false, this.lostSince);
        setTimeout(() => this.open(), this.delay);
        this.delay = Math.min(this.delay * 2, 15000);
      };
    }
  }

  function showFeedState(live, since) {
    const mark = document.getElementById("feed-state");
    if (!mark) return;
    mark.textContent = live ? "● 实时 / live" : `数据未更新（${hhmm(since)} 起） / not current since ${hhmm(since)}`;
    mark.className = live ? "feed live" : "feed stale";
  }

  function wireSignOut() {
    const button = document.getElementById("sign-out");
    if (!button) return;
    button.addEventListener("click", async () => {
      const answer = await api("POST", "/manage/sign-out", {});
      window.location.assign(answer.next);
    });
  }

  document.addEventListener("DOMContentLoaded", wireSignOut);
  return { api, el, fill, clock, today, duration, percent, say, Feed, showFeedState, EVENT_WORDS };
})();
