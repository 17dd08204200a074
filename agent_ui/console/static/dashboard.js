/* Supervisor dashboard: figures reload when live events arrive (debounced), never on a timer. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#7a4fa3", "#4a8c9c", "#8a8a8a"];
  const names = { category: new Map(), province_code: new Map(), agency_code: new Map() };
  let figures = null;
  let loadedAt = 0;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) { node.setAttribute(k, String(v)); }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function label(group, key) {
    if (key === "other") { return "อื่น ๆ"; }
    if (key === "unknown") { return group === "agency_code" ? "ยังไม่ส่งต่อ" : "ไม่ระบุ"; }
    return names[group].get(key) || key;
  }

  function setTile(key, value, sub) {
    const node = document.querySelector('[data-metric="' + key + '"]');
    if (node.textContent !== String(value)) {
      node.textContent = String(value);
      node.parentElement.classList.remove("changed"); void node.offsetWidth; node.parentElement.classList.add("changed");
    }
    document.querySelector('[data-sub="' + key + '"]').textContent = sub || "";
  }

  function render() {
    const s = figures.summary;
    const since = (Date.now() - loadedAt) / 1000;
    setTile("calls_in_ivr", s.calls_in_ivr);
    setTile("calls_today", s.calls_today);
    setTile("abandoned_today", s.abandoned_today, s.calls_today ? Math.round(100 * s.abandoned_today / s.calls_today) + "% ของสายวันนี้" : "");
    setTile("drafts_waiting", s.drafts_waiting, s.drafts_waiting ? "เก่าสุด " + H.duration(s.oldest_draft_seconds + since) : "ไม่มีร่างค้าง");
    setTile("avg_confirm", s.avg_confirm_seconds_24h ? H.duration(s.avg_confirm_seconds_24h) : "–", "24 ชม. ล่าสุด");
    setTile("urgent_open", s.urgent_open);
    setTile("sla_breaches", s.sla_breaches);
    const asr = figures.asr;
    setTile("asr", asr.waiting + asr.pending, asr.unavailable ? "ไม่ทราบ (Redis ไม่ตอบ)" : (asr.oldest_seconds ? "เก่าสุด " + H.duration(asr.oldest_seconds) : "ไม่มีงานค้าง"));
    setTile("open_tickets", s.open_tickets);
    setTile("recording_failures_24h", s.recording_failures_24h || 0, s.recording_failures_24h ? "ตรวจที่เก็บไฟล์เสียง" : "ปกติ");
    document.getElementById("tile-recording_failures_24h").classList.toggle("alarm", s.recording_failures_24h > 0);
    document.getElementById("tile-urgent_open").classList.toggle("alarm", s.urgent_open > 0);
    document.getElementById("tile-sla_breaches").classList.toggle("alarm", s.sla_breaches > 0);
    ageChart(figures.backlog_by_age);
    timeChart();
    activity(figures.activity);
    $("updated").textContent = "ข้อมูล ณ " + H.dateTime(figures.generated_at).replace(" น.", ":" + String(new Date(figures.generated_at).getUTCSeconds()).padStart(2, "0") + " น.");
  }

  function ageChart(buckets) {
    const W = 360, Hh = 200, pad = 30;
    const entries = Object.entries(buckets);
    const max = Math.max(1, ...entries.map(([, v]) => v));
    const box = svg("svg", { viewBox: "0 0 " + W + " " + Hh, role: "img", "aria-label": entries.map(([k, v]) => k + " วัน: " + v).join(", ") });
    const bw = (W - pad * 2) / entries.length;
    const labels = { "0-7": "0–7 วัน", "8-15": "8–15 วัน", "16-30": "16–30 วัน", "31+": "เกิน 30 วัน" };
    entries.forEach(([k, v], i) => {
      const h = (Hh - 60) * v / max;
      const x = pad + i * bw + 8;
      box.append(svg("rect", { x, y: Hh - 30 - h, width: bw - 16, height: h, fill: i === 3 ? "#b03a48" : COLORS[0] }));
      box.append(svg("text", { x: x + (bw - 16) / 2, y: Hh - 34 - h, "text-anchor": "middle", class: "val" }, String(v)));
      box.append(svg("text", { x: x + (bw - 16) / 2, y: Hh - 12, "text-anchor": "middle" }, labels[k] || k));
    });
    $("c-age").replaceChildren(box);
  }

  function timeChart() {
    const group = $("c-time-group").value;
    const data = figures.over_time[group];
    const W = 760, Hh = 220, left = 34, bottom = 26;
    const keys = Object.keys(data.series);
    const days = data.days;
    const totals = days.map((_, i) => keys.reduce((n, k) => n + data.series[k][i], 0));
    const step = Math.max(1, Math.ceil(Math.max(1, ...totals) / 4));
    const max = step * 4;  // whole-number gridlines
    const box = svg("svg", { viewBox: "0 0 " + W + " " + Hh, role: "img", "aria-label": "เรื่องใหม่ต่อวัน แยกตาม" + $("c-time-group").selectedOptions[0].textContent });
    const bw = (W - left - 10) / days.length;
    for (let g = 0; g <= 4; g++) {
      const y = Hh - bottom - (Hh - bottom - 14) * g / 4;
      box.append(svg("line", { x1: left, x2: W - 10, y1: y, y2: y, class: "grid" }));
      box.append(svg("text", { x: left - 4, y: y + 4, "text-anchor": "end", class: "axis" }, String(step * g)));
    }
    days.forEach((day, i) => {
      let y = Hh - bottom;
      keys.forEach((k, ki) => {
        const v = data.series[k][i];
        if (!v) { return; }
        const h = (Hh - bottom - 14) * v / max;
        y -= h;
        const rect = svg("rect", { x: left + i * bw + 3, y, width: bw - 6, height: h, fill: COLORS[ki % COLORS.length] });
        rect.append(svg("title", {}, H.dayLabel(day) + " · " + label(group, k) + ": " + v));
        box.append(rect);
      });
      if (i % 2 === 0 || days.length <= 8) { box.append(svg("text", { x: left + i * bw + bw / 2, y: Hh - 8, "text-anchor": "middle", class: "axis" }, H.dayLabel(day))); }
    });
    $("c-time").replaceChildren(box);
    const legend = $("c-time-legend");
    legend.replaceChildren();
    keys.forEach((k, ki) => {
      const sw = H.el("span", { class: "swatch c" + (ki % COLORS.length) });
      legend.append(H.el("li", {}, sw, label(group, k) + " (" + data.series[k].reduce((a, b) => a + b, 0) + ")"));
    });
    if (!keys.length) { legend.append(H.el("li", { class: "muted", text: "ยังไม่มีเรื่องใน 14 วันนี้" })); }
  }

  function activity(rows) {
    const body = $("activity");
    body.replaceChildren();
    for (const r of rows) {
      body.append(H.el("tr", {}, H.el("th", { scope: "row", text: r.actor }), ...["confirmed", "routed", "resolved", "rejected", "duplicate", "edited"].map((k) => H.el("td", { text: String(r[k]) }))));
    }
    if (!rows.length) { body.append(H.el("tr", {}, H.el("td", { colspan: "7", class: "muted", text: "ยังไม่มีงานวันนี้" }))); }
  }

  async function load() {
    figures = await H.api("GET", "/console/api/dashboard");
    loadedAt = Date.now();
    render();
  }
  const reload = H.debounce(() => load().catch((e) => H.toast(H.explain(e), "bad")), 700);

  async function main() {
    const cat = await H.api("GET", "/api/v1/catalog");
    for (const c of cat.categories) { names.category.set(c.code, c.name_th); }
    for (const p of cat.provinces) { names.province_code.set(p.code, p.name_th); }
    for (const a of cat.agencies) { names.agency_code.set(a.code, a.name_th); }
    $("c-time-group").addEventListener("change", timeChart);
    await load();
    // One stream for the page: the wallboard (call and agent events) and the figures below.
    H.live((msg) => { Wallboard.onEvent(msg); if (msg.type !== "asr.partial") { reload(); } }, () => { Wallboard.load(); reload(); });
    // Ages advance with the clock even when nothing happens: redraw locally, no server call.
    setInterval(() => { if (figures) { render(); } }, 30000);
  }
  main().catch((e) => H.toast(e instanceof H.ApiError ? H.explain(e) : String(e), "bad"));
})();
