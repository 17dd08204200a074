/* Shared helpers: API calls with the CSRF header, Thai (Buddhist-era) dates, live events.
   Caller text is only ever put into the page with textContent, never as HTML. */
"use strict";

const H = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const MONTHS = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."];
  const STATUS = {
    draft: "ร่าง", confirmed: "ยืนยันแล้ว", routed: "ส่งต่อแล้ว", in_progress: "กำลังดำเนินการ",
    resolved: "แก้ไขแล้ว", closed: "ปิดเรื่อง", rejected: "ปฏิเสธ", duplicate: "เรื่องซ้ำ", reopened: "เปิดใหม่",
  };
  const FIELD = {
    category: "ประเภทเรื่อง", province_code: "จังหวัด", district_code: "อำเภอ/เขต", caller_phone: "เบอร์โทร",
    citizen_id: "เลขประจำตัวประชาชน", description: "รายละเอียด", urgent: "เรื่องด่วน", agency_code: "หน่วยงาน",
    reason: "เหตุผล", duplicate_of: "เลขที่เรื่องเดิม", resolution: "ผลการแก้ไข", message: "ข้อความ",
  };

  class ApiError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || {};
      super(err.message || ("HTTP " + status));
      this.status = status; this.code = err.code || "http_" + status; this.field = err.field || null;
      this.body = body || {};
    }
  }

  function toLogin() {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") { headers["X-CSRF-Token"] = csrf; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    } catch (e) {
      throw new ApiError(0, { error: { code: "network", message: "เชื่อมต่อเซิร์ฟเวอร์ไม่ได้" } });
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.status === 401) { toLogin(); throw new ApiError(401, data); }
    if (!response.ok) { throw new ApiError(response.status, data); }
    return data;
  }

  /* Thai text for an API error: the conflict, permission and validation cases get their own. */
  function explain(err) {
    if (err.code === "stale_version") {
      return "บันทึกไม่สำเร็จ: มีผู้อื่นแก้ไขเรื่องนี้ก่อนคุณ ข้อมูลของคุณยังไม่ถูกบันทึกและไม่มีสิ่งใดถูกเขียนทับ กด “โหลดฉบับล่าสุด” เพื่อดูข้อมูลปัจจุบัน";
    }
    if (err.code === "claimed") { return "มีเจ้าหน้าที่คนอื่นกำลังทำเรื่องนี้อยู่"; }
    if (err.code === "network") { return "เชื่อมต่อเซิร์ฟเวอร์ไม่ได้ กรุณาลองอีกครั้ง"; }
    if (err.status === 403) { return "คุณไม่มีสิทธิ์ทำรายการนี้"; }
    if (err.status === 404) { return "ไม่พบเรื่องนี้"; }
    if (err.status === 409) { return "ทำรายการนี้ไม่ได้ในสถานะปัจจุบันของเรื่อง (" + err.message + ")"; }
    if (err.status === 422 && err.field) { return "ข้อมูลในช่อง “" + (FIELD[err.field] || err.field) + "” ไม่ถูกต้อง (" + err.message + ")"; }
    return "เกิดข้อผิดพลาด: " + err.message;
  }

  /* Bangkok is UTC+7 all year: format by shifting, so the result never depends on the PC's zone. */
  function bangkok(iso) { const d = new Date(iso); return new Date(d.getTime() + 7 * 3600 * 1000); }
  function pad(n) { return String(n).padStart(2, "0"); }
  function dateTime(iso) {
    if (!iso) { return "—"; }
    const b = bangkok(iso);
    return b.getUTCDate() + " " + MONTHS[b.getUTCMonth()] + " " + (b.getUTCFullYear() + 543) + " " + pad(b.getUTCHours()) + ":" + pad(b.getUTCMinutes()) + " น.";
  }
  function time(iso) { if (!iso) { return "—"; } const b = bangkok(iso); return pad(b.getUTCHours()) + ":" + pad(b.getUTCMinutes()) + " น."; }
  function dayLabel(isoDay) {
    const [y, m, d] = isoDay.split("-").map(Number);
    return d + " " + MONTHS[m - 1];
  }
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) { return seconds + " วินาที"; }
    if (seconds < 3600) { return Math.floor(seconds / 60) + " นาที"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " ชม. " + Math.floor((seconds % 3600) / 60) + " นาที"; }
    return Math.floor(seconds / 86400) + " วัน";
  }
  function age(iso) { return duration((Date.now() - new Date(iso).getTime()) / 1000); }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) { continue; }
      if (k === "class") { node.className = v; } else if (k === "text") { node.textContent = v; } else { node.setAttribute(k, v === true ? "" : v); }
    }
    for (const child of children) {
      if (child === null || child === undefined) { continue; }
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  let toastTimer = null;
  function toast(message, kind) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.className = "toast " + (kind || "ok");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  /* Live events over SSE. The browser reconnects by itself; when a reconnect fails we check
     whether the session ended (then go to sign-in, keeping the page as the target). */
  function live(onEvent, onHello) {
    const status = document.getElementById("live-status");
    let source = null;
    function show(text, ok) { status.hidden = false; status.textContent = text; status.className = "live " + (ok ? "on" : "off"); }
    function open() {
      source = new EventSource("/console/live");
      source.addEventListener("hello", () => { show("● สด", true); if (onHello) { onHello(); } });
      source.addEventListener("hotline", (e) => {
        let msg; try { msg = JSON.parse(e.data); } catch (err) { return; }
        onEvent(msg);
      });
      source.addEventListener("reload", () => { source.close(); window.location.reload(); });
      source.addEventListener("signed_out", () => { source.close(); window.location.assign("/login"); });
      source.onerror = async () => {
        show("○ ขาดการเชื่อมต่อ กำลังเชื่อมใหม่…", false);
        if (source.readyState === EventSource.CLOSED) {
          try { await api("GET", "/console/api/queue"); } catch (err) { if (err.status === 401) { return; } }
          setTimeout(open, 3000);
        }
      };
    }
    open();
    return () => source && source.close();
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function typingIn(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  return { api, ApiError, explain, dateTime, time, dayLabel, duration, age, el, toast, live, debounce, typingIn, STATUS, FIELD };
})();
