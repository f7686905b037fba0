// The gigavector dashboard: plain JavaScript against the server's own REST API
// (no CDN, no build step).  A key typed above is kept for this tab only
// (sessionStorage) and sent as X-API-Key or as a Bearer token.
"use strict";

const state = { collections: [] };

function credentialHeaders() {
  const key = sessionStorage.getItem("gigavector-key");
  if (!key) return {};
  return key.startsWith("gv_") ? { "X-API-Key": key } : { "Authorization": "Bearer " + key };
}

async function api(method, path, body) {
  const init = { method, headers: credentialHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = (data && data.error) || {};
    throw new Error(`${r.status} ${e.code || ""}: ${e.message || r.statusText}`);
  }
  return data;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function prefixOf(c) {
  return c.namespace ? "/namespaces/" + encodeURIComponent(c.namespace) : "";
}

async function loadServer() {
  const health = await api("GET", "/health").catch(e => ({ status: e.message }));
  document.getElementById("status").textContent = health.status;
  const dl = document.getElementById("server-stats");
  let stats;
  try { stats = await api("GET", "/stats"); } catch (e) { showError(e); return; }
  for (const [k, label] of [["requests", "requests"], ["uptime_seconds", "uptime (s)"],
                            ["vectors", "vectors"], ["namespaces", "namespaces"]]) {
    if (stats[k] === undefined) continue;
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = stats[k]; dd.id = "stat-" + k;
    dl.append(dt, dd);
  }
  if (stats.namespaces === undefined) {
    state.collections = [Object.assign({ name: "(collection)", namespace: null }, stats)];
  } else {
    const list = (await api("GET", "/namespaces")).namespaces;
    state.collections = await Promise.all(list.map(async ns => {
      const s = await api("GET", "/namespaces/" + encodeURIComponent(ns.name) + "/stats")
        .catch(() => ({}));
      return Object.assign({ namespace: ns.name }, s, ns, { vectors: ns.rows });
    }));
  }
  renderCollections();
}

function renderCollections() {
  const body = document.querySelector("#collections tbody");
  const select = document.getElementById("collection");
  body.replaceChildren();
  select.replaceChildren();
  state.collections.forEach((c, i) => {
    const row = document.createElement("tr");
    cell(row, c.namespace || c.name);
    cell(row, c.vectors ?? c.rows, "num");
    cell(row, c.dimension, "num");
    cell(row, c.index);
    cell(row, bytes(c.index_bytes), "num");
    cell(row, c.max_vectors ?? "", "num");
    body.appendChild(row);
    const opt = document.createElement("option");
    opt.value = i; opt.textContent = c.namespace || c.name;
    select.appendChild(opt);
  });
}

function showError(e) {
  const p = document.getElementById("search-message");
  p.textContent = e.message;
  p.className = "error";
}

async function search(ev) {
  ev.preventDefault();
  const msg = document.getElementById("search-message");
  const tbody = document.querySelector("#hits tbody");
  tbody.replaceChildren();
  msg.className = "";
  msg.textContent = "searching…";
  const c = state.collections[Number(document.getElementById("collection").value)];
  if (!c) { showError(new Error("no collection")); return; }
  const text = document.getElementById("query").value.trim();
  const k = Number(document.getElementById("k").value) || 10;
  const distance = document.getElementById("distance").value;
  try {
    let vector;
    if (/^-?\d+$/.test(text)) {
      vector = (await api("GET", prefixOf(c) + "/vectors/" + text)).vector;
    } else {
      vector = JSON.parse(text);
    }
    const started = performance.now();
    const hits = (await api("POST", prefixOf(c) + "/search", { vector, k, distance })).hits;
    msg.textContent = `${hits.length} hits in ${(performance.now() - started).toFixed(1)} ms`;
    hits.forEach((h, i) => {
      const row = document.createElement("tr");
      row.className = "hit";
      cell(row, i + 1, "num");
      cell(row, h.id, "num");
      cell(row, h.distance.toPrecision(6), "num");
      cell(row, JSON.stringify(h.metadata));
      tbody.appendChild(row);
    });
  } catch (e) {
    showError(e instanceof SyntaxError ? new Error("not an id or a JSON array: " + e.message) : e);
  }
}

document.getElementById("key-form").addEventListener("submit", ev => {
  ev.preventDefault();
  sessionStorage.setItem("gigavector-key", document.getElementById("key").value.trim());
  location.reload();
});
document.getElementById("search-form").addEventListener("submit", search);
loadServer();
