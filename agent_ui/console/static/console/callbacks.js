/* The call-taker's console: the callback requests queue (list, state, attempts), read through
   /api/v1/callbacks and reloaded when a call or callback event arrives. */

import { $, showError } from "./state.js";
import { openTicket } from "./ticket.js";

const STATE_TH = { pending: "รอโทรกลับ", offered: "เสนอให้เจ้าหน้าที่แล้ว", dialling: "กำลังโทร", done: "โทรกลับแล้ว", failed: "ติดต่อไม่ได้" };
const OUTCOME_TH = { answered: "รับสาย", busy: "สายไม่ว่าง", no_answer: "ไม่รับสาย", rejected: "ปฏิเสธสาย", unreachable: "ติดต่อไม่ได้", failed: "โทรไม่สำเร็จ", cancelled: "ยกเลิก" };

export async function loadCallbacks() {
  const data = await H.api("GET", "/api/v1/callbacks");
  const list = $("callbacks");
  list.replaceChildren();
  const open = data.items.filter((c) => c.state !== "done" && c.state !== "failed");
  $("callbacks-count").textContent = String(open.length);
  for (const c of data.items) {
    const ref = c.ticket_reference ? H.el("a", { href: "/tickets/" + c.ticket_reference, text: c.ticket_reference }) : null;
    if (ref) { ref.addEventListener("click", (e) => { e.preventDefault(); openTicket(c.ticket_reference); }); }
    list.append(H.el("li", { class: "cb cb-" + c.state, "data-id": String(c.id) },
      H.el("strong", { text: c.number || "—" }), " ",
      H.el("span", { class: "badge", text: STATE_TH[c.state] || c.state }), " ",
      H.el("span", { class: "muted", text: "ขอเมื่อ " + H.time(c.requested_at) + " · โทรแล้ว " + c.attempts + " ครั้ง" + (c.last_outcome ? " (" + (OUTCOME_TH[c.last_outcome] || c.last_outcome) + ")" : "") }),
      ref ? " · " : null, ref));
  }
  if (!data.items.length) { list.append(H.el("li", { class: "muted", text: "ไม่มีคำขอให้โทรกลับ" })); }
}
const reload = H.debounce(() => loadCallbacks().catch(showError), 300);

export function onCallbacksEvent(msg) {
  if (msg.type.startsWith("callback.") || msg.type === "call.queued" || msg.type === "call.ended") { reload(); }
}
