/* The call-taker's console: hold / resume, mute / unmute and transfer (back to the queue, or a
   blind transfer to a hub of hubs.toml) while bridged. The IVR node holding the call carries
   the command out; the buttons show what was asked (202), the transfer ends with call.transferred. */

import { $, state, showError } from "./state.js";

const held = { hold: false, mute: false };

async function command(path, body) {
  const call = state.call;
  if (!call) { return null; }
  return H.api("POST", "/api/v1/calls/" + encodeURIComponent(call.call_id) + "/" + path, body);
}

function show(kind) {
  const button = $(kind === "hold" ? "c-hold" : "c-mute");
  button.setAttribute("aria-pressed", String(held[kind]));
  button.textContent = kind === "hold" ? (held.hold ? "รับสายต่อ" : "พักสาย") : (held.mute ? "เปิดไมค์" : "ปิดไมค์");
}

async function toggle(kind) {
  const on = !held[kind];
  const action = kind === "hold" ? (on ? "hold" : "resume") : (on ? "mute" : "unmute");
  try { await command("leg", { action }); held[kind] = on; show(kind); } catch (err) { showError(err); }
}

async function transfer() {
  const select = $("c-target");
  const label = select.selectedOptions[0].textContent;
  try {
    await command("transfer", { target: select.value });
    H.toast("กำลังโอนสายไปที่ " + label);
  } catch (err) { showError(err); }
}

/* Shown while the call is bridged; a new call starts with the caller on the line, mic open. */
export function showControls(phase) {
  $("call-controls").hidden = phase !== "connected";
  if (phase === "ringing") { held.hold = false; held.mute = false; show("hold"); show("mute"); }
}

export function wireControls() {
  $("c-hold").addEventListener("click", () => toggle("hold"));
  $("c-mute").addEventListener("click", () => toggle("mute"));
  $("c-transfer").addEventListener("click", transfer);
}
