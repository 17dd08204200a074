/* The call-taker's console: The draft queue list and search. */

import { $, me, role, state, showError } from "./state.js";
import { categoryName, provinceName } from "./catalog.js";
import { openTicket } from "./ticket.js";

// --- queue ------------------------------------------------------------------------------------
export async function loadQueue() {
  const data = await H.api("GET", "/console/api/queue");
  state.queue = data.items;
  if (!state.search) { renderList(); }
}
export const refreshQueue = H.debounce(() => loadQueue().catch(showError), 80);

export function currentItems() { return state.search ? state.search : state.queue; }

export function renderList() {
  const items = currentItems();
  const list = $("queue-list");
  const selectedRef = items[state.selected] ? items[state.selected].reference : null;
  list.replaceChildren();
  $("queue-count").textContent = String(items.length);
  $("queue-empty").hidden = items.length > 0;
  items.forEach((item, i) => {
    const holder = item.claimed_by && item.claimed_by !== me ? "กำลังทำโดย " + item.claimed_by_name : (item.claimed_by === me ? "คุณรับเรื่องนี้ไว้" : "");
    const li = H.el("li", { class: "qitem" + (item.urgent ? " urgent" : "") + (item.claimed_by && item.claimed_by !== me ? " held" : ""), role: "option", id: "q-" + item.reference, "data-ref": item.reference, "aria-selected": i === state.selected ? "true" : "false" },
      H.el("div", { class: "qline" },
        H.el("strong", { text: item.reference }),
        item.urgent ? H.el("span", { class: "badge urgent", text: "ด่วน" }) : null,
        item.status && item.status !== "draft" ? H.el("span", { class: "badge", text: H.STATUS[item.status] || item.status }) : null,
        H.el("span", { class: "age", text: item.created_at ? H.age(item.created_at) : "" })),
      H.el("div", { class: "qmeta", text: categoryName(item.category) + (item.province_code ? " · " + provinceName(item.province_code) : "") }),
      H.el("div", { class: "snippet", text: item.snippet !== undefined ? item.snippet : (item.description || "").slice(0, 140) }),
      holder ? H.el("div", { class: "holder", text: holder }) : null);
    li.addEventListener("click", () => { state.selected = i; renderList(); openTicket(item.reference); });
    list.append(li);
  });
  if (selectedRef) {
    const idx = items.findIndex((x) => x.reference === selectedRef);
    if (idx >= 0 && idx !== state.selected) { state.selected = idx; }
  }
  state.selected = Math.min(state.selected, Math.max(items.length - 1, 0));
  markSelected();
}
export function markSelected() {
  const items = currentItems();
  document.querySelectorAll("#queue-list .qitem").forEach((li, i) => li.setAttribute("aria-selected", i === state.selected ? "true" : "false"));
  const item = items[state.selected];
  if (item) {
    const node = $("q-" + item.reference);
    if (node) { node.scrollIntoView({ block: "nearest" }); $("queue-list").setAttribute("aria-activedescendant", node.id); }
  }
}
export function move(delta) {
  const items = currentItems();
  if (!items.length) { return; }
  state.selected = Math.max(0, Math.min(items.length - 1, state.selected + delta));
  markSelected();
}

// --- search -------------------------------------------------------------------------------------
export async function runSearch(text) {
  text = text.trim();
  if (!text) { leaveSearch(); return; }
  const digits = text.replace(/[\s-]/g, "");
  let url;
  if (role !== "agent" && /^(\d{13}|0\d{8,9})$/.test(digits)) {
    // Numbers are masked for this role, so looking one up is not offered (no existence oracle).
    H.toast("ค้นหาด้วยเบอร์โทรหรือเลขประจำตัวประชาชนได้เฉพาะเจ้าหน้าที่รับเรื่อง", "bad");
    return;
  }
  if (/^\d{13}$/.test(digits)) { url = "/api/v1/tickets?citizen_id=" + digits; }
  else if (/^0\d{8,9}$/.test(digits)) { url = "/api/v1/tickets?phone=" + digits; }
  else { url = "/api/v1/tickets?q=" + encodeURIComponent(text); }
  const data = await H.api("GET", url + "&limit=100");
  state.search = data.items;
  state.selected = 0;
  $("queue-title").firstChild.textContent = "ผลการค้นหา “" + text + "” ";
  $("queue-note").textContent = "เรียงจากใหม่สุด · Esc หรือปุ่มกลับเพื่อกลับไปที่คิว";
  $("back-to-queue").hidden = false;
  renderList();
  if (state.search.length === 1) { openTicket(state.search[0].reference); }
  $("queue-list").focus();
}
export function leaveSearch() {
  state.search = null; state.selected = 0;
  $("queue-title").firstChild.textContent = "ร่างรอรับเรื่อง ";
  $("queue-note").textContent = "เรื่องด่วนขึ้นก่อน แล้วเรียงจากเก่าสุด";
  $("back-to-queue").hidden = true;
  $("search").value = "";
  renderList();
}
