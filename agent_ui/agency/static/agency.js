/* The agency console: the worklist (most urgent deadline first), one ticket's facts and the
   agency's four actions: accept, progress report, result, return to the centre. */
"use strict";

(() => {
  const rows = document.getElementById("wl-rows");
  const state = { current: null, items: [] };
  const RESULT = { resolved: "แก้ไขแล้ว", referred: "ส่งต่อ", cannot_be_solved: "แก้ไขไม่ได้", withdrawn: "ถอนเรื่อง" };
  const ACTION = {
    created: "สร้างเรื่อง", routed: "ส่งต่อหน่วยงาน", returned: "ส่งคืนศูนย์", progress_report: "รายงานความคืบหน้า",
    result: "บันทึกผล", "status:in_progress": "รับเรื่อง", "status:confirmed": "ยืนยันเรื่อง", edited: "แก้ไขข้อมูล",
    citizen_update: "แจ้งผู้ร้องเรียน", sla_warning: "ใกล้ครบกำหนด", sla_breached: "เลยกำหนด",
  };

  function $(id) { return document.getElementById(id); }

  async function loadList() {
    let data;
    try { data = await H.api("GET", "/agency/api/worklist"); } catch (err) { H.toast(H.explain(err), "bad"); return; }
    state.items = data.items;
    $("wl-count").textContent = String(data.count);
    $("wl-empty").hidden = data.count > 0;
    rows.replaceChildren(...data.items.map((t) => {
      const row = H.el("tr", { id: "wl-" + t.reference, class: "wl-row" + (t.overdue ? " overdue" : ""), tabindex: "0",
        "data-reference": t.reference, "aria-selected": state.current === t.reference ? "true" : "false" },
        H.el("td", { text: t.reference }),
        H.el("td", {}, H.el("span", { class: "badge st-" + t.status, text: H.STATUS[t.status] || t.status })),
        H.el("td", { text: t.category || "—" }),
        H.el("td", { class: "due", text: (t.overdue ? "เลยกำหนด · " : "") + H.dateTime(t.next_due_at) }));
      row.addEventListener("click", () => open(t.reference));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") { open(t.reference); } });
      return row;
    }));
  }

  async function open(reference) {
    let t;
    try { t = await H.api("GET", "/agency/api/tickets/" + encodeURIComponent(reference)); } catch (err) { H.toast(H.explain(err), "bad"); return; }
    state.current = reference;
    for (const row of rows.querySelectorAll("tr")) { row.setAttribute("aria-selected", row.dataset.reference === reference ? "true" : "false"); }
    $("a-empty").hidden = true;
    $("a-body").hidden = false;
    $("a-ref").textContent = t.reference;
    $("a-status").textContent = H.STATUS[t.status] || t.status;
    $("a-status").className = "badge st-" + t.status;
    $("a-overdue").hidden = !t.overdue;
    $("a-category").textContent = t.category || "—";
    $("a-place").textContent = (t.province_code || "—") + " / " + (t.district_code || "—");
    $("a-phone").textContent = t.caller_phone || "—";
    $("a-progress-due").textContent = t.first_update_at ? "แจ้งแล้ว " + H.dateTime(t.first_update_at) : H.dateTime(t.progress_due_at);
    $("a-resolve-due").textContent = H.dateTime(t.resolve_due_at);
    $("a-description").textContent = t.description || "";
    const working = ["routed", "in_progress", "reopened"].includes(t.status);
    $("a-accept").hidden = !["routed", "reopened"].includes(t.status);
    for (const id of ["f-progress", "f-result", "f-return"]) { $(id).hidden = !working; }
    $("a-updates").replaceChildren(...t.updates.map((u) => H.el("li", { text: H.dateTime(u.created_at) + " · " + u.message })));
    $("a-timeline").replaceChildren(...t.timeline.map((e) => H.el("li", { "data-action": e.action },
      H.dateTime(e.at) + " · " + (ACTION[e.action] || e.action) + " · " + e.actor + (e.text ? " · " + e.text : ""))));
    if (t.status === "resolved" && t.resolution) {
      $("a-updates").append(H.el("li", { class: "result", text: "ผล (" + (RESULT[t.resolution_type] || "") + "): " + t.resolution }));
    }
  }

  async function act(path, body, done) {
    try {
      await H.api("POST", "/agency/api/tickets/" + encodeURIComponent(state.current) + "/" + path, body);
    } catch (err) { H.toast(H.explain(err), "bad"); return; }
    H.toast(done);
    const reference = state.current;
    await loadList();
    if (path === "return") {
      state.current = null; $("a-body").hidden = true; $("a-empty").hidden = false;
    } else { await open(reference); }
    Notifications.refresh();
  }

  $("a-accept").addEventListener("click", () => act("accept", {}, "รับเรื่องแล้ว"));
  $("f-progress").addEventListener("submit", (e) => {
    e.preventDefault();
    act("progress", { message: $("progress-message").value }, "ส่งรายงานความคืบหน้าแล้ว").then(() => { $("progress-message").value = ""; });
  });
  $("f-result").addEventListener("submit", (e) => {
    e.preventDefault();
    act("result", { resolution: $("result-text").value, resolution_type: $("result-type").value }, "บันทึกผลแล้ว");
  });
  $("f-return").addEventListener("submit", (e) => {
    e.preventDefault();
    act("return", { reason: $("return-reason").value }, "ส่งคืนศูนย์แล้ว").then(() => { $("return-reason").value = ""; });
  });
  loadList();
  setInterval(loadList, 30000);
})();
