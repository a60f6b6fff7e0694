// 流程追溯: find the ticket of a number on a day in the audit trail (its ticket.issued event), then show
// every event of that matter from /api/v1/tickets/{id}/history, oldest first, each attributed.
"use strict";

(() => {
  const { api, el, fill, clock, say, EVENT_WORDS } = Console;
  const HIDDEN = new Set(["ticket", "number"]);

  async function findTicket(number, day) {
    const found = [];
    let after = 0;
    for (let page = 0; page < 50; page += 1) {  // the audit scans a bounded stretch per request; follow `next`
      const query = new URLSearchParams({ from: day, to: day, type: "ticket.issued", after: String(after), limit: "1000" });
      const answer = await api("GET", `/api/v1/audit?${query}`);
      for (const event of answer.events) if (event.data.number === number) found.push(event);
      if (answer.next === null) break;
      after = answer.next;
    }
    return found;
  }

  function details(data) {
    return Object.entries(data).filter(([key, value]) => !HIDDEN.has(key) && value !== "" && value !== null)
      .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`).join("，");
  }

  async function search(number, day) {
    say("history-message", "查询中… / searching", false);
    fill("history");
    const issued = await findTicket(number, day);
    if (!issued.length) {
      say("history-message", `${day} 没有 ${number} 号 / no ticket ${number} on ${day}`, true);
      return;
    }
    const blocks = [];
    for (const first of issued) {
      const trail = await api("GET", `/api/v1/tickets/${encodeURIComponent(first.data.ticket)}/history`);
      blocks.push(el("h3", { text: `${trail.number || number} · ${day} · 共 ${trail.events.length} 条记录` }),
                  el("table", { class: "history-table" },
                     el("thead", {}, el("tr", {}, ["#", "时间", "环节", "窗口", "终端", "工作人员", "内容"].map(
                       (h) => el("th", { text: h })))),
                     el("tbody", {}, trail.events.map((e) => el(
                       "tr", { "data-type": e.type }, el("td", { text: e.id }), el("td", { text: clock(e.at) }),
                       el("td", { text: EVENT_WORDS[e.type] || e.type }), el("td", { text: e.window || "—" }),
                       el("td", { text: e.node || "—" }), el("td", { text: e.staff || "—" }),
                       el("td", { class: "details", text: details(e.data) }))))));
    }
    fill("history", blocks);
    say("history-message", `找到 ${issued.length} 个号 / found`, false);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(window.location.search);
    const number = document.getElementById("number"), day = document.getElementById("day");
    day.value = params.get("day") || Console.today();
    number.value = params.get("number") || "";
    document.getElementById("search").addEventListener("submit", (event) => {
      event.preventDefault();
      const wanted = number.value.trim().toUpperCase();
      history.replaceState(null, "", `?number=${encodeURIComponent(wanted)}&day=${day.value}`);
      search(wanted, day.value).catch((err) => say("history-message", err.message, true));
    });
    if (number.value) search(number.value.trim().toUpperCase(), day.value).catch((err) => say("history-message", err.message, true));
  });
})();
