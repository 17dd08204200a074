/* The call-taker's console: Catalog (categories, places, agencies) and the pickers filled from it. */

import { $, state } from "./state.js";

// --- catalog & pickers ----------------------------------------------------------------------
export async function loadCatalog() {
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
export function placeLabel(p) { return p.code + " " + p.name_th; }
export function fillDistricts(provinceCode) {
  const dlist = $("district-list");
  dlist.replaceChildren();
  for (const d of state.catalog.districts) {
    if (provinceCode && d.province_code !== provinceCode) { continue; }
    const prov = state.provinces.get(d.province_code);
    dlist.append(H.el("option", { value: d.code + " " + d.name_th + (provinceCode ? "" : " (" + (prov ? prov.name_th : "") + ")") }));
  }
}
/* "10 กรุงเทพมหานคร", "10", or just the Thai name -> code; "" -> null; unknown -> undefined */
export function codeFrom(text, map) {
  text = text.trim();
  if (!text) { return null; }
  const first = text.split(/\s+/)[0];
  if (map.has(first)) { return first; }
  for (const [code, item] of map) { if (item.name_th === text || item.name_th === text.replace(/\s*\(.*\)$/, "")) { return code; } }
  return undefined;
}
export function categoryName(code) { const c = state.categories.get(code); return c ? c.name_th : (code || "ยังไม่ระบุประเภท"); }
export function provinceName(code) { const p = state.provinces.get(code); return p ? p.name_th : ""; }
