/* Issue 12, closing the loop with the citizen: on the ticket page, what the citizen was told and
   "close" under the rules; on the dashboard, the survey tiles. Follows the live stream (SSE). */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const OUTCOME = {
    calling: "กำลังโทร", answered: "รับสาย (ไม่ให้คะแนน)", no_answer: "ไม่รับสาย", busy: "สายไม่ว่าง",
    failed: "โทรไม่สำเร็จ", message_left: "ฝากข้อความแล้ว", rated: "ให้คะแนน", wants_officer: "ขอคุยกับเจ้าหน้าที่",
  };
  const RULE = {
    officer: "เจ้าหน้าที่แจ้งผู้ร้องแล้ว ปิดเรื่องได้",
    result_call: "โทรแจ้งผลถึงผู้ร้องแล้ว ปิดเรื่องได้",
    exhausted: "โทรแจ้งผลครบจำนวนครั้งแล้วแต่ติดต่อไม่ได้ ปิดเรื่องได้",
    pending: "ยังปิดเรื่องไม่ได้: ระบบกำลังโทรแจ้งผล หรือบันทึกการแจ้งผลของเจ้าหน้าที่",
    nobody: "ยังปิดเรื่องไม่ได้: ยังไม่มีผู้แจ้งผลแก่ผู้ร้อง (บันทึกการแจ้งผลพร้อมช่องทาง)",
  };

  /* --- the ticket page ------------------------------------------------------------------ */
  function ticketPage() {
    const box = $("citizen-loop");
    let current = null;
    async function show() {
      const ref = $("t-ref").textContent.trim();
      const resolved = $("t-status").classList.contains("st-resolved") || $("t-status").classList.contains("st-closed");
      if (!ref || !resolved) { box.hidden = true; current = null; return; }
      let t;
      try { t = await H.api("GET", "/api/v1/tickets/" + ref); } catch (e) { box.hidden = true; return; }
      current = t;
      box.hidden = false;
      const rule = t.close_rule || { allowed: false, code: "not_resolved", why: "" };
      $("cl-rule").textContent = t.status === "closed" ? "ปิดเรื่องแล้ว" : (RULE[rule.code] || rule.why);
      $("cl-rule").title = rule.why;
      $("cl-rule").dataset.code = rule.code;
      if (rule.code === "exhausted" || rule.code === "pending") { $("cl-rule").append(H.el("small", { class: "muted", text: " (" + rule.why + ")" })); }
      $("cl-rating").textContent = t.rating ? "คะแนนล่าสุด " + t.rating + "/5" : "ยังไม่มีคะแนน";
      const list = $("cl-calls");
      list.replaceChildren(...t.result_calls.map((c) => H.el("li", {}, H.dateTime(c.at) + " · " + (OUTCOME[c.outcome] || c.outcome) + (c.rating ? " " + c.rating + "/5" : ""))));
      if (!t.result_calls.length) { list.append(H.el("li", { class: "muted", text: "ยังไม่มีการโทรแจ้งผล" })); }
      const close = $("a-close");
      close.hidden = t.status !== "resolved";
      close.disabled = !rule.allowed;
    }
    const refresh = H.debounce(() => show().catch(() => {}), 300);
    new MutationObserver(refresh).observe($("pane-title"), { subtree: true, childList: true, characterData: true, attributes: true });
    $("a-close").addEventListener("click", async () => {
      if (!current) { return; }
      try {
        await H.api("POST", "/api/v1/tickets/" + current.reference + "/transitions", { to: "closed", version: current.version });
        H.toast("ปิดเรื่อง " + current.reference + " แล้ว");
        $("t-status").textContent = H.STATUS.closed || "closed";
        $("t-status").className = "badge st-closed";
      } catch (err) { H.toast(H.explain(err), "bad"); }
      refresh();
    });
    H.live(() => refresh(), () => refresh());
  }

  /* --- the dashboard ---------------------------------------------------------------------- */
  function dashboard() {
    const names = { category: new Map(), province_code: new Map(), agency_code: new Map() };
    let figures = null;
    function set(key, value, sub) {
      document.querySelector('[data-survey="' + key + '"]').textContent = String(value);
      document.querySelector('[data-survey-sub="' + key + '"]').textContent = sub || "";
    }
    function render() {
      const p = figures[$("sv-period").value];
      set("average", p.average === null ? "–" : p.average.toFixed(2), p.ratings + " คะแนน");
      set("rate", p.response_rate === null ? "–" : Math.round(100 * p.response_rate) + "%", p.ratings + " จาก " + p.chances + " โอกาส");
      const low = (p.distribution["1"] || 0) + (p.distribution["2"] || 0);
      set("low", low, p.ratings ? Math.round(100 * low / p.ratings) + "% ของคะแนน" : "");
      $("tile-sv-low").classList.toggle("alarm", low > 0);
      $("sv-dist").replaceChildren(...["5", "4", "3", "2", "1"].map((k) => H.el("tr", {}, H.el("th", { scope: "row", text: k }), H.el("td", { text: String(p.distribution[k] || 0) }))));
      const group = $("sv-group").value;
      const rows = p.by[group] || [];
      $("sv-by").replaceChildren(...rows.map((r) => H.el("tr", {}, H.el("th", { scope: "row", text: names[group].get(r.key) || (r.key === "unknown" ? "ไม่ระบุ" : r.key) }), H.el("td", { text: String(r.ratings) }), H.el("td", { text: r.average.toFixed(2) }))));
      if (!rows.length) { $("sv-by").append(H.el("tr", {}, H.el("td", { colspan: "3", class: "muted", text: "ยังไม่มีคะแนนในช่วงนี้" }))); }
    }
    async function load() { figures = await H.api("GET", "/console/api/survey"); render(); }
    const reload = H.debounce(() => load().catch((e) => H.toast(H.explain(e), "bad")), 900);
    async function main() {
      const cat = await H.api("GET", "/api/v1/catalog");
      for (const c of cat.categories) { names.category.set(c.code, c.name_th); }
      for (const p of cat.provinces) { names.province_code.set(p.code, p.name_th); }
      for (const a of cat.agencies) { names.agency_code.set(a.code, a.name_th); }
      $("sv-period").addEventListener("change", render);
      $("sv-group").addEventListener("change", render);
      await load();
      H.live(() => reload(), () => reload());
    }
    main().catch((e) => H.toast(e instanceof H.ApiError ? H.explain(e) : String(e), "bad"));
  }

  if ($("citizen-loop")) { ticketPage(); }
  if ($("survey")) { dashboard(); }
})();
