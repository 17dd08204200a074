/* The call-taker's console: live draft queue, claim, listen, edit, confirm and route. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const me = Number(document.body.dataset.userId);
  const role = document.body.dataset.role;
  const UNSURE_WORD = 0.6;
  const UNSURE_FIELD = 0.7;
  const CLAIM_RENEW_MS = 4 * 60 * 1000;

  const state = {
    catalog: null, provinces: new Map(), districts: new Map(), categories: new Map(), agencies: new Map(),
    queue: [], search: null, selected: 0, ticket: null, claimed: false, readOnly: false, words: [], renewTimer: null, dirtyRemote: false,
  };

  // --- catalog & pickers ----------------------------------------------------------------------
  async function loadCatalog() {
    const cat = await H.api("GET", "/api/v1/catalog");
    state.catalog = cat;
    for (const c of cat.categories) { state.categories.set(c.code, c); }
    for (const a of cat.agencies) { state.agencies.set(a.code, a); }
    for (const p of cat.provinces) { state.provinces.set(p.code, p); }
    for (const d of cat.districts) { state.districts.set(d.code, d); }
    const select = $("f-category");
    for (const c of cat.categories) { select.append(H.el("option", { value: c.code, text: c.name_th })); }
    const plist = $("province-list");
    for (const p of cat.provinces) { plist.append(H.el("option", { value: placeLabel(p) })); }
    fillDistricts(null);
    const alist = $("agency-list");
    for (const a of cat.agencies) { alist.append(H.el("option", { value: a.code + " " + a.name_th })); }
  }
  function placeLabel(p) { return p.code + " " + p.name_th; }
  function fillDistricts(provinceCode) {
    const dlist = $("district-list");
    dlist.replaceChildren();
    for (const d of state.catalog.districts) {
      if (provinceCode && d.province_code !== provinceCode) { continue; }
      const prov = state.provinces.get(d.province_code);
      dlist.append(H.el("option", { value: d.code + " " + d.name_th + (provinceCode ? "" : " (" + (prov ? prov.name_th : "") + ")") }));
    }
  }
  /* "10 กรุงเทพมหานคร", "10", or just the Thai name -> code; "" -> null; unknown -> undefined */
  function codeFrom(text, map) {
    text = text.trim();
    if (!text) { return null; }
    const first = text.split(/\s+/)[0];
    if (map.has(first)) { return first; }
    for (const [code, item] of map) { if (item.name_th === text || item.name_th === text.replace(/\s*\(.*\)$/, "")) { return code; } }
    return undefined;
  }
  function categoryName(code) { const c = state.categories.get(code); return c ? c.name_th : (code || "ยังไม่ระบุประเภท"); }
  function provinceName(code) { const p = state.provinces.get(code); return p ? p.name_th : ""; }

  // --- queue ------------------------------------------------------------------------------------
  async function loadQueue() {
    const data = await H.api("GET", "/console/api/queue");
    state.queue = data.items;
    if (!state.search) { renderList(); }
  }
  const refreshQueue = H.debounce(() => loadQueue().catch(showError), 80);

  function currentItems() { return state.search ? state.search : state.queue; }

  function renderList() {
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
  function markSelected() {
    const items = currentItems();
    document.querySelectorAll("#queue-list .qitem").forEach((li, i) => li.setAttribute("aria-selected", i === state.selected ? "true" : "false"));
    const item = items[state.selected];
    if (item) {
      const node = $("q-" + item.reference);
      if (node) { node.scrollIntoView({ block: "nearest" }); $("queue-list").setAttribute("aria-activedescendant", node.id); }
    }
  }
  function move(delta) {
    const items = currentItems();
    if (!items.length) { return; }
    state.selected = Math.max(0, Math.min(items.length - 1, state.selected + delta));
    markSelected();
  }

  // --- search -------------------------------------------------------------------------------------
  async function runSearch(text) {
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
  function leaveSearch() {
    state.search = null; state.selected = 0;
    $("queue-title").firstChild.textContent = "ร่างรอรับเรื่อง ";
    $("queue-note").textContent = "เรื่องด่วนขึ้นก่อน แล้วเรียงจากเก่าสุด";
    $("back-to-queue").hidden = true;
    $("search").value = "";
    renderList();
  }

  // --- the ticket pane ------------------------------------------------------------------------
  async function openTicket(reference) {
    if (state.ticket && state.ticket.reference === reference) { return; }
    await releaseClaim();
    let ticket;
    try { ticket = await H.api("GET", "/api/v1/tickets/" + encodeURIComponent(reference)); }
    catch (err) { showError(err); return; }
    state.ticket = ticket; state.claimed = false; state.readOnly = false; state.dirtyRemote = false;
    hideAlert();
    if (ticket.status === "draft") {
      try {
        const claim = await H.api("POST", "/console/api/tickets/" + ticket.reference + "/claim");
        state.ticket = Object.assign(ticket, pickClaim(claim.ticket));
        state.claimed = true;
        scheduleRenew();
      } catch (err) {
        if (err.code === "claimed") {
          state.readOnly = true;
          const h = err.body.error.holder;
          showAlert("เรื่องนี้มีเจ้าหน้าที่ " + (h ? h.display_name : "คนอื่น") + " กำลังทำอยู่" + (h ? " (ถึง " + H.time(h.expires_at) + ")" : "") + " — เปิดดูได้อย่างเดียว");
        } else { showError(err); }
      }
    }
    history.replaceState(null, "", "/tickets/" + ticket.reference);
    renderTicket();
    loadHistory(ticket.reference);
  }
  function pickClaim(t) { return { version: t.version, claimed_by: t.claimed_by, claim_expires_at: t.claim_expires_at }; }

  function scheduleRenew() {
    clearInterval(state.renewTimer);
    state.renewTimer = setInterval(renewClaim, CLAIM_RENEW_MS);
  }
  async function renewClaim() {
    const t = state.ticket;
    if (!t || !state.claimed || t.status !== "draft") { clearInterval(state.renewTimer); return; }
    try {
      const claim = await H.api("POST", "/console/api/tickets/" + t.reference + "/claim");
      // A claim bumps the version; adopt it only if nothing else changed meanwhile, so that
      // someone else's edit still makes our next save a conflict instead of overwriting it.
      if (claim.ticket.version === t.version + 1) { Object.assign(t, pickClaim(claim.ticket)); }
      renderClaim();
    } catch (err) {
      if (err.code === "claimed") { claimLost(err); } else if (err.status !== 401) { showError(err); }
    }
  }
  function claimLost(err) {
    state.claimed = false; state.readOnly = true;
    clearInterval(state.renewTimer);
    const h = err && err.body && err.body.error ? err.body.error.holder : null;
    showAlert("สิทธิ์ทำเรื่องนี้ของคุณหมดอายุแล้ว และ " + (h ? h.display_name : "เจ้าหน้าที่คนอื่น") + " รับเรื่องไปทำแทน สิ่งที่ยังไม่บันทึกจะไม่ถูกบันทึก", true);
    setEditable(false);
    renderClaim();
  }
  async function releaseClaim() {
    clearInterval(state.renewTimer);
    const t = state.ticket;
    if (t && state.claimed && t.status === "draft") {
      state.claimed = false;
      try { await H.api("POST", "/console/api/tickets/" + t.reference + "/release"); } catch (err) { /* it expires by itself */ }
    }
  }

  function renderTicket() {
    const t = state.ticket;
    $("pane-empty").hidden = true; $("pane-body").hidden = false;
    $("t-ref").textContent = t.reference;
    $("t-status").textContent = H.STATUS[t.status] || t.status;
    $("t-status").className = "badge st-" + t.status;
    $("t-urgent").hidden = !t.urgent;
    $("t-created").textContent = "รับเรื่อง " + H.dateTime(t.created_at) + " · ช่องทาง " + ({ phone: "โทรศัพท์", web: "เว็บ", api: "ระบบอื่น", walk_in: "walk-in" }[t.channel] || t.channel);
    renderClaim();
    renderPlayer(t);
    renderTranscript(t);
    fillForm(t);
    const isDraft = t.status === "draft";
    const isOpen = ["confirmed", "routed", "in_progress", "reopened"].includes(t.status);
    $("draft-actions").hidden = !isDraft;
    $("open-actions").hidden = isDraft;
    $("a-route").hidden = !["confirmed", "routed", "reopened"].includes(t.status);
    $("a-resolve2").hidden = !isOpen;
    $("a-reopen").hidden = !["resolved", "closed"].includes(t.status);
    setEditable(!state.readOnly && (isDraft || isOpen) && role !== "admin");
    renderUpdates(t); renderTimeline(t);
  }
  function renderClaim() {
    const t = state.ticket;
    const node = $("t-claim");
    if (t.status !== "draft") { node.textContent = ""; return; }
    node.textContent = state.claimed ? "คุณรับเรื่องนี้ไว้ถึง " + H.time(t.claim_expires_at) : (state.readOnly ? "อ่านอย่างเดียว" : "");
  }
  function renderPlayer(t) {
    const player = $("player");
    if (t.recording_id && role !== "admin") {
      player.hidden = false; $("no-recording").hidden = true;
      const src = "/recordings/" + t.recording_id;
      if (player.getAttribute("src") !== src) { player.setAttribute("src", src); }
    } else {
      player.pause(); player.removeAttribute("src"); player.hidden = true; $("no-recording").hidden = false;
    }
  }
  function renderTranscript(t) {
    const box = $("transcript");
    box.replaceChildren();
    state.words = [];
    const words = t.transcript_words || [];
    if (words.length) {
      words.forEach((w, i) => {
        const span = H.el("span", { class: "word" + (w.conf !== undefined && w.conf < UNSURE_WORD ? " unsure" : ""), "data-i": String(i), title: w.conf !== undefined ? "ความมั่นใจ " + Math.round(w.conf * 100) + "%" : null, text: w.word !== undefined ? w.word : (w.text || "") });
        span.addEventListener("click", () => { const p = $("player"); if (!p.hidden) { p.currentTime = Number(w.start) || 0; p.play().catch(() => {}); } });
        box.append(span, " ");
        state.words.push({ start: Number(w.start) || 0, end: Number(w.end) || 0, node: span });
      });
    } else {
      box.textContent = t.transcript || "";
    }
    const asr = { none: "", pending: "กำลังรอถอดความ…", streaming: "กำลังถอดความ…", done: "", failed: "ถอดความไม่สำเร็จ: ฟังเสียงแล้วกรอกเอง", no_model: "ไม่มีระบบถอดความ: ฟังเสียงแล้วกรอกเอง" }[t.asr_status] || "";
    $("asr-state").textContent = asr;
  }
  let spoken = null;
  function highlight() {
    const at = $("player").currentTime;
    const w = state.words.find((x) => at >= x.start && at < x.end);
    const node = w ? w.node : null;
    if (node !== spoken) {
      if (spoken) { spoken.classList.remove("speaking"); }
      if (node) { node.classList.add("speaking"); node.scrollIntoView({ block: "nearest" }); }
      spoken = node;
    }
  }
  function followPlayback() { highlight(); if (!$("player").paused) { requestAnimationFrame(followPlayback); } }

  const FIELDS = [
    ["category", "f-category"], ["province_code", "f-province"], ["district_code", "f-district"],
    ["caller_phone", "f-phone"], ["citizen_id", "f-cid"], ["description", "f-description"],
  ];
  function fillForm(t) {
    $("f-category").value = t.category || "";
    $("f-urgent").checked = !!t.urgent;
    const p = state.provinces.get(t.province_code);
    $("f-province").value = p ? placeLabel(p) : "";
    fillDistricts(t.province_code);
    const d = state.districts.get(t.district_code);
    $("f-district").value = d ? d.code + " " + d.name_th : "";
    $("f-phone").value = t.caller_phone || "";
    $("f-cid").value = t.citizen_id || "";
    $("f-description").value = t.description || "";
    const conf = t.field_confidence || {};
    for (const [name] of FIELDS) {
      const wrap = document.querySelector('.field[data-field="' + name + '"]');
      const unsure = conf[name] !== undefined && conf[name] < UNSURE_FIELD;
      wrap.classList.toggle("unsure-field", unsure);
      setFieldMsg(name, unsure ? "ระบบไม่แน่ใจ (" + Math.round(conf[name] * 100) + "%) — กรุณาตรวจสอบ" : "", unsure ? "warn" : "");
      wrap.querySelector("input,select,textarea").removeAttribute("aria-invalid");
    }
  }
  function setEditable(on) {
    for (const [, id] of FIELDS) { $(id).disabled = !on; }
    $("f-urgent").disabled = !on;
    const masked = (v) => (v || "").includes("•");
    // Masked numbers (roles without need-to-know) are never sent back.
    $("f-phone").readOnly = masked(state.ticket.caller_phone);
    $("f-cid").readOnly = masked(state.ticket.citizen_id);
    $("f-description").readOnly = masked(state.ticket.description);
    document.querySelectorAll("#draft-actions button, #open-actions button").forEach((b) => { b.disabled = !on; });
    $("a-reopen").disabled = state.readOnly || role === "admin";
  }
  function setFieldMsg(name, text, kind) {
    const node = $("m-" + name);
    if (!node) { return; }
    node.textContent = text; node.className = "field-msg " + (kind || "");
  }

  /* Client-side checks with Thai messages; the server checks again. */
  function formChanges() {
    const t = state.ticket;
    const errors = {};
    const values = {};
    values.category = $("f-category").value || null;
    values.urgent = $("f-urgent").checked;
    const prov = codeFrom($("f-province").value, state.provinces);
    if (prov === undefined) { errors.province_code = "ไม่พบจังหวัดนี้ เลือกจากรายการ"; } else { values.province_code = prov; }
    const dist = codeFrom($("f-district").value, state.districts);
    if (dist === undefined) { errors.district_code = "ไม่พบอำเภอ/เขตนี้ เลือกจากรายการ"; }
    else {
      values.district_code = dist;
      if (dist && prov === null) { values.province_code = state.districts.get(dist).province_code; }
      else if (dist && prov && state.districts.get(dist).province_code !== prov) { errors.district_code = "อำเภอ/เขตนี้ไม่ได้อยู่ในจังหวัดที่เลือก"; }
    }
    if (!$("f-phone").readOnly) {
      const phone = $("f-phone").value.replace(/[\s-]/g, "");
      if (phone && !/^0\d{8,9}$/.test(phone)) { errors.caller_phone = "เบอร์โทรต้องเป็นตัวเลข 9–10 หลัก ขึ้นต้นด้วย 0"; }
      values.caller_phone = phone || null;
    }
    if (!$("f-cid").readOnly) {
      const cid = $("f-cid").value.replace(/[\s-]/g, "");
      if (cid && !validCitizenId(cid)) { errors.citizen_id = "เลขประจำตัวประชาชนต้องมี 13 หลักและเลขตรวจสอบถูกต้อง"; }
      values.citizen_id = cid || null;
    }
    values.description = $("f-description").value;
    if (!values.description.trim()) { errors.description = "กรุณากรอกรายละเอียดเรื่อง"; }
    const changes = {};
    for (const [k, v] of Object.entries(values)) {
      if ((t[k] === undefined ? null : t[k]) !== v && !(t[k] === null && v === "")) { changes[k] = v; }
    }
    return { changes, errors };
  }
  function validCitizenId(id) {
    if (!/^\d{13}$/.test(id)) { return false; }
    let sum = 0;
    for (let i = 0; i < 12; i++) { sum += Number(id[i]) * (13 - i); }
    return (11 - (sum % 11)) % 10 === Number(id[12]);
  }
  function showFieldErrors(errors) {
    let first = null;
    for (const [name, id] of FIELDS) {
      const bad = errors[name];
      $(id).toggleAttribute("aria-invalid", !!bad);
      if (bad) { setFieldMsg(name, bad, "bad"); $(id).setAttribute("aria-describedby", "m-" + name); first = first || $(id); }
    }
    if (first) { first.focus(); }
    return !first;
  }

  /* Saves the edits (only fields that changed), returns false if nothing may go further. */
  async function save(quiet) {
    const t = state.ticket;
    if (!t || state.readOnly) { return false; }
    const { changes, errors } = formChanges();
    if (!showFieldErrors(errors)) { H.toast("กรุณาแก้ไขช่องที่มีข้อผิดพลาด", "bad"); return false; }
    if (!Object.keys(changes).length) { if (!quiet) { H.toast("ไม่มีการเปลี่ยนแปลง"); } return true; }
    try {
      const updated = await H.api("PATCH", "/api/v1/tickets/" + t.reference, Object.assign({ version: t.version }, changes));
      Object.assign(t, updated);
      if (!quiet) { H.toast("บันทึกแล้ว"); }
      return true;
    } catch (err) { return handleActionError(err); }
  }
  function handleActionError(err) {
    if (err.code === "stale_version") { showAlert(H.explain(err), true); return false; }
    if (err.status === 422 && err.field && $("m-" + err.field)) {
      setFieldMsg(err.field, H.explain(err), "bad");
    }
    showError(err);
    return false;
  }
  async function reloadTicket() {
    const ref = state.ticket.reference;
    state.ticket = null;
    await openTicket(ref);
  }
  async function refreshTicket() {
    const t = state.ticket;
    const fresh = await H.api("GET", "/api/v1/tickets/" + t.reference);
    state.ticket = Object.assign(fresh, state.claimed ? {} : {});
    renderTicket();
  }

  async function transition(body) {
    const t = state.ticket;
    const updated = await H.api("POST", "/api/v1/tickets/" + t.reference + "/transitions", Object.assign({ version: t.version }, body));
    Object.assign(t, updated);
    return updated;
  }

  async function confirmTicket() {
    const t = state.ticket;
    if (!t || t.status !== "draft" || state.readOnly) { return; }
    if (!$("f-category").value) { showFieldErrors({ category: "เลือกประเภทเรื่องก่อนยืนยัน" }); return; }
    if (!(await save(true))) { return; }
    try {
      await transition({ to: "confirmed" });
      state.claimed = false; clearInterval(state.renewTimer);
      H.toast("ยืนยันเรื่อง " + t.reference + " แล้ว เลือกหน่วยงานเพื่อส่งต่อ");
      await refreshTicket();
      refreshQueue();
      routeTicket();
    } catch (err) { handleActionError(err); }
  }

  async function routeTicket() {
    const t = state.ticket;
    if (!t || !["confirmed", "routed", "reopened"].includes(t.status) || state.readOnly) { return; }
    let suggestion = null;
    try { suggestion = await H.api("GET", "/api/v1/tickets/" + t.reference + "/suggested-agency"); } catch (err) { /* route without one */ }
    $("d-route-suggest").textContent = suggestion ? "ระบบแนะนำ: " + suggestion.name_th + " (กฎการส่งต่อ: " + suggestion.rule + ")" : "";
    $("route-agency").value = suggestion ? suggestion.agency_code + " " + suggestion.name_th : "";
    $("route-note").value = ""; setFieldMsg("route", "");
    const ok = await ask("d-route", () => {
      const code = codeFrom($("route-agency").value, state.agencies);
      if (!code) { setFieldMsg("route", "เลือกหน่วยงานจากรายการ", "bad"); return false; }
      return true;
    });
    if (!ok) { return; }
    try {
      const updated = await H.api("POST", "/api/v1/tickets/" + t.reference + "/routing", { agency_code: codeFrom($("route-agency").value, state.agencies), note: $("route-note").value, version: t.version });
      Object.assign(t, updated);
      H.toast("ส่งต่อเรื่อง " + t.reference + " ให้ " + (state.agencies.get(updated.agency_code) || {}).name_th + " แล้ว");
      await refreshTicket();
    } catch (err) { handleActionError(err); }
  }

  async function resolveTicket() {
    const t = state.ticket;
    if (!t || state.readOnly) { return; }
    if (t.status === "draft" && !$("f-category").value) { showFieldErrors({ category: "เลือกประเภทเรื่องก่อนตอบจบ" }); return; }
    $("resolve-text").value = ""; setFieldMsg("resolve", "");
    const ok = await ask("d-resolve", () => {
      if (!$("resolve-text").value.trim()) { setFieldMsg("resolve", "กรุณากรอกคำตอบที่แจ้งผู้ร้อง", "bad"); return false; }
      return true;
    });
    if (!ok) { return; }
    try {
      if (t.status === "draft") {
        if (!(await save(true))) { return; }
        await transition({ to: "confirmed" });
        state.claimed = false; clearInterval(state.renewTimer);
      }
      await transition({ to: "resolved", resolution: $("resolve-text").value });
      H.toast("บันทึกผลเรื่อง " + t.reference + " แล้ว");
      await refreshTicket(); refreshQueue();
    } catch (err) { handleActionError(err); }
  }

  async function duplicateTicket() {
    const t = state.ticket;
    if (!t || state.readOnly || ["resolved", "closed", "rejected", "duplicate"].includes(t.status)) { return; }
    $("duplicate-ref").value = ""; setFieldMsg("duplicate", "");
    const ok = await ask("d-duplicate", () => {
      const v = $("duplicate-ref").value.replace(/[\s-]/g, "");
      if (!/^\d{6,}$/.test(v)) { setFieldMsg("duplicate", "กรอกเลขที่เรื่องเดิมเป็นตัวเลข", "bad"); return false; }
      if (v === t.reference) { setFieldMsg("duplicate", "เลือกเรื่องอื่น ไม่ใช่เรื่องนี้", "bad"); return false; }
      return true;
    });
    if (!ok) { return; }
    try {
      await transition({ to: "duplicate", duplicate_of: $("duplicate-ref").value.replace(/[\s-]/g, "") });
      state.claimed = false; clearInterval(state.renewTimer);
      H.toast("บันทึกว่า " + t.reference + " เป็นเรื่องซ้ำแล้ว");
      await refreshTicket(); refreshQueue();
    } catch (err) { handleActionError(err); }
  }

  async function rejectTicket() {
    const t = state.ticket;
    if (!t || state.readOnly || t.status !== "draft") { return; }
    $("reject-text").value = ""; setFieldMsg("reject", "");
    const ok = await ask("d-reject", () => {
      if ($("reject-kind").value === "อื่น ๆ" && !$("reject-text").value.trim()) { setFieldMsg("reject", "กรุณาระบุเหตุผล", "bad"); return false; }
      return true;
    });
    if (!ok) { return; }
    const reason = $("reject-kind").value + ($("reject-text").value.trim() ? ": " + $("reject-text").value.trim() : "");
    try {
      await transition({ to: "rejected", reason });
      state.claimed = false; clearInterval(state.renewTimer);
      H.toast("ปฏิเสธเรื่อง " + t.reference + " แล้ว");
      await refreshTicket(); refreshQueue();
    } catch (err) { handleActionError(err); }
  }

  async function reopenTicket() {
    const t = state.ticket;
    if (!t || !["resolved", "closed"].includes(t.status)) { return; }
    $("reopen-text").value = ""; setFieldMsg("reopen", "");
    const ok = await ask("d-reopen", () => {
      if (!$("reopen-text").value.trim()) { setFieldMsg("reopen", "กรุณาระบุเหตุผล", "bad"); return false; }
      return true;
    });
    if (!ok) { return; }
    try {
      await transition({ to: "reopened", reason: $("reopen-text").value });
      H.toast("เปิดเรื่อง " + t.reference + " ใหม่แล้ว");
      await refreshTicket();
    } catch (err) { handleActionError(err); }
  }

  /* A <dialog> as a question: resolves true on OK when ``check`` passes. */
  function ask(id, check) {
    const dialog = $(id);
    return new Promise((resolve) => {
      const form = dialog.querySelector("form");
      function onSubmit(e) {
        const ok = e.submitter && e.submitter.value === "ok";
        if (ok && !check()) { e.preventDefault(); return; }
        cleanup(); resolve(ok);
      }
      function onCancel() { cleanup(); resolve(false); }
      function cleanup() { form.removeEventListener("submit", onSubmit); dialog.removeEventListener("cancel", onCancel); }
      form.addEventListener("submit", onSubmit);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
      const first = dialog.querySelector("input,textarea,select");
      if (first) { first.focus(); }
    });
  }

  async function addUpdate(e) {
    e.preventDefault();
    const t = state.ticket;
    const message = $("u-message").value.trim();
    if (!message) { setFieldMsg("message", "กรุณากรอกข้อความ", "bad"); $("u-message").focus(); return; }
    try {
      await H.api("POST", "/api/v1/tickets/" + t.reference + "/updates", { message, channel: $("u-channel").value });
      $("u-message").value = ""; setFieldMsg("message", "");
      H.toast("บันทึกการแจ้งความคืบหน้าแล้ว");
      await refreshTicket();
    } catch (err) { showError(err); }
  }

  async function loadHistory(reference) {
    const list = $("history");
    list.replaceChildren(H.el("li", { class: "muted", text: "กำลังค้นหา…" }));
    try {
      const data = await H.api("GET", "/console/api/tickets/" + reference + "/history");
      if (!state.ticket || state.ticket.reference !== reference) { return; }
      list.replaceChildren();
      if (!data.items.length) { list.append(H.el("li", { class: "muted", text: "ไม่มีเรื่องอื่นจากเบอร์นี้" })); }
      for (const item of data.items) {
        const link = H.el("a", { href: "/tickets/" + item.reference, text: item.reference });
        link.addEventListener("click", (e) => { e.preventDefault(); openTicket(item.reference); });
        list.append(H.el("li", {}, link, " ", H.el("span", { class: "badge st-" + item.status, text: H.STATUS[item.status] || item.status }), " " + H.dateTime(item.created_at) + " · " + categoryName(item.category) + " — ", H.el("span", { class: "muted", text: (item.description || "").slice(0, 80) })));
      }
    } catch (err) { list.replaceChildren(H.el("li", { class: "muted", text: H.explain(err) })); }
  }
  function renderUpdates(t) {
    const list = $("updates");
    list.replaceChildren();
    for (const u of t.updates || []) { list.append(H.el("li", {}, H.el("span", { class: "muted", text: H.dateTime(u.created_at) + " · " + u.created_by + " · " + u.channel + ": " }), u.message)); }
    if (!(t.updates || []).length) { list.append(H.el("li", { class: "muted", text: "ยังไม่ได้แจ้งความคืบหน้า" })); }
    $("update-form").hidden = ["draft", "rejected", "duplicate"].includes(t.status) || role === "admin";
  }
  const ACTION = {
    created: "สร้างเรื่อง", edited: "แก้ไขข้อมูล", routed: "ส่งต่อหน่วยงาน", citizen_update: "แจ้งความคืบหน้าแก่ผู้ร้อง",
    "asr:done": "ถอดความเสร็จ", "asr:failed": "ถอดความไม่สำเร็จ", "asr:streaming": "กำลังถอดความ", "asr:pending": "รอถอดความ",
  };
  function describeChange(e) {
    const parts = [];
    for (const [k, v] of Object.entries(e.after || {})) {
      if (k === "status" || (e.before && e.before[k] === v)) { continue; }
      let text = v === null || v === undefined ? "—" : String(v);
      if (k === "category") { text = categoryName(v); } else if (k === "province_code") { text = provinceName(v) || text; } else if (k === "agency_code") { text = (state.agencies.get(v) || {}).name_th || text; } else if (k === "description" || k === "message") { text = text.slice(0, 60) + (text.length > 60 ? "…" : ""); }
      parts.push((H.FIELD[k] || k) + ": " + text);
    }
    return parts.join(" · ");
  }
  function renderTimeline(t) {
    const list = $("timeline");
    list.replaceChildren();
    for (const e of (t.audit || []).slice().reverse()) {
      const name = e.action.startsWith("status:") ? "เปลี่ยนสถานะเป็น “" + (H.STATUS[e.action.slice(7)] || e.action.slice(7)) + "”" : (ACTION[e.action] || e.action);
      list.append(H.el("li", {}, H.el("span", { class: "when", text: H.dateTime(e.at) }), " ", H.el("strong", { text: name }), " โดย " + e.actor, H.el("div", { class: "muted", text: describeChange(e) })));
    }
  }

  // --- messages ------------------------------------------------------------------------------
  function showAlert(text, withReload) {
    $("pane-alert").hidden = false;
    $("pane-alert-text").textContent = text;
    $("pane-reload").hidden = !withReload;
  }
  function hideAlert() { $("pane-alert").hidden = true; }
  function showError(err) { if (err && err.status === 401) { return; } H.toast(err instanceof H.ApiError ? H.explain(err) : String(err), "bad"); }

  // --- live events ----------------------------------------------------------------------------
  function onEvent(msg) {
    if (msg.type.startsWith("ticket.") || msg.type.startsWith("asr.")) { refreshQueue(); }
    const t = state.ticket;
    const data = msg.data || {};
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
  function onKey(e) {
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
  async function main() {
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
    await loadCatalog();
    H.live(onEvent, () => refreshQueue());
    await loadQueue();
    const initial = document.querySelector(".console").dataset.initialReference;
    if (initial) { await openTicket(initial); } else { $("queue-list").focus(); }
    setInterval(() => { if (!state.search) { renderList(); } }, 30000);  // ages only; no server call
  }
  main().catch(showError);
})();
