// Inline SVG charts drawn here (no chart library, no CDN): horizontal bars with their values written out,
// so a manager reads the figure without hovering and a screenshot shows it too.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The chart's root: an accessible SVG with its title, or, without items, one line saying there is no data.
  function frame(width, height, items, opts) {
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
                               "aria-label": opts.title || "" });
    if (opts.title) chart.append(svg("title", {}, opts.title));
    if (!items.length) chart.append(svg("text", { x: 4, y: 18, class: "chart-empty" }, "暂无数据 / no data"));
    return chart;
  }

  // items: [{label, value, note?, tone?}] ; value null is drawn as "—" with no bar.
  // options: {max (else the largest value), format(value) → text, title}
  function bars(items, options) {
    const opts = options || {};
    const rowHeight = 26, labelWidth = 130, valueWidth = 190, width = 600;
    const barWidth = width - labelWidth - valueWidth;
    const height = Math.max(rowHeight, items.length * rowHeight) + 4;
    const max = opts.max || Math.max(1, ...items.map((item) => item.value || 0));
    const format = opts.format || ((value) => String(value));
    const chart = frame(width, height, items, opts);
    if (!items.length) return chart;
    items.forEach((item, index) => {
      const y = index * rowHeight + 2;
      const label = item.label.length > 10 ? item.label.slice(0, 10) + "…" : item.label;
      chart.append(svg("text", { x: labelWidth - 8, y: y + 17, "text-anchor": "end", class: "chart-label" }, label));
      chart.append(svg("rect", { x: labelWidth, y: y + 4, width: barWidth, height: rowHeight - 8,
                                 class: "chart-track" }));
      if (item.value !== null && item.value !== undefined) {
        const w = Math.max(item.value > 0 ? 2 : 0, Math.round((item.value / max) * barWidth));
        chart.append(svg("rect", { x: labelWidth, y: y + 4, width: w, height: rowHeight - 8,
                                   class: "chart-bar " + (item.tone || "") }));
      }
      const shown = item.value === null || item.value === undefined ? "—" : format(item.value);
      chart.append(svg("text", { x: labelWidth + barWidth + 8, y: y + 17, class: "chart-value" },
                       shown + (item.note ? " " + item.note : "")));
    });
    return chart;
  }

  // Columns over an ordered axis (hours of the day): items [{label, value}], every label under its column.
  function columns(items, options) {
    const opts = options || {};
    const width = 520, height = 200, bottom = 24, top = 18;
    const max = opts.max || Math.max(1, ...items.map((item) => item.value || 0));
    const format = opts.format || ((value) => String(value));
    const chart = frame(width, height, items, opts);
    if (!items.length) return chart;
    const step = width / items.length;
    const labelEvery = step < 24 ? 2 : 1;  // 24 hours in 520 px: every other label, so none overlap
    items.forEach((item, index) => {
      const x = index * step;
      const h = item.value ? Math.max(2, ((height - bottom - top) * item.value) / max) : 0;
      chart.append(svg("rect", { x: x + step * 0.15, y: height - bottom - h, width: step * 0.7, height: h,
                                 class: "chart-bar" }));
      if (index % labelEvery === 0) {
        chart.append(svg("text", { x: x + step / 2, y: height - 8, "text-anchor": "middle", class: "chart-label" },
                         item.label));
      }
      if (item.value !== null && item.value !== undefined) {  // a 0 is a figure; no data (null) stays blank
        chart.append(svg("text", { x: x + step / 2, y: height - bottom - h - 4, "text-anchor": "middle",
                                   class: "chart-value" }, format(item.value)));
      }
    });
    return chart;
  }

  return { bars, columns };
})();
