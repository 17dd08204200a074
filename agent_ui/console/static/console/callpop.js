/* The call-taker's console: the screen pop when their phone rings (masked caller number, the
   caller's open earlier tickets, the call's draft opened and claimed), then the live transcript
   with speaker labels while bridged, and the draft's fields filling in as the understanding
   hears them (the officer's own edits are kept; unsure fields amber, as for recordings). */

import { $, state } from "./state.js";
import { placeLabel } from "./catalog.js";
import { openTicket, renderTicket, formChanges } from "./ticket.js";
import { myName } from "./presence.js";
import { showControls } from "./callcontrols.js";

const SPEAKER = { caller: "ผู้โทร", agent: "เจ้าหน้าที่" };
const PHASE = { ringing: "สายเข้า", connected: "กำลังสนทนากับ", ended: "วางสายแล้ว", transferred: "โอนสายแล้ว", missed: "ไม่ได้รับสาย" };

function setPhase(phase) {
  const call = state.call;
  call.phase = phase;
  $("call-phase").textContent = PHASE[phase];
  const pop = $("call-pop");
  pop.className = "call-pop " + phase;
  pop.dataset.phase = phase;
  $("live-box").hidden = phase === "ringing" || phase === "missed";
  $("call-dismiss").hidden = phase === "ringing" || phase === "connected";
  showControls(phase);
}

function pop(data) {
  state.call = { call_id: data.call_id, ticket_reference: data.ticket_reference || null, phase: "ringing", pending: {} };
  $("call-pop").hidden = false;
  $("call-caller").textContent = data.caller_masked || "ไม่แสดงเบอร์";
  $("call-priority").hidden = data.priority !== "urgent";
  $("call-ticket").textContent = data.ticket_reference ? "ร่างเรื่อง " + data.ticket_reference : "";
  const earlier = $("call-earlier");
  earlier.replaceChildren();
  for (const ref of data.earlier_references || []) {
    const link = H.el("a", { href: "/tickets/" + ref, text: ref });
    link.addEventListener("click", (e) => { e.preventDefault(); openTicket(ref); });
    earlier.append(link, " ");
  }
  $("call-earlier-box").hidden = !(data.earlier_references || []).length;
  $("live-transcript").replaceChildren();
  setPhase("ringing");
  if (data.ticket_reference) { openTicket(data.ticket_reference); }
}

/* Call events name the call; the ASR's partials name the call's draft. */
/* After a reload mid-call: the presence names the call; the calls record gives its draft. */
export async function resumeCall(presence) {
  if (state.call || !presence.call_id || !["on_call", "wrap_up"].includes(presence.state)) { return; }
  const data = await H.api("GET", "/api/v1/calls?limit=20");
  const call = data.items.find((c) => c.id === presence.call_id);
  if (!call || state.call) { return; }
  const digits = (call.caller || "").replace(/\D/g, "");
  pop({ call_id: call.id, ticket_reference: call.ticket_reference, caller_masked: digits ? "••••••" + digits.slice(-4) : null, earlier_references: [] });
  setPhase(presence.state === "on_call" ? "connected" : "ended");
}

function mine(data) {
  const call = state.call;
  return !!call && ((data.call_id && data.call_id === call.call_id) || (!data.call_id && !!data.reference && data.reference === call.ticket_reference));
}

/* ``asr.partial`` carries a channel's text so far (the whole side of the conversation, growing),
   or one utterance at a time (``final`` closes it). What is new is added to that speaker's line
   when it is the last one, else it starts a new line, so the two sides read as a dialogue. */
function addSpeech(data) {
  const channel = data.channel === "agent" ? "agent" : "caller";
  const text = String(data.text || "").trim();
  if (!text) { return; }
  const call = state.call;
  call.heard = call.heard || {};
  const before = call.heard[channel] || "";
  const fresh = before && text.startsWith(before) ? text.slice(before.length).trim() : text;
  call.heard[channel] = text;
  if (!fresh) { return; }
  const box = $("live-transcript");
  let line = call.pending[channel];
  const continues = line && box.lastElementChild === line && before && text.startsWith(before);
  if (!continues) {
    if (line) { line.classList.remove("pending"); }
    line = H.el("li", { class: "seg " + channel + " pending", "data-channel": channel }, H.el("span", { class: "spk " + channel, text: SPEAKER[channel] }), H.el("span", { class: "said" }));
    box.append(line);
  }
  const said = line.querySelector(".said");
  said.textContent = continues ? said.textContent + " " + fresh : fresh;
  if (data.final) { line.classList.remove("pending"); call.pending[channel] = null; call.heard[channel] = ""; } else { call.pending[channel] = line; }
  box.scrollTop = box.scrollHeight;
}

export function onCallEvent(msg) {
  const data = msg.data || {};
  if (msg.type === "call.ringing_agent" && data.agent === myName()) { pop(data); return; }
  if (!mine(data)) { return; }
  if (msg.type === "call.bridged") { setPhase("connected"); }
  else if (msg.type === "asr.partial") { addSpeech(data); }
  else if (msg.type === "call.transferred") { setPhase("transferred"); }
  else if (msg.type === "call.ended") { setPhase("ended"); }
}

/* The agent's own state tells a ring that went elsewhere (not answered, cancelled). */
export function onCallPresence(p) {
  if (!state.call) { return; }
  if (state.call.phase === "ringing" && p.state !== "ringing" && p.state !== "on_call") { setPhase("missed"); }
  if (state.call.phase === "ringing" && p.state === "on_call" && p.call_id === state.call.call_id) { setPhase("connected"); }
}

export function dismissCall() { state.call = null; $("call-pop").hidden = true; }

/* The ticket of the call changed (the understanding filled fields): take the new version and
   keep what the officer typed over it. */
export function isLiveDraft(reference) { return !!(state.call && state.call.ticket_reference === reference); }

export async function mergeLiveDraft(reference) {
  const fresh = await H.api("GET", "/api/v1/tickets/" + encodeURIComponent(reference));
  if (!state.ticket || state.ticket.reference !== reference || fresh.version <= state.ticket.version) { return; }
  const { changes } = formChanges();
  state.ticket = fresh;
  renderTicket();
  for (const [key, value] of Object.entries(changes)) {
    const wrap = document.querySelector('.field[data-field="' + key + '"]');
    if (wrap) { wrap.classList.remove("unsure-field"); }
    if (key === "category") { $("f-category").value = value || ""; }
    else if (key === "urgent") { $("f-urgent").checked = !!value; }
    else if (key === "province_code") { const p = state.provinces.get(value); $("f-province").value = p ? placeLabel(p) : ""; }
    else if (key === "district_code") { const d = state.districts.get(value); $("f-district").value = d ? d.code + " " + d.name_th : ""; }
    else if (key === "caller_phone") { $("f-phone").value = value || ""; }
    else if (key === "citizen_id") { $("f-cid").value = value || ""; }
    else if (key === "description") { $("f-description").value = value || ""; }
  }
}
