/* The call-taker's console: Live events, keyboard, and wiring the page together. */

import { $, me, state, showAlert, showError } from "./state.js";
import { loadCatalog, placeLabel, fillDistricts, codeFrom } from "./catalog.js";
import { loadQueue, refreshQueue, currentItems, renderList, move, runSearch, leaveSearch } from "./queue.js";
import { openTicket, renderTicket, highlight, followPlayback, formChanges, save, reloadTicket } from "./ticket.js";
import { confirmTicket, routeTicket, resolveTicket, duplicateTicket, rejectTicket, reopenTicket, addUpdate } from "./actions.js";
import { loadPresence, onPresenceEvent, wirePresence, myName } from "./presence.js";
import { onCallEvent, onCallPresence, dismissCall, isLiveDraft, mergeLiveDraft, resumeCall } from "./callpop.js";
import { loadCallbacks, onCallbacksEvent } from "./callbacks.js";
import { wireControls } from "./callcontrols.js";

// --- live events ----------------------------------------------------------------------------
export function onEvent(msg) {
  const data = msg.data || {};
  onPresenceEvent(msg);
  if (msg.type === "agent.state" && data.username === myName()) { onCallPresence(data); }
  if (msg.type.startsWith("call.") || msg.type === "asr.partial") { onCallEvent(msg); }
  onCallbacksEvent(msg);
  if (msg.type === "asr.partial") { return; }  // words of a live call, not a change of a ticket
  if (msg.type.startsWith("ticket.") || msg.type.startsWith("asr.")) { refreshQueue(); }
  const t = state.ticket;
  if (t && data.reference === t.reference && isLiveDraft(t.reference) && !state.readOnly && msg.type !== "ticket.claimed") {
    // The call's draft filling in while the caller speaks: merge, keeping the officer's edits
    // (the fetched version decides; an event's version may be the one before its change).
    mergeLiveDraft(t.reference).catch(showError);
    return;
  }
  if (t && data.reference === t.reference && typeof data.version === "number" && data.version > t.version) {
    if (msg.type === "ticket.claimed" && data.user_id === me) { return; }
    const { changes } = formChanges();
    if (!Object.keys(changes).length && !state.readOnly) {
      // Nothing typed yet: take the newer version (e.g. the transcript arrived).
      H.api("GET", "/api/v1/tickets/" + t.reference).then((fresh) => {
        if (state.ticket && state.ticket.reference === fresh.reference) { state.ticket = Object.assign(fresh, {}); renderTicket(); }
      }).catch(() => {});
    } else if (msg.type !== "ticket.claimed") {
      showAlert("เรื่องนี้เพิ่งถูกแก้ไขโดยผู้อื่นหรือระบบ หากบันทึกตอนนี้จะขัดแย้งกัน กด “โหลดฉบับล่าสุด” เพื่อดูข้อมูลล่าสุด", true);
    }
  }
}

// --- keyboard ----------------------------------------------------------------------------------
export function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) { return; }
  if (document.querySelector("dialog[open]")) { return; }
  if (H.typingIn(e.target)) {
    if (e.key === "Escape") { e.target.blur(); if (e.target.id === "search" && state.search) { leaveSearch(); } }
    return;
  }
  const handlers = {
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    Enter: () => { const item = currentItems()[state.selected]; if (item && (e.target === document.body || e.target.closest("#queue-list"))) { openTicket(item.reference); } else { return false; } },
    "/": () => $("search").focus(), "?": () => $("d-help").showModal(),
    c: confirmTicket, r: routeTicket, s: () => save(false), o: resolveTicket, d: duplicateTicket, x: rejectTicket,
    e: () => { if (!$("f-category").disabled) { $("f-category").focus(); } },
    p: () => { const p = $("player"); if (!p.hidden && p.getAttribute("src")) { if (p.paused) { p.play().catch(() => {}); } else { p.pause(); } } },
    Escape: () => { if (state.search) { leaveSearch(); } },
  };
  const handler = handlers[e.key];
  if (handler) { if (handler() !== false) { e.preventDefault(); } }
}

// --- wiring ------------------------------------------------------------------------------------
export async function main() {
  document.addEventListener("keydown", onKey);
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch($("search").value).catch(showError); });
  $("back-to-queue").addEventListener("click", leaveSearch);
  $("help-button").addEventListener("click", () => $("d-help").showModal());
  $("a-save").addEventListener("click", () => save(false));
  $("a-confirm").addEventListener("click", confirmTicket);
  $("a-resolve").addEventListener("click", resolveTicket);
  $("a-resolve2").addEventListener("click", resolveTicket);
  $("a-duplicate").addEventListener("click", duplicateTicket);
  $("a-reject").addEventListener("click", rejectTicket);
  $("a-route").addEventListener("click", routeTicket);
  $("a-reopen").addEventListener("click", reopenTicket);
  $("pane-reload").addEventListener("click", () => reloadTicket().catch(showError));
  $("update-form").addEventListener("submit", addUpdate);
  $("f-province").addEventListener("change", () => { const code = codeFrom($("f-province").value, state.provinces); fillDistricts(code || null); });
  $("f-district").addEventListener("change", () => {
    const code = codeFrom($("f-district").value, state.districts);
    if (code) { const d = state.districts.get(code); $("f-district").value = d.code + " " + d.name_th; if (!codeFrom($("f-province").value, state.provinces)) { $("f-province").value = placeLabel(state.provinces.get(d.province_code)); fillDistricts(d.province_code); } }
  });
  const player = $("player");
  player.addEventListener("play", () => requestAnimationFrame(followPlayback));
  player.addEventListener("seeked", highlight);
  player.addEventListener("timeupdate", highlight);
  window.addEventListener("pagehide", () => {
    const t = state.ticket;
    if (t && state.claimed && t.status === "draft") {
      fetch("/console/api/tickets/" + t.reference + "/release", { method: "POST", keepalive: true, headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content } });
    }
  });
  wirePresence();
  $("call-dismiss").addEventListener("click", dismissCall);
  wireControls();
  await loadCatalog();
  // On every (re)connect: what may have changed while the stream was down.
  H.live(onEvent, () => {
    refreshQueue();
    loadPresence().then(() => state.presence && resumeCall(state.presence)).catch(showError);
    loadCallbacks().catch(showError);
  });
  await loadQueue();
  const initial = document.querySelector(".console").dataset.initialReference;
  if (initial) { await openTicket(initial); } else { $("queue-list").focus(); }
  setInterval(() => { if (!state.search) { renderList(); } }, 30000);  // ages only; no server call
}
main().catch(showError);
