// The live dashboard: every section is read from /api/v1/* and read again when an event that changes it
// arrives on the event stream; the figures come with the stream's once-a-second stats message. So the page
// never reloads, and what it shows is exactly what the API says (no second copy of the hall's rules here).
"use strict";

(() => {
  const { api, el, fill, clock, today, duration, percent, say, Feed, showFeedState, EVENT_WORDS } = Console;

  const WINDOW_STATE = { open: "开放", paused: "暂停", closed: "关闭" };
  const TICKET_STATE = { waiting: "等候", called: "已呼叫", serving: "办理中", finished: "办结", skipped: "过号",
                         cancelled: "已取消", transferred: "已转办" };
  const DEVICE_STATE = { connected: "已连接", ready: "正常", degraded: "降级", fault: "故障", disconnected: "断开" };
  const ALERT_KIND = { long_wait: "等候过久", long_queue: "排队过长", window_paused: "窗口暂停过久",
                       window_idle: "窗口空闲", device_fault: "设备故障", node_silent: "终端失联", bad_rating: "差评",
                       followup_overdue: "整改超期", case_overdue: "案件超期", quota_nearly_used: "号源将尽" };
  const ALERT_STATE = { open: "未处理", acknowledged: "已确认", resolved: "已恢复", closed: "已关闭" };
  const FOLLOWUP_STATE = { open: "待联系", contacted: "已联系", rectified: "已整改", appealed: "申诉中",
                           closed: "已办结", overturned: "已撤销" };
  // step → (states it starts from, its words): the same table as queue_server/engine/cases.py, for the buttons only;
  // the server decides, and a refused step is shown with the server's words.
  const FOLLOWUP_STEPS = [["contact", ["open"], "已联系"], ["rectify", ["contacted"], "已整改"],
                          ["close", ["rectified"], "办结"], ["appeal", ["open", "contacted", "rectified"], "申诉"],
                          ["uphold", ["appealed"], "维持"], ["overturn", ["appealed"], "撤销差评"]];
  const APPOINTMENT_STATE = { booked: "已预约", checked_in: "已签到", cancelled: "已取消", no_show: "爽约" };

  const SHOWN = 200;  // alerts and follow-ups: the most urgent; a hall that let thousands pile up sees the count
  const countWords = (all, shown) => (all > shown ? `（共 ${all} 条待处理，显示最紧急的 ${shown} 条）`
                                      : all ? `（${all} 条）` : "");
  const services = new Map();  // code → name, from the queues answer
  const departments = new Map();  // code → name, from the stats messages
  const numbers = new Map();  // ticket id → number, to say events in words

  // ------------------------------------------------------------------ figures and charts (stats messages)
  function showFigures(live) {
    document.getElementById("day").textContent = live.day || "";
    const hall = live.hall;
    for (const d of live.departments) departments.set(d.department, d.name);
    const figure = (label, value, note) => el("div", { class: "figure" }, el("span", { class: "value", text: value }),
                                              el("span", { class: "label", text: label }),
                                              note ? el("span", { class: "note", text: note }) : null);
    fill("figures",
         figure("取号 issued", hall.issued), figure("办结 finished", hall.finished),
         figure("办结率 completion", percent(hall.completion_rate)), figure("等候 waiting", hall.waiting_now),
         figure("最长等候 longest wait", duration(hall.longest_wait_s)),
         figure("满意率 satisfaction", percent(hall.satisfaction)),
         figure("开放窗口 open windows", hall.windows_open, hall.windows_paused ? `暂停 ${hall.windows_paused}` : ""));
    fill("waiting-chart", Charts.bars(
      live.services.map((s) => ({ label: s.name, value: s.waiting, note: s.waiting ? `约 ${duration(s.estimated_wait_s)}` : "" })),
      { title: "各业务等候人数", format: (v) => `${v} 人` }));
    fill("department-chart", Charts.bars(
      live.departments.map((d) => ({ label: d.name, value: d.issued,
                                     note: `办结 ${d.finished} · ${percent(d.completion_rate)}` })),
      { title: "各部门办件量与办结率", format: (v) => `${v} 件` }));
  }

  // ------------------------------------------------------------------ sections read from the API
  const table = (head, rows) => el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
                                   el("tbody", {}, rows));

  async function loadWindows() {
    const { windows } = await api("GET", "/api/v1/windows");
    fill("windows", table(["窗口", "名称", "状态", "工作人员", "当前号", "号的状态"], windows.map((w) => {
      const state = !w.staff ? "closed" : w.paused ? "paused" : "open";
      return el("tr", { class: "window-" + state, "data-window": w.number },
                el("td", { text: w.number }), el("td", { text: w.name }),
                el("td", { text: WINDOW_STATE[state] + (w.paused && w.pause_reason ? `（${w.pause_reason}）` : "") }),
                el("td", { text: w.staff || "—" }), el("td", { class: "number", text: w.current_number || "—" }),
                el("td", { text: TICKET_STATE[w.current_state] || "—" }));
    })));
  }

  async function loadTickets() {
    const { tickets } = await api("GET", "/api/v1/tickets?state=waiting&limit=100");
    for (const t of tickets) numbers.set(t.id, t.number);
    fill("tickets", tickets.length ? table(["号", "业务", "取号时间", "优先"], tickets.map((t) => el(
      "tr", { "data-ticket": t.id }, el("td", { class: "number", text: t.number }),
      el("td", { text: services.get(t.service) || t.service }), el("td", { text: clock(t.issued_at) }),
      el("td", { text: t.priority === "normal" ? "" : t.priority })))) : el("p", { class: "empty", text: "无人等候" }));
  }

  async function loadQueues() {
    const { queues } = await api("GET", "/api/v1/queues");
    for (const q of queues) services.set(q.service, q.name);
    return queues;
  }

  async function loadAlerts() {
    const { alerts } = await api("GET", "/api/v1/alerts");
    const current = alerts.filter((a) => a.state === "open" || a.state === "acknowledged");
    const weight = (a) => (a.level === "critical" ? 0 : 2) + (a.state === "open" ? 0 : 1);  // critical, unseen first
    current.sort((a, b) => weight(a) - weight(b) || b.raised_at - a.raised_at);
    const shown = current.slice(0, SHOWN);
    document.getElementById("alerts-count").textContent = countWords(current.length, shown.length);
    fill("alerts", shown.length ? table(["级别", "类型", "对象", "数据", "发生", "状态", "处理"], shown.map((a) => {
      const note = el("input", { type: "text", placeholder: "关闭说明（必填）", "aria-label": "关闭说明",
                                 class: "note-input" });
      const act = async (step) => {
        try {
          await api("POST", `/api/v1/alerts/${encodeURIComponent(a.id)}/${step}`,
                    step === "close" ? { note: note.value } : {});
          say("alerts-message", step === "ack" ? "预警已确认" : "预警已关闭", false);
        } catch (err) { say("alerts-message", err.message, true); }
        refresh("alerts");
      };
      return el("tr", { class: "alert-" + a.level, "data-alert": a.id },
                el("td", { text: a.level === "critical" ? "严重" : "警告" }), el("td", { text: ALERT_KIND[a.kind] || a.kind }),
                el("td", { text: a.subject }),
                el("td", { text: Object.entries(a.figures || {}).map(([k, v]) => `${k}: ${v}`).join("，") }),
                el("td", { text: clock(a.raised_at) }), el("td", { class: "state", text: ALERT_STATE[a.state] || a.state }),
                el("td", { class: "actions" },
                   a.state === "open" ? el("button", { type: "button", class: "ack", text: "确认", onclick: () => act("ack") }) : null,
                   note, el("button", { type: "button", class: "close", text: "关闭", onclick: () => act("close") })));
    })) : el("p", { class: "empty", text: "没有未处理的预警 / no open alerts" }));
  }

  async function loadFollowups() {
    const { followups } = await api("GET", "/api/v1/followups");
    const active = followups.filter((f) => f.state !== "closed" && f.state !== "overturned");
    active.sort((a, b) => (b.overdue - a.overdue) || a.deadline.localeCompare(b.deadline));
    const shown = active.slice(0, SHOWN);
    document.getElementById("followups-count").textContent = countWords(active.length, shown.length);
    fill("followups", shown.length ? table(["号", "评价", "部门", "状态", "期限", "处理说明 / 操作"], shown.map((f) => {
      const note = el("input", { type: "text", placeholder: "处理说明", "aria-label": "处理说明", class: "note-input" });
      const step = async (name) => {
        try {
          await api("POST", `/api/v1/followups/${encodeURIComponent(f.id)}/${name}`, { note: note.value });
          say("followups-message", `已${FOLLOWUP_STEPS.find((s) => s[0] === name)[2]}`, false);
        } catch (err) { say("followups-message", err.message, true); }
        refresh("followups");
      };
      const buttons = FOLLOWUP_STEPS.filter(([, from]) => from.includes(f.state)).map(([name, , words]) => el(
        "button", { type: "button", "data-step": name, text: words, onclick: () => step(name) }));
      return el("tr", { class: f.overdue ? "overdue" : "", "data-followup": f.id },
                el("td", { class: "number", text: numbers.get(f.ticket) || f.ticket }),
                el("td", { text: `${f.level} 星` }), el("td", { text: departments.get(f.department) || f.department || "—" }),
                el("td", { class: "state", text: FOLLOWUP_STATE[f.state] || f.state }),
                el("td", { text: f.deadline + (f.overdue ? "（已超期）" : "") }),
                el("td", { class: "actions" }, note, buttons));
    })) : el("p", { class: "empty", text: "没有待处理的差评 / no open follow-ups" }));
  }

  function deviceWords(d) {
    const words = DEVICE_STATE[d.state] || d.state;
    return `${d.device}：${words}` + (d.reason ? `（${d.reason}）` : "");
  }

  async function loadNodes() {
    const { nodes } = await api("GET", "/api/v1/nodes");
    // what needs a look first: a device wrong, then a node gone silent, then the healthy, then the never seen
    const rank = (n) => (n.devices.some((d) => d.state !== "ready" && d.state !== "connected") ? 0
                         : !n.online && n.last_seen ? 1 : n.online ? 2 : 3);
    nodes.sort((a, b) => rank(a) - rank(b) || a.node.localeCompare(b.node));
    fill("nodes", table(["终端", "角色", "在线", "最后心跳", "设备"], nodes.map((n) => {
      const bad = n.devices.filter((d) => d.state !== "ready" && d.state !== "connected");
      return el("tr", { class: !n.online ? "offline" : bad.length ? "faulty" : "" },
                el("td", { text: n.node }), el("td", { text: n.role + (n.window ? ` · ${n.window} 号窗口` : "") }),
                el("td", { text: n.online ? "在线" : n.last_seen ? "失联" : "未连接" }),
                el("td", { text: clock(n.last_seen) }),
                el("td", { text: n.devices.length ? n.devices.map(deviceWords).join("；") : "—" }));
    })));
  }

  async function loadAppointments() {
    const day = document.getElementById("appointments-day").value || today();
    const { appointments } = await api("GET", `/api/v1/appointments?day=${encodeURIComponent(day)}`);
    fill("appointments", appointments.length ? table(["时段", "业务", "预约人", "状态", "号"], appointments.map((a) => el(
      "tr", {}, el("td", { text: `${a.slot_start.slice(-5)}–${a.slot_end.slice(-5)}` }),
      el("td", { text: services.get(a.service) || a.service }), el("td", { text: a.holder_masked || "—" }),
      el("td", { text: APPOINTMENT_STATE[a.state] || a.state }),
      el("td", { text: a.ticket ? numbers.get(a.ticket) || "已出号" : "—" })))) :
      el("p", { class: "empty", text: `${day} 没有预约` }));
  }

  // ------------------------------------------------------------------ what an event changes
  const LOADERS = { windows: loadWindows, tickets: loadTickets, alerts: loadAlerts, followups: loadFollowups,
                    nodes: loadNodes, appointments: loadAppointments, queues: loadQueues };
  const SECTIONS_OF = [["ticket.", ["tickets", "windows"]], ["window.", ["windows"]], ["alert.", ["alerts"]],
                       ["case.", ["followups"]], ["rating.", ["followups"]], ["device.", ["nodes"]],
                       ["appointment.", ["appointments", "tickets"]], ["day.", ["tickets", "windows", "appointments"]]];
  const timers = {};

  const running = {};  // section → a read in flight; a burst meanwhile makes exactly one more read after it

  function refresh(section) {  // a burst of events reads a section once, and never two reads at a time
    if (running[section]) { running[section] = "again"; return; }
    clearTimeout(timers[section]);
    timers[section] = setTimeout(async () => {
      running[section] = true;
      try { await LOADERS[section](); } catch (err) { console.warn(section, err); }
      const again = running[section] === "again";
      running[section] = false;
      if (again) refresh(section);
    }, 250);
  }

  function noteActivity(event) {
    const data = event.data || {};
    if (data.ticket && data.number) numbers.set(data.ticket, data.number);
    const number = data.number || numbers.get(data.ticket) || "";
    const where = data.window ? `${data.window} 号窗口` : "";
    const what = EVENT_WORDS[event.type] || event.type;
    const list = document.getElementById("activity");
    list.prepend(el("li", { "data-event": event.id }, el("time", { text: clock(event.at) }), " ",
                    el("strong", { text: number }), " ", what, where ? ` · ${where}` : "",
                    data.service ? ` · ${services.get(data.service) || data.service}` : ""));
    while (list.children.length > 40) list.lastChild.remove();
  }

  function onEvent(event) {
    noteActivity(event);
    for (const [prefix, sections] of SECTIONS_OF) {
      if (event.type.startsWith(prefix)) sections.forEach(refresh);
    }
  }

  async function start() {
    const day = document.getElementById("appointments-day");
    day.value = today();
    day.addEventListener("change", () => refresh("appointments"));
    const queues = await api("GET", "/api/v1/queues");
    for (const q of queues.queues) services.set(q.service, q.name);
    showFigures(await api("GET", "/api/v1/stats/live"));
    await Promise.all([loadTickets(), loadWindows(), loadAlerts(), loadFollowups(), loadNodes(), loadAppointments()]);
    // the last few events as recent activity, then live; node heartbeats are not events: read them now and then
    new Feed({ after: Math.max(0, queues.last_event_id - 20), stats: true, onEvent,
               onStats: (message) => showFigures(message.live),
               onState: (live, since) => {
                 showFeedState(live, since);
                 if (!live) return;
                 // first time: mark the page ready (tests and the load benchmark wait on it); after a gap: read again
                 if (document.body.dataset.ready) Object.keys(LOADERS).forEach(refresh);
                 else document.body.dataset.ready = String(Math.round(performance.now()));
               } });
    setInterval(() => refresh("nodes"), 15000);
  }

  document.addEventListener("DOMContentLoaded", () => { start().catch((err) => say("alerts-message", err.message, true)); });
})();
