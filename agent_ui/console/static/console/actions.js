/* The call-taker's console: What the officer does with a ticket: confirm, route, resolve, duplicate, reject, reopen; updates, history, timeline. */

import { $, role, state, showError } from "./state.js";
import { codeFrom, categoryName, provinceName } from "./catalog.js";
import { refreshQueue } from "./queue.js";
import { openTicket, setFieldMsg, showFieldErrors, save, handleActionError, refreshTicket } from "./ticket.js";

export async function transition(body) {
  const t = state.ticket;
  const updated = await H.api("POST", "/api/v1/tickets/" + t.reference + "/transitions", Object.assign({ version: t.version }, body));
  Object.assign(t, updated);
  return updated;
}

export async function confirmTicket() {
  const t = state.ticket;
  if (!t || t.status !== "draft" || state.readOnly) { return; }
  if (!$("f-category").value) { showFieldErrors({ category: "เลือกประเภทเรื่องก่อนยืนยัน" }); return; }
  if (!(await save(true))) { return; }
  try {
    await transition({ to: "confirmed" });
    state.claimed = false; clearInterval(state.renewTimer);
    H.toast("ยืนยันเรื่อง " + t.reference + " แล้ว เลือกหน่วยงานเพื่อส่งต่อ");
    await refreshTicket();
    refreshQueue();
    routeTicket();
  } catch (err) { handleActionError(err); }
}

export async function routeTicket() {
  const t = state.ticket;
  if (!t || !["confirmed", "routed", "reopened"].includes(t.status) || state.readOnly) { return; }
  let suggestion = null;
  try { suggestion = await H.api("GET", "/api/v1/tickets/" + t.reference + "/suggested-agency"); } catch (err) { /* route without one */ }
  $("d-route-suggest").textContent = suggestion ? "ระบบแนะนำ: " + suggestion.name_th + " (กฎการส่งต่อ: " + suggestion.rule + ")" : "";
  $("route-agency").value = suggestion ? suggestion.agency_code + " " + suggestion.name_th : "";
  $("route-note").value = ""; setFieldMsg("route", "");
  const ok = await ask("d-route", () => {
    const code = codeFrom($("route-agency").value, state.agencies);
    if (!code) { setFieldMsg("route", "เลือกหน่วยงานจากรายการ", "bad"); return false; }
    return true;
  });
  if (!ok) { return; }
  try {
    const updated = await H.api("POST", "/api/v1/tickets/" + t.reference + "/routing", { agency_code: codeFrom($("route-agency").value, state.agencies), note: $("route-note").value, version: t.version });
    Object.assign(t, updated);
    H.toast("ส่งต่อเรื่อง " + t.reference + " ให้ " + (state.agencies.get(updated.agency_code) || {}).name_th + " แล้ว");
    await refreshTicket();
  } catch (err) { handleActionError(err); }
}

export async function resolveTicket() {
  const t = state.ticket;
  if (!t || state.readOnly) { return; }
  if (t.status === "draft" && !$("f-category").value) { showFieldErrors({ category: "เลือกประเภทเรื่องก่อนตอบจบ" }); return; }
  $("resolve-text").value = ""; setFieldMsg("resolve", "");
  const ok = await ask("d-resolve", () => {
    if (!$("resolve-text").value.trim()) { setFieldMsg("resolve", "กรุณากรอกคำตอบที่แจ้งผู้ร้อง", "bad"); return false; }
    return true;
  });
  if (!ok) { return; }
  try {
    if (t.status === "draft") {
      if (!(await save(true))) { return; }
      await transition({ to: "confirmed" });
      state.claimed = false; clearInterval(state.renewTimer);
    }
    await transition({ to: "resolved", resolution: $("resolve-text").value });
    H.toast("บันทึกผลเรื่อง " + t.reference + " แล้ว");
    await refreshTicket(); refreshQueue();
  } catch (err) { handleActionError(err); }
}

export async function duplicateTicket() {
  const t = state.ticket;
  if (!t || state.readOnly || ["resolved", "closed", "rejected", "duplicate"].includes(t.status)) { return; }
  $("duplicate-ref").value = ""; setFieldMsg("duplicate", "");
  const ok = await ask("d-duplicate", () => {
    const v = $("duplicate-ref").value.replace(/[\s-]/g, "");
    if (!/^\d{6,}$/.test(v)) { setFieldMsg("duplicate", "กรอกเลขที่เรื่องเดิมเป็นตัวเลข", "bad"); return false; }
    if (v === t.reference) { setFieldMsg("duplicate", "เลือกเรื่องอื่น ไม่ใช่เรื่องนี้", "bad"); return false; }
    return true;
  });
  if (!ok) { return; }
  try {
    await transition({ to: "duplicate", duplicate_of: $("duplicate-ref").value.replace(/[\s-]/g, "") });
    state.claimed = false; clearInterval(state.renewTimer);
    H.toast("บันทึกว่า " + t.reference + " เป็นเรื่องซ้ำแล้ว");
    await refreshTicket(); refreshQueue();
  } catch (err) { handleActionError(err); }
}

export async function rejectTicket() {
  const t = state.ticket;
  if (!t || state.readOnly || t.status !== "draft") { return; }
  $("reject-text").value = ""; setFieldMsg("reject", "");
  const ok = await ask("d-reject", () => {
    if ($("reject-kind").value === "อื่น ๆ" && !$("reject-text").value.trim()) { setFieldMsg("reject", "กรุณาระบุเหตุผล", "bad"); return false; }
    return true;
  });
  if (!ok) { return; }
  const reason = $("reject-kind").value + ($("reject-text").value.trim() ? ": " + $("reject-text").value.trim() : "");
  try {
    await transition({ to: "rejected", reason });
    state.claimed = false; clearInterval(state.renewTimer);
    H.toast("ปฏิเสธเรื่อง " + t.reference + " แล้ว");
    await refreshTicket(); refreshQueue();
  } catch (err) { handleActionError(err); }
}

export async function reopenTicket() {
  const t = state.ticket;
  if (!t || !["resolved", "closed"].includes(t.status)) { return; }
  $("reopen-text").value = ""; setFieldMsg("reopen", "");
  const ok = await ask("d-reopen", () => {
    if (!$("reopen-text").value.trim()) { setFieldMsg("reopen", "กรุณาระบุเหตุผล", "bad"); return false; }
    return true;
  });
  if (!ok) { return; }
  try {
    await transition({ to: "reopened", reason: $("reopen-text").value });
    H.toast("เปิดเรื่อง " + t.reference + " ใหม่แล้ว");
    await refreshTicket();
  } catch (err) { handleActionError(err); }
}

/* A <dialog> as a question: resolves true on OK when ``check`` passes. */
export function ask(id, check) {
  const dialog = $(id);
  return new Promise((resolve) => {
    const form = dialog.querySelector("form");
    function onSubmit(e) {
      const ok = e.submitter && e.submitter.value === "ok";
      if (ok && !check()) { e.preventDefault(); return; }
      cleanup(); resolve(ok);
    }
    function onCancel() { cleanup(); resolve(false); }
    function cleanup() { form.removeEventListener("submit", onSubmit); dialog.removeEventListener("cancel", onCancel); }
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    const first = dialog.querySelector("input,textarea,select");
    if (first) { first.focus(); }
  });
}

export async function addUpdate(e) {
  e.preventDefault();
  const t = state.ticket;
  const message = $("u-message").value.trim();
  if (!message) { setFieldMsg("message", "กรุณากรอกข้อความ", "bad"); $("u-message").focus(); return; }
  try {
    await H.api("POST", "/api/v1/tickets/" + t.reference + "/updates", { message, channel: $("u-channel").value });
    $("u-message").value = ""; setFieldMsg("message", "");
    H.toast("บันทึกการแจ้งความคืบหน้าแล้ว");
    await refreshTicket();
  } catch (err) { showError(err); }
}

export async function loadHistory(reference) {
  const list = $("history");
  list.replaceChildren(H.el("li", { class: "muted", text: "กำลังค้นหา…" }));
  try {
    const data = await H.api("GET", "/console/api/tickets/" + reference + "/history");
    if (!state.ticket || state.ticket.reference !== reference) { return; }
    list.replaceChildren();
    if (!data.items.length) { list.append(H.el("li", { class: "muted", text: "ไม่มีเรื่องอื่นจากเบอร์นี้" })); }
    for (const item of data.items) {
      const link = H.el("a", { href: "/tickets/" + item.reference, text: item.reference });
      link.addEventListener("click", (e) => { e.preventDefault(); openTicket(item.reference); });
      list.append(H.el("li", {}, link, " ", H.el("span", { class: "badge st-" + item.status, text: H.STATUS[item.status] || item.status }), " " + H.dateTime(item.created_at) + " · " + categoryName(item.category) + " — ", H.el("span", { class: "muted", text: (item.description || "").slice(0, 80) })));
    }
  } catch (err) { list.replaceChildren(H.el("li", { class: "muted", text: H.explain(err) })); }
}
export function renderUpdates(t) {
  const list = $("updates");
  list.replaceChildren();
  for (const u of t.updates || []) { list.append(H.el("li", {}, H.el("span", { class: "muted", text: H.dateTime(u.created_at) + " · " + u.created_by + " · " + u.channel + ": " }), u.message)); }
  if (!(t.updates || []).length) { list.append(H.el("li", { class: "muted", text: "ยังไม่ได้แจ้งความคืบหน้า" })); }
  $("update-form").hidden = ["draft", "rejected", "duplicate"].includes(t.status) || role === "admin";
}
export const ACTION = {
  created: "สร้างเรื่อง", edited: "แก้ไขข้อมูล", routed: "ส่งต่อหน่วยงาน", citizen_update: "แจ้งความคืบหน้าแก่ผู้ร้อง",
  "asr:done": "ถอดความเสร็จ", "asr:failed": "ถอดความไม่สำเร็จ", "asr:streaming": "กำลังถอดความ", "asr:pending": "รอถอดความ",
};
export function describeChange(e) {
  const parts = [];
  for (const [k, v] of Object.entries(e.after || {})) {
    if (k === "status" || (e.before && e.before[k] === v)) { continue; }
    let text = v === null || v === undefined ? "—" : String(v);
    if (k === "category") { text = categoryName(v); } else if (k === "province_code") { text = provinceName(v) || text; } else if (k === "agency_code") { text = (state.agencies.get(v) || {}).name_th || text; } else if (k === "description" || k === "message") { text = text.slice(0, 60) + (text.length > 60 ? "…" : ""); }
    parts.push((H.FIELD[k] || k) + ": " + text);
  }
  return parts.join(" · ");
}
export function renderTimeline(t) {
  const list = $("timeline");
  list.replaceChildren();
  for (const e of (t.audit || []).slice().reverse()) {
    const name = e.action.startsWith("status:") ? "เปลี่ยนสถานะเป็น “" + (H.STATUS[e.action.slice(7)] || e.action.slice(7)) + "”" : (ACTION[e.action] || e.action);
    list.append(H.el("li", {}, H.el("span", { class: "when", text: H.dateTime(e.at) }), " ", H.el("strong", { text: name }), " โดย " + e.actor, H.el("div", { class: "muted", text: describeChange(e) })));
  }
}
