/* The call-taker's console: The ticket pane: open and claim, render, the form and its checks, save. */

import { $, role, UNSURE_WORD, UNSURE_FIELD, CLAIM_RENEW_MS, state, showAlert, hideAlert, showError } from "./state.js";
import { placeLabel, fillDistricts, codeFrom } from "./catalog.js";
import { loadHistory, renderUpdates, renderTimeline } from "./actions.js";

// --- the ticket pane ------------------------------------------------------------------------
export async function openTicket(reference) {
  if (state.ticket && state.ticket.reference === reference) { return; }
  await releaseClaim();
  let ticket;
  try { ticket = await H.api("GET", "/api/v1/tickets/" + encodeURIComponent(reference)); }
  catch (err) { showError(err); return; }
  state.ticket = ticket; state.claimed = false; state.readOnly = false; state.dirtyRemote = false;
  hideAlert();
  if (ticket.status === "draft") {
    try {
      const claim = await H.api("POST", "/console/api/tickets/" + ticket.reference + "/claim");
      state.ticket = Object.assign(ticket, pickClaim(claim.ticket));
      state.claimed = true;
      scheduleRenew();
    } catch (err) {
      if (err.code === "claimed") {
        state.readOnly = true;
        const h = err.body.error.holder;
        showAlert("เรื่องนี้มีเจ้าหน้าที่ " + (h ? h.display_name : "คนอื่น") + " กำลังทำอยู่" + (h ? " (ถึง " + H.time(h.expires_at) + ")" : "") + " — เปิดดูได้อย่างเดียว");
      } else { showError(err); }
    }
  }
  history.replaceState(null, "", "/tickets/" + ticket.reference);
  renderTicket();
  loadHistory(ticket.reference);
}
export function pickClaim(t) { return { version: t.version, claimed_by: t.claimed_by, claim_expires_at: t.claim_expires_at }; }

export function scheduleRenew() {
  clearInterval(state.renewTimer);
  state.renewTimer = setInterval(renewClaim, CLAIM_RENEW_MS);
}
export async function renewClaim() {
  const t = state.ticket;
  if (!t || !state.claimed || t.status !== "draft") { clearInterval(state.renewTimer); return; }
  try {
    const claim = await H.api("POST", "/console/api/tickets/" + t.reference + "/claim");
    // A claim bumps the version; adopt it only if nothing else changed meanwhile, so that
    // someone else's edit still makes our next save a conflict instead of overwriting it.
    if (claim.ticket.version === t.version + 1) { Object.assign(t, pickClaim(claim.ticket)); }
    renderClaim();
  } catch (err) {
    if (err.code === "claimed") { claimLost(err); } else if (err.status !== 401) { showError(err); }
  }
}
export function claimLost(err) {
  state.claimed = false; state.readOnly = true;
  clearInterval(state.renewTimer);
  const h = err && err.body && err.body.error ? err.body.error.holder : null;
  showAlert("สิทธิ์ทำเรื่องนี้ของคุณหมดอายุแล้ว และ " + (h ? h.display_name : "เจ้าหน้าที่คนอื่น") + " รับเรื่องไปทำแทน สิ่งที่ยังไม่บันทึกจะไม่ถูกบันทึก", true);
  setEditable(false);
  renderClaim();
}
export async function releaseClaim() {
  clearInterval(state.renewTimer);
  const t = state.ticket;
  if (t && state.claimed && t.status === "draft") {
    state.claimed = false;
    try { await H.api("POST", "/console/api/tickets/" + t.reference + "/release"); } catch (err) { /* it expires by itself */ }
  }
}

export function renderTicket() {
  const t = state.ticket;
  $("pane-empty").hidden = true; $("pane-body").hidden = false;
  $("t-ref").textContent = t.reference;
  $("t-status").textContent = H.STATUS[t.status] || t.status;
  $("t-status").className = "badge st-" + t.status;
  $("t-urgent").hidden = !t.urgent;
  $("t-created").textContent = "รับเรื่อง " + H.dateTime(t.created_at) + " · ช่องทาง " + ({ phone: "โทรศัพท์", web: "เว็บ", api: "ระบบอื่น", walk_in: "walk-in" }[t.channel] || t.channel);
  renderClaim();
  renderPlayer(t);
  renderTranscript(t);
  fillForm(t);
  const isDraft = t.status === "draft";
  const isOpen = ["confirmed", "routed", "in_progress", "reopened"].includes(t.status);
  $("draft-actions").hidden = !isDraft;
  $("open-actions").hidden = isDraft;
  $("a-route").hidden = !["confirmed", "routed", "reopened"].includes(t.status);
  $("a-resolve2").hidden = !isOpen;
  $("a-reopen").hidden = !["resolved", "closed"].includes(t.status);
  setEditable(!state.readOnly && (isDraft || isOpen) && role !== "admin");
  renderUpdates(t); renderTimeline(t);
}
export function renderClaim() {
  const t = state.ticket;
  const node = $("t-claim");
  if (t.status !== "draft") { node.textContent = ""; return; }
  node.textContent = state.claimed ? "คุณรับเรื่องนี้ไว้ถึง " + H.time(t.claim_expires_at) : (state.readOnly ? "อ่านอย่างเดียว" : "");
}
export function renderPlayer(t) {
  const player = $("player");
  if (t.recording_id && role !== "admin") {
    player.hidden = false; $("no-recording").hidden = true;
    const src = "/recordings/" + t.recording_id;
    if (player.getAttribute("src") !== src) { player.setAttribute("src", src); }
  } else {
    player.pause(); player.removeAttribute("src"); player.hidden = true; $("no-recording").hidden = false;
  }
}
export function renderTranscript(t) {
  const box = $("transcript");
  box.replaceChildren();
  state.words = [];
  const words = t.transcript_words || [];
  if (words.length) {
    words.forEach((w, i) => {
      const span = H.el("span", { class: "word" + (w.conf !== undefined && w.conf < UNSURE_WORD ? " unsure" : ""), "data-i": String(i), title: w.conf !== undefined ? "ความมั่นใจ " + Math.round(w.conf * 100) + "%" : null, text: w.word !== undefined ? w.word : (w.text || "") });
      span.addEventListener("click", () => { const p = $("player"); if (!p.hidden) { p.currentTime = Number(w.start) || 0; p.play().catch(() => {}); } });
      box.append(span, " ");
      state.words.push({ start: Number(w.start) || 0, end: Number(w.end) || 0, node: span });
    });
  } else {
    box.textContent = t.transcript || "";
  }
  const asr = { none: "", pending: "กำลังรอถอดความ…", streaming: "กำลังถอดความ…", done: "", failed: "ถอดความไม่สำเร็จ: ฟังเสียงแล้วกรอกเอง", no_model: "ไม่มีระบบถอดความ: ฟังเสียงแล้วกรอกเอง" }[t.asr_status] || "";
  $("asr-state").textContent = asr;
}
let spoken = null;
export function highlight() {
  const at = $("player").currentTime;
  const w = state.words.find((x) => at >= x.start && at < x.end);
  const node = w ? w.node : null;
  if (node !== spoken) {
    if (spoken) { spoken.classList.remove("speaking"); }
    if (node) { node.classList.add("speaking"); node.scrollIntoView({ block: "nearest" }); }
    spoken = node;
  }
}
export function followPlayback() { highlight(); if (!$("player").paused) { requestAnimationFrame(followPlayback); } }

export const FIELDS = [
  ["category", "f-category"], ["province_code", "f-province"], ["district_code", "f-district"],
  ["caller_phone", "f-phone"], ["citizen_id", "f-cid"], ["description", "f-description"],
];
export function fillForm(t) {
  $("f-category").value = t.category || "";
  $("f-urgent").checked = !!t.urgent;
  const p = state.provinces.get(t.province_code);
  $("f-province").value = p ? placeLabel(p) : "";
  fillDistricts(t.province_code);
  const d = state.districts.get(t.district_code);
  $("f-district").value = d ? d.code + " " + d.name_th : "";
  $("f-phone").value = t.caller_phone || "";
  $("f-cid").value = t.citizen_id || "";
  $("f-description").value = t.description || "";
  const conf = t.field_confidence || {};
  for (const [name] of FIELDS) {
    const wrap = document.querySelector('.field[data-field="' + name + '"]');
    const unsure = conf[name] !== undefined && conf[name] < UNSURE_FIELD;
    wrap.classList.toggle("unsure-field", unsure);
    setFieldMsg(name, unsure ? "ระบบไม่แน่ใจ (" + Math.round(conf[name] * 100) + "%) — กรุณาตรวจสอบ" : "", unsure ? "warn" : "");
    wrap.querySelector("input,select,textarea").removeAttribute("aria-invalid");
  }
}
export function setEditable(on) {
  for (const [, id] of FIELDS) { $(id).disabled = !on; }
  $("f-urgent").disabled = !on;
  const masked = (v) => (v || "").includes("•");
  // Masked numbers (roles without need-to-know) are never sent back.
  $("f-phone").readOnly = masked(state.ticket.caller_phone);
  $("f-cid").readOnly = masked(state.ticket.citizen_id);
  $("f-description").readOnly = masked(state.ticket.description);
  document.querySelectorAll("#draft-actions button, #open-actions button").forEach((b) => { b.disabled = !on; });
  $("a-reopen").disabled = state.readOnly || role === "admin";
}
export function setFieldMsg(name, text, kind) {
  const node = $("m-" + name);
  if (!node) { return; }
  node.textContent = text; node.className = "field-msg " + (kind || "");
}

/* Client-side checks with Thai messages; the server checks again. */
export function formChanges() {
  const t = state.ticket;
  const errors = {};
  const values = {};
  values.category = $("f-category").value || null;
  values.urgent = $("f-urgent").checked;
  const prov = codeFrom($("f-province").value, state.provinces);
  if (prov === undefined) { errors.province_code = "ไม่พบจังหวัดนี้ เลือกจากรายการ"; } else { values.province_code = prov; }
  const dist = codeFrom($("f-district").value, state.districts);
  if (dist === undefined) { errors.district_code = "ไม่พบอำเภอ/เขตนี้ เลือกจากรายการ"; }
  else {
    values.district_code = dist;
    if (dist && prov === null) { values.province_code = state.districts.get(dist).province_code; }
    else if (dist && prov && state.districts.get(dist).province_code !== prov) { errors.district_code = "อำเภอ/เขตนี้ไม่ได้อยู่ในจังหวัดที่เลือก"; }
  }
  if (!$("f-phone").readOnly) {
    const phone = $("f-phone").value.replace(/[\s-]/g, "");
    if (phone && !/^0\d{8,9}$/.test(phone)) { errors.caller_phone = "เบอร์โทรต้องเป็นตัวเลข 9–10 หลัก ขึ้นต้นด้วย 0"; }
    values.caller_phone = phone || null;
  }
  if (!$("f-cid").readOnly) {
    const cid = $("f-cid").value.replace(/[\s-]/g, "");
    if (cid && !validCitizenId(cid)) { errors.citizen_id = "เลขประจำตัวประชาชนต้องมี 13 หลักและเลขตรวจสอบถูกต้อง"; }
    values.citizen_id = cid || null;
  }
  values.description = $("f-description").value;
  if (!values.description.trim()) { errors.description = "กรุณากรอกรายละเอียดเรื่อง"; }
  const changes = {};
  for (const [k, v] of Object.entries(values)) {
    if ((t[k] === undefined ? null : t[k]) !== v && !(t[k] === null && v === "")) { changes[k] = v; }
  }
  return { changes, errors };
}
export function validCitizenId(id) {
  if (!/^\d{13}$/.test(id)) { return false; }
  let sum = 0;
  for (let i = 0; i < 12; i++) { sum += Number(id[i]) * (13 - i); }
  return (11 - (sum % 11)) % 10 === Number(id[12]);
}
export function showFieldErrors(errors) {
  let first = null;
  for (const [name, id] of FIELDS) {
    const bad = errors[name];
    $(id).toggleAttribute("aria-invalid", !!bad);
    if (bad) { setFieldMsg(name, bad, "bad"); $(id).setAttribute("aria-describedby", "m-" + name); first = first || $(id); }
  }
  if (first) { first.focus(); }
  return !first;
}

/* Saves the edits (only fields that changed), returns false if nothing may go further. */
export async function save(quiet) {
  const t = state.ticket;
  if (!t || state.readOnly) { return false; }
  const { changes, errors } = formChanges();
  if (!showFieldErrors(errors)) { H.toast("กรุณาแก้ไขช่องที่มีข้อผิดพลาด", "bad"); return false; }
  if (!Object.keys(changes).length) { if (!quiet) { H.toast("ไม่มีการเปลี่ยนแปลง"); } return true; }
  try {
    const updated = await H.api("PATCH", "/api/v1/tickets/" + t.reference, Object.assign({ version: t.version }, changes));
    Object.assign(t, updated);
    if (!quiet) { H.toast("บันทึกแล้ว"); }
    return true;
  } catch (err) { return handleActionError(err); }
}
export function handleActionError(err) {
  if (err.code === "stale_version") { showAlert(H.explain(err), true); return false; }
  if (err.status === 422 && err.field && $("m-" + err.field)) {
    setFieldMsg(err.field, H.explain(err), "bad");
  }
  showError(err);
  return false;
}
export async function reloadTicket() {
  const ref = state.ticket.reference;
  state.ticket = null;
  await openTicket(ref);
}
export async function refreshTicket() {
  const t = state.ticket;
  const fresh = await H.api("GET", "/api/v1/tickets/" + t.reference);
  state.ticket = Object.assign(fresh, state.claimed ? {} : {});
  renderTicket();
}
