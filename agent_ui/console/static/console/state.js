/* The call-taker's console: Shared state of the console page, its constants, and the pane's messages. */


export const $ = (id) => document.getElementById(id);
export const me = Number(document.body.dataset.userId);
export const role = document.body.dataset.role;
export const UNSURE_WORD = 0.6;
export const UNSURE_FIELD = 0.7;
export const CLAIM_RENEW_MS = 4 * 60 * 1000;

export const state = {
  catalog: null, provinces: new Map(), districts: new Map(), categories: new Map(), agencies: new Map(),
  queue: [], search: null, selected: 0, ticket: null, claimed: false, readOnly: false, words: [], renewTimer: null, dirtyRemote: false,
  presence: null, call: null,  // the agent's presence; the call popped on their screen
};


// --- messages ------------------------------------------------------------------------------
export function showAlert(text, withReload) {
  $("pane-alert").hidden = false;
  $("pane-alert-text").textContent = text;
  $("pane-reload").hidden = !withReload;
}
export function hideAlert() { $("pane-alert").hidden = true; }
export function showError(err) { if (err && err.status === 401) { return; } H.toast(err instanceof H.ApiError ? H.explain(err) : String(err), "bad"); }
