/* The chase lists with their counts, and the SLA met % tables for supervisors. */
"use strict";

(() => {
  const CLOCK = { confirm: "ยืนยันเรื่อง", progress: "แจ้งความคืบหน้า", resolve: "แจ้งผล" };
  let current = "overdue";

  function pct(rate) { return rate.ratio === null ? "—" : (rate.ratio * 100).toFixed(1) + " %"; }

  async function counts() {
    const data = await H.api("GET", "/worklists/api/counts");
    for (const [key, value] of Object.entries(data)) {
      const node = document.querySelector('[data-count="' + key + '"]');
      if (node) { node.textContent = String(value); }
    }
  }

  async function show(name) {
    current = name;
    for (const tab of document.querySelectorAll(".tab")) { tab.setAttribute("aria-selected", tab.dataset.list === name ? "true" : "false"); }
    let data;
    try { data = await H.api("GET", "/worklists/api/lists/" + name); } catch (err) { H.toast(H.explain(err), "bad"); return; }
    const rows = document.getElementById("chase-rows");
    rows.replaceChildren(...data.items.map((t) => H.el("tr", { id: "c-" + t.reference },
      H.el("td", {}, H.el("a", { href: "/tickets/" + t.reference, text: t.reference })),
      H.el("td", { text: H.STATUS[t.status] || t.status }),
      H.el("td", { text: t.category || "—" }),
      H.el("td", { text: t.province_code || "—" }),
      H.el("td", { text: t.agency_code || t.returned_by || "—" }),
      H.el("td", { text: H.dateTime(t.resolve_due_at) }),
      H.el("td", { text: String(t.escalation_level || 0) }))));
    document.getElementById("chase-empty").hidden = data.items.length > 0;
  }

  async function slaTables() {
    if (!document.getElementById("sla-clocks")) { return; }
    const data = await H.api("GET", "/worklists/api/sla-met");
    document.getElementById("sla-clocks").replaceChildren(...Object.entries(data.clocks).map(([clock, rate]) =>
      H.el("tr", { "data-clock": clock }, H.el("td", { text: CLOCK[clock] }), H.el("td", { class: "rate", text: pct(rate) }), H.el("td", { text: rate.met + " / " + rate.decided }))));
    for (const [key, id] of [["by_category", "sla-category"], ["by_agency", "sla-agency"]]) {
      const table = (data[key] || {}).resolve || {};
      document.getElementById(id).replaceChildren(...Object.entries(table).map(([name, rate]) =>
        H.el("tr", {}, H.el("td", { text: name }), H.el("td", { text: pct(rate) }), H.el("td", { text: rate.met + " / " + rate.decided }))));
    }
  }

  for (const tab of document.querySelectorAll(".tab")) { tab.addEventListener("click", () => show(tab.dataset.list)); }
  counts(); show(current); slaTables();
  setInterval(() => { counts(); show(current); }, 60000);
})();
