// Reports: the table of the chosen period and grouping from GET /api/v1/reports, its CSV and XLSX from the
// same route (format=csv|xlsx, so a download holds exactly what the table shows), and the three charts a
// manager would rather look at: wait by hour, satisfaction by department, handled by window.
"use strict";

(() => {
  const { api, el, fill, duration, percent, say } = Console;

  const query = (by, extra) => new URLSearchParams({ period: document.getElementById("period").value,
                                                     date: document.getElementById("date").value, by, ...extra });
  const minutes = (s) => (s === null || s === undefined ? null : Math.round(s / 6) / 10);
  const upto = (b, i, all) => (b.upto_s === null ? `>${Math.round(all[i - 1].upto_s / 60)}′`
                                                 : `≤${Math.round(b.upto_s / 60)}′`);

  function table(report) {
    const head = ["名称", "办件量", "办结率", "满意率", "等候 平均", "等候 中位", "等候 P90", "办理 平均",
                  "办理 中位", "办理 P90"];
    const row = (r, total) => el("tr", { class: total ? "total" : "", "data-key": r.key },
      el("td", { text: r.label }), el("td", { class: "handled", text: r.handled }),
      el("td", { text: percent(r.completion_rate) }), el("td", { text: percent(r.satisfaction) }),
      ...["mean", "p50", "p90"].map((k) => el("td", { text: duration(r.wait_s[k]) })),
      ...["mean", "p50", "p90"].map((k) => el("td", { text: duration(r.handling_s[k]) })));
    return el("table", { class: "report-table" },
              el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
              el("tbody", {}, report.rows.map((r) => row(r, false)), row(report.totals, true)));
  }

  async function show() {
    const by = document.getElementById("by").value;
    say("report-message", "读取中… / loading", false);
    const [main, hours, departments, windows] = await Promise.all([
      api("GET", `/api/v1/reports?${query(by)}`), api("GET", `/api/v1/reports?${query("hour")}`),
      api("GET", `/api/v1/reports?${query("department")}`), api("GET", `/api/v1/reports?${query("window")}`)]);
    document.getElementById("range").textContent = main.from === main.to ? main.from : `${main.from} – ${main.to}`;
    document.getElementById("csv").href = `/api/v1/reports?${query(by, { format: "csv" })}`;
    document.getElementById("xlsx").href = `/api/v1/reports?${query(by, { format: "xlsx" })}`;
    fill("report-table", table(main));
    fill("wait-chart", Charts.columns(hours.rows.map((r) => ({ label: r.key, value: minutes(r.wait_s.p50) })),
      { title: "各时段（取号时刻）等候时间中位数，分钟", format: (v) => `${v}′` }));
    fill("satisfaction-chart", Charts.bars(departments.rows.map((r) => ({ label: r.label, value: r.satisfaction })),
      { title: "各部门满意率", max: 1, format: percent }));
    fill("handled-chart", Charts.bars(windows.rows.map((r) => ({ label: r.label, value: r.handled })),
      { title: "各窗口办件量", format: (v) => `${v} 件` }));
    const buckets = main.totals.wait_s.histogram;
    fill("histogram-chart", Charts.columns(buckets.map((b, i) => ({ label: upto(b, i, buckets), value: b.count })),
      { title: "等候时间分布（件）" }));
    say("report-message", `共 ${main.rows.length} 行 · 办件量合计 ${main.totals.handled}`, false);
    document.body.dataset.ready = String(Math.round(performance.now()));  // the load benchmark waits on it
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(window.location.search);
    document.getElementById("date").value = params.get("date") || Console.today();
    for (const name of ["period", "by"]) if (params.get(name)) document.getElementById(name).value = params.get(name);
    const run = () => show().catch((err) => say("report-message", err.message, true));
    document.getElementById("report-form").addEventListener("submit", (event) => {
      event.preventDefault();
      history.replaceState(null, "", `?${query(document.getElementById("by").value)}`);
      run();
    });
    run();
  });
})();
