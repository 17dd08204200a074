/* The notification list with its unread count (any signed-in role). Refreshed every 20 s and
   after each action; texts are put in with textContent only. */
"use strict";

const Notifications = (() => {
  const button = document.getElementById("notif-button");
  const panel = document.getElementById("notif-panel");
  const count = document.getElementById("notif-count");
  const list = document.getElementById("notif-list");

  async function refresh() {
    let data;
    try { data = await H.api("GET", "/notifications/api"); } catch (err) { return; }
    count.textContent = String(data.unread);
    count.dataset.unread = String(data.unread);
    list.replaceChildren(...data.items.map((n) => H.el("li", { class: n.read ? "read" : "unread", "data-kind": n.kind },
      H.el("div", { text: n.title }),
      H.el("div", { class: "muted", text: H.dateTime(n.created_at) + (n.body ? " · " + n.body : "") }))));
    if (!data.items.length) { list.replaceChildren(H.el("li", { class: "muted", text: "ไม่มีแจ้งเตือน" })); }
  }

  if (button) {
    button.addEventListener("click", () => { panel.hidden = !panel.hidden; });
    document.getElementById("notif-read").addEventListener("click", async () => {
      try { await H.api("POST", "/notifications/api/read", {}); } catch (err) { H.toast(H.explain(err), "bad"); }
      refresh();
    });
    refresh();
    // Call-takers and supervisors follow the event stream: a notification appears as its event
    // arrives. Agencies get no stream (it is scoped by province), so their list is re-read.
    const role = document.body.dataset.role;
    if (role === "agent" || role === "supervisor") {
      const LIVE = ["ticket.sla_warning", "ticket.sla_breached", "ticket.returned", "ticket.routed"];
      H.live((msg) => { if (LIVE.includes(msg.type)) { refresh(); } });
      setInterval(refresh, 120000);
    } else {
      setInterval(refresh, 20000);
    }
  }
  return { refresh };
})();
