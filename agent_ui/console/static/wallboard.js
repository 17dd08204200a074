/* The supervisors' live wallboard: the queue, agents and today's service figures, reloaded
   (debounced) when a call, agent or callback event arrives over the page's SSE stream; the
   oldest wait ticks locally between events. No polling of the server. */
"use strict";

const Wallboard = (() => {
  const $ = (id) => document.getElementById(id);
  const STATE_TH = { available: "พร้อมรับสาย", ringing: "สายเข้า", on_call: "กำลังสนทนา", wrap_up: "สรุปงาน", break: "พัก", offline: "ออฟไลน์" };
  let board = null;
  let loadedAt = 0;

  function pct(x) { return x === null || x === undefined ? "–" : Math.round(x * 1000) / 10 + "%"; }
  function secs(x) { return x === null || x === undefined ? "–" : H.duration(x); }
  function set(key, value, sub) {
    const node = document.querySelector('[data-metric="' + key + '"]');
    if (node.textContent !== String(value)) {
      node.textContent = String(value);
      node.parentElement.classList.remove("changed"); void node.offsetWidth; node.parentElement.classList.add("changed");
    }
    document.querySelector('[data-sub="' + key + '"]').textContent = sub || "";
  }

  function render() {
    const b = board;
    const t = b.today;
    const since = (Date.now() - loadedAt) / 1000;
    const waiting = b.callers_waiting;
    const oldest = b.oldest_wait_seconds === null ? null : b.oldest_wait_seconds + since;
    set("wb_waiting", waiting === null ? "–" : waiting, (waiting ? "รอนานสุด " + H.duration(oldest) : "ไม่มีสายรอ") + (b.callbacks_waiting ? " · ขอโทรกลับ " + b.callbacks_waiting : ""));
    $("tile-wb_waiting").classList.toggle("alarm", !!waiting && oldest > b.sl_seconds);
    const a = b.agents_by_state;
    const working = a.available + a.ringing + a.on_call + a.wrap_up + a.break;
    set("wb_agents", working, ["available", "ringing", "on_call", "wrap_up", "break"].map((s) => STATE_TH[s] + " " + a[s]).join(" · "));
    set("wb_in_ivr", b.calls_in_ivr, "กับเจ้าหน้าที่ " + b.calls_with_agents);
    set("wb_answered", t.answered, "เข้าคิว " + t.entered + (t.callbacks_requested ? " · ขอโทรกลับ " + t.callbacks_requested : ""));
    set("wb_abandoned", t.abandoned, "ภายใน " + b.sl_seconds + " วินาที: " + t.abandoned_within_sl);
    set("wb_sl", pct(t.service_level), "T = " + b.sl_seconds + " วินาที · รับภายใน T " + t.answered_within_sl + "/" + t.answered);
    set("wb_sl2", pct(t.service_level_2), "T = " + b.sl_seconds + " วินาที");
    set("wb_abandon_rate", pct(t.abandonment_rate), t.abandoned + "/" + t.entered);
    set("wb_asa", secs(t.asa_seconds));
    set("wb_aht", secs(t.aht_seconds));
    set("wb_occupancy", pct(t.occupancy));
    set("wb_nodes", b.nodes_alive === null ? "–" : b.nodes_alive, b.nodes_stopped && b.nodes_stopped.length ? "หยุดทำงาน: " + b.nodes_stopped.join(", ") : "");
    $("tile-wb_nodes").classList.toggle("alarm", !!(b.nodes_stopped && b.nodes_stopped.length));
    const scoped = b.scope && b.scope.provinces.length;
    $("wb-scope").hidden = !scoped;
    $("wb-scope").textContent = scoped ? "เฉพาะเจ้าหน้าที่และสายของจังหวัด " + b.scope.provinces.join(", ") + " · สายรอในคิว รอนานสุด ขอโทรกลับ สายในระบบตอบรับ และเครื่อง IVR เป็นตัวเลขของทั้งศูนย์ (คิวเดียวทั้งประเทศ)" : "";
    for (const key of ["wb_waiting", "wb_in_ivr", "wb_nodes"]) { $("tile-" + key).classList.toggle("centre-wide", !!scoped); }
    const rows = $("wb-agent-rows");
    rows.replaceChildren();
    for (const r of b.agents) {
      rows.append(H.el("tr", { "data-agent": r.username },
        H.el("th", { scope: "row", text: r.username }),
        H.el("td", {}, H.el("span", { class: "badge pr-" + r.state, text: STATE_TH[r.state] || r.state })),
        H.el("td", { text: r.since ? H.time(r.since) : "–" }),
        H.el("td", { text: String(r.answered) }),
        H.el("td", { text: secs(r.aht_seconds) }),
        H.el("td", { text: pct(r.occupancy) }),
        H.el("td", {}, r.state === "on_call" && r.call_id ? listenButton(r) : "")));
    }
    if (!b.agents.length) { rows.append(H.el("tr", {}, H.el("td", { colspan: "7", class: "muted", text: "ยังไม่มีเจ้าหน้าที่เข้าระบบวันนี้" }))); }
    $("wb-updated").textContent = "ข้อมูล ณ " + H.time(b.generated_at);
  }

  // Listen-in (supervisors, admins): the node rings the supervisor's own SIP phone and taps the
  // conversation into it, listen only; the server logs the listen-in (PDPA) and audits it.
  function listenButton(r) {
    const button = H.el("button", { type: "button", class: "small", "data-listen": r.call_id, text: "ฟังสาย" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await H.api("POST", "/api/v1/calls/" + encodeURIComponent(r.call_id) + "/listen");
        H.toast("กำลังโทรเข้าโทรศัพท์ของคุณเพื่อฟังสายของ " + r.username, "ok");
      } catch (e) { H.toast(H.explain(e), "bad"); button.disabled = false; }
    });
    return button;
  }

  async function load() {
    board = await H.api("GET", "/console/api/wallboard");
    loadedAt = Date.now();
    render();
  }
  const reload = H.debounce(() => load().catch((e) => H.toast(H.explain(e), "bad")), 250);

  function onEvent(msg) {
    const type = msg.type || "";
    if (type.startsWith("call.") || type === "agent.state" || type.startsWith("callback.")) { reload(); }
  }

  load().catch((e) => H.toast(e instanceof H.ApiError ? H.explain(e) : String(e), "bad"));
  setInterval(() => { if (board && board.callers_waiting) { render(); } }, 1000);  // the wait ticks
  return { load, onEvent };
})();
