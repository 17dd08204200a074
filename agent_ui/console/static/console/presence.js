/* The call-taker's console: their presence (available, break with a reason, offline), the
   wrap-up countdown with "end wrap-up" early. Changes arrive as agent.state events; the
   countdown ticks locally (no server call). */

import { $, role, state, showError } from "./state.js";

export const PRESENCE_TH = {
  offline: "ออฟไลน์", available: "พร้อมรับสาย", ringing: "สายเข้า", on_call: "กำลังสนทนา",
  wrap_up: "สรุปงานหลังวางสาย", break: "พัก",
};
let wrapTimer = null;

export function myName() { return document.querySelector(".console").dataset.username; }

export async function loadPresence() {
  if (role !== "agent") { return; }
  showPresence(await H.api("GET", "/api/v1/agents/me"));
}

export function showPresence(p) {
  state.presence = p;
  const badge = $("presence-state");
  let text = PRESENCE_TH[p.state] || p.state;
  if (p.state === "break" && p.reason) {
    const option = document.querySelector('#p-reason option[value="' + CSS.escape(p.reason) + '"]');
    text += " · " + (option ? option.textContent : p.reason === "no_answer" ? "ไม่รับสาย" : p.reason);
  }
  badge.textContent = text;
  badge.className = "badge pr-" + p.state;
  badge.dataset.state = p.state;
  $("presence-since").textContent = p.since ? "ตั้งแต่ " + H.time(p.since) : "";
  const busy = p.state === "ringing" || p.state === "on_call";
  $("p-available").disabled = busy || p.state === "available";
  $("p-break").disabled = busy;
  $("p-offline").disabled = p.state === "offline";
  clearInterval(wrapTimer);
  $("wrapup").hidden = p.state !== "wrap_up";
  if (p.state === "wrap_up" && p.wrap_up_until) {
    const tick = () => {
      const left = Math.max(0, Math.ceil((new Date(p.wrap_up_until).getTime() - Date.now()) / 1000));
      $("wrapup-left").textContent = String(left);
    };
    tick();
    wrapTimer = setInterval(tick, 1000);
  }
}

async function request(body) {
  try { showPresence(await H.api("PUT", "/api/v1/agents/me/state", body)); }
  catch (err) {
    if (err.status === 409) { H.toast("เปลี่ยนสถานะไม่ได้ระหว่างสาย กรุณาเปลี่ยนหลังจบสาย", "bad"); } else { showError(err); }
  }
}

export function onPresenceEvent(msg) {
  const data = msg.data || {};
  if (msg.type === "agent.state" && data.username === myName() && role === "agent") {
    showPresence(data);
    // The system corrected the state (the reconciler): say why, so it is not a mystery.
    const why = String(data.why || "");
    if (why.startsWith("reconciled")) {
      H.toast(why.includes("registration") ? "โทรศัพท์ของคุณไม่ได้ลงทะเบียนกับระบบ สถานะจึงเป็นออฟไลน์ ตรวจสอบโทรศัพท์แล้วกด “พร้อมรับสาย” อีกครั้ง" : "ระบบปรับสถานะของคุณให้ตรงกับสายที่มีอยู่จริง (สายก่อนหน้าจบแล้ว)", "bad");
    }
  }
}

export function wirePresence() {
  if (role !== "agent") { return; }
  $("p-available").addEventListener("click", () => request({ state: "available" }));
  $("p-end-wrapup").addEventListener("click", () => request({ state: "available" }));
  $("p-break").addEventListener("click", () => request({ state: "break", reason: $("p-reason").value }));
  $("p-offline").addEventListener("click", () => request({ state: "offline" }));
}
