// console/app.js — the control room page's behaviour: sign in with a pasted token (kept
// in sessionStorage), list cases with the age of each report against the two-hour duty and
// its alert delivery, show one case's timeline and sightings, and act on it (verify, found,
// close, cancel, widen) behind a confirmation. Everything comes from /api/v1 (docs/api.yaml);
// every text from the store is set with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "talaash.token";
const DUTY_SECONDS = 2 * 3600; // police should act on a report within two hours
const REFRESH_MS = 3000;
const STATES = ["delivered", "sent", "sending", "queued", "failed", "expired"];

let selected = null; // the case number shown in the detail pane
let timer = null;

function $(id) { return document.getElementById(id); }

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function api(method, path, body, idempotencyKey) {
  const headers = { "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const res = await fetch("/api/v1/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) { logout("Your token was refused."); }
  return { status: res.status, data };
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? h + "h " + m + "m" : m + "m";
}

function areaCell(area, typed) {
  const td = el("td");
  if (area) {
    td.appendChild(el("span", area.name));
    if (area.name_ur) {
      td.appendChild(document.createTextNode(" "));
      td.appendChild(el("span", area.name_ur, { lang: "ur", dir: "rtl", class: "ur" }));
    }
  } else {
    td.appendChild(el("span", typed || "?", { dir: "auto" }));
  }
  return td;
}

function progressBar(counts) {
  const box = el("div");
  const bar = el("div", null, { class: "bar", role: "img" });
  const total = counts ? counts.total : 0;
  for (const s of STATES) {
    if (!total || !counts[s]) continue;
    const part = el("span", null, { class: s, title: s + ": " + counts[s] });
    part.style.width = (100 * counts[s] / total) + "%";
    bar.appendChild(part);
  }
  const done = counts ? counts.sent + counts.delivered : 0;
  bar.setAttribute("aria-label", done + " of " + total + " sent");
  box.appendChild(bar);
  const text = counts
    ? STATES.map((s) => s + " " + counts[s]).join(" · ") + " · total " + total
    : "no alert yet";
  box.appendChild(el("div", text, { class: "counts" }));
  return box;
}

async function listCases() {
  const want = $("filter-state").value;
  const states = want === "open" ? ["reported", "active"] : [want];
  let cases = [];
  for (const s of states) {
    const r = await api("GET", "cases?limit=100" + (s ? "&state=" + encodeURIComponent(s) : ""));
    if (r.status !== 200) return;
    cases = cases.concat(r.data.cases);
  }
  cases.sort((a, b) => b.created_at - a.created_at);
  // Delivery progress for open cases (each needs the case's counts).
  const details = await Promise.all(cases.map((c) =>
    (c.state === "active" || c.state === "found" || c.state === "closed")
      ? api("GET", "cases/" + c.case).then((r) => r.status === 200 ? r.data : null)
      : Promise.resolve(null)));
  const tbody = $("cases").querySelector("tbody");
  tbody.replaceChildren();
  const now = Date.now() / 1000;
  cases.forEach((c, i) => {
    const tr = el("tr", null, { "data-case": c.case });
    if (c.case === selected) tr.classList.add("selected");
    tr.appendChild(el("td", c.case));
    const st = el("td"); st.appendChild(el("span", c.state, { class: "state " + c.state }));
    tr.appendChild(st);
    const who = [c.name, c.age !== null ? c.age : "", c.gender || ""].filter((x) => x !== "").join(", ");
    tr.appendChild(el("td", who, { dir: "auto" }));
    tr.appendChild(areaCell(c.area, c.area_text));
    const age = now - c.created_at;
    const late = c.state === "reported" && age > DUTY_SECONDS;
    tr.appendChild(el("td", duration(Math.max(0, age)) + " ago" + (late ? " — over 2 h, not verified" : ""),
      { class: "age" + (late ? " late" : "") }));
    const prog = el("td");
    prog.appendChild(progressBar(details[i] ? details[i].alerts : null));
    tr.appendChild(prog);
    tr.addEventListener("click", () => { selected = c.case; showCase(); listCases(); });
    tbody.appendChild(tr);
  });
  $("cases-empty").hidden = cases.length > 0;
  $("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
}

async function showCase() {
  if (!selected) return;
  const r = await api("GET", "cases/" + selected);
  if (r.status !== 200) return;
  const c = r.data;
  $("detail").hidden = false;
  $("d-case").textContent = c.case;
  $("d-state").textContent = c.state;
  $("d-state").className = "state " + c.state;
  const dl = $("d-fields");
  dl.replaceChildren();
  const fields = [
    ["Child", [c.name, c.age, c.gender].filter((x) => x !== null && x !== "").join(", ")],
    ["Area", c.area ? c.area.name + (c.area.name_ur ? " · " + c.area.name_ur : "") : c.area_text],
    ["Last seen", c.last_seen], ["Description", c.description],
    ["Reporter", c.reporter], ["Reported", new Date(c.created_at * 1000).toLocaleString()],
  ];
  for (const [k, v] of fields) {
    if (v === null || v === undefined || v === "") continue;
    dl.appendChild(el("dt", k));
    dl.appendChild(el("dd", v, { dir: "auto" }));
  }
  $("d-progress").replaceChildren(progressBar(c.alerts));
  for (const b of document.querySelectorAll("#d-actions button")) {
    const a = b.dataset.action;
    b.disabled = !((a === "verify" && c.state === "reported") ||
                   ((a === "found" || a === "close" || a === "cancel") && (c.state === "reported" || c.state === "active")) ||
                   (a === "widen" && c.state === "active"));
  }
  const ol = $("d-timeline");
  ol.replaceChildren();
  for (const e of c.timeline) {
    let text = new Date(e.at * 1000).toLocaleTimeString() + " — " + e.event;
    if (e.kind) text += " (" + e.kind + (e.radius_km ? ", " + e.radius_km + " km" : "") + ")";
    if (e.count) text += ": " + e.count;
    if (e.actor) text += " by " + e.actor;
    if (e.outcome && e.outcome !== "ok") text += " — " + e.outcome;
    ol.appendChild(el("li", text, { dir: "auto" }));
  }
  const ul = $("d-sightings");
  ul.replaceChildren();
  for (const s of c.sightings) {
    ul.appendChild(el("li", new Date(s.at * 1000).toLocaleTimeString() + " " + (s.from || "") + ": " + s.text, { dir: "auto" }));
  }
  if (c.sightings.length === 0) ul.appendChild(el("li", "none"));
}

function confirmAction(text) {
  return new Promise((resolve) => {
    const d = $("confirm");
    $("confirm-text").textContent = text;
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
  });
}

async function act(action) {
  const body = {};
  if (action === "close") {
    const reason = prompt("Reason for closing (optional)") || "";
    if (reason) body.reason = reason;
  }
  if (action === "widen") {
    body.area = $("d-widen-area").value.trim();
    if (!body.area) { $("d-result").textContent = "Type the area to widen to."; return; }
  }
  const what = action.toUpperCase() + " case " + selected +
    (action === "verify" ? ": this sends the alert to every subscriber of the area." : "?");
  if (!(await confirmAction(what))) return;
  const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  const r = await api("POST", "cases/" + selected + "/" + action, body, key);
  $("d-result").textContent = r.data ? (r.data.message || r.data.error) : "HTTP " + r.status;
  await showCase();
  await listCases();
}

async function start() {
  const r = await api("GET", "me");
  if (r.status !== 200) return;
  $("who").textContent = r.data.name + " (" + r.data.role + ")";
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  for (const b of document.querySelectorAll("#d-actions button"))
    b.hidden = r.data.role === "viewer";
  $("d-widen-area").hidden = r.data.role === "viewer";
  await listCases();
  clearInterval(timer);
  timer = setInterval(() => { listCases(); showCase(); }, REFRESH_MS);
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(timer);
  $("app").hidden = true;
  $("login").hidden = false;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  $("login-error").textContent = "";
  await start();
});
$("logout").addEventListener("click", () => logout());
$("filter-state").addEventListener("change", listCases);
for (const b of document.querySelectorAll("#d-actions button"))
  b.addEventListener("click", () => act(b.dataset.action));
if (sessionStorage.getItem(TOKEN_KEY)) start();
