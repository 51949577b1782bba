// app.js - the dispatcher console: OpenLayers map of our own vector tiles, the queue of open
// reports, report details and actions, live updates from /api/v1/events, place search.
import "ol/ol.css";
import "./app.css";
import Map from "ol/Map.js";
import View from "ol/View.js";
import TileLayer from "ol/layer/Tile.js";
import XYZ from "ol/source/XYZ.js";
import VectorTileLayer from "ol/layer/VectorTile.js";
import VectorTileSource from "ol/source/VectorTile.js";
import MVT from "ol/format/MVT.js";
import { fromLonLat } from "ol/proj.js";
import { Style, Stroke, Fill, Text, Circle, RegularShape } from "ol/style.js";

const $ = (id) => document.getElementById(id);
const STATUS = { new: "待确认", acknowledged: "已确认", dispatched: "已派遣", on_scene: "已到场",
  resolved: "已办结", cancelled: "已撤销", duplicate: "重复" };
const CATEGORY = { vagrant: "流浪人员", beggar: "乞讨人员", lost_elderly: "走失老人", minor: "未成年人",
  mental_illness: "精神障碍", injured_or_ill: "伤病人员", other: "其他" };
const UNIT_STATUS = { available: "空闲", busy: "出警中", dispatched: "出警中", on_scene: "在现场", off_duty: "下班" };
const OUTCOME = { admitted_to_station: "入站救助", escorted_home: "护送返家", sent_to_hospital: "送医",
  refused_help: "拒绝救助", not_found: "未找到", handed_to_police: "移交公安" };
const OPEN = ["new", "acknowledged", "dispatched", "on_scene"];

const state = {
  token: sessionStorage.getItem("token"),
  user: null,
  reports: new globalThis.Map(), // id -> report (open ones)
  escalated: new Set(),
  units: new globalThis.Map(), // id -> {id, name, status, age_s, seen}
  reportsOnMap: new Set(),
  selected: null,
  lastEventId: null,
  eventLog: [],
  stream: null,
  streamOpen: false,
  stale: new Set(), // community codes not patrolled lately
  rendered: 0,
};
window.__console = state; // read by the browser test

// ---- API ----

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  const ct = r.headers.get("Content-Type") || "";
  if (ct.includes("json")) data = await r.json().catch(() => null);
  if (r.status === 401 && path !== "/api/v1/auth/login") { logout(); }
  if (!r.ok) {
    const e = new Error((data && data.error && data.error.message) || "HTTP " + r.status);
    e.status = r.status;
    e.code = data && data.error && data.error.code;
    throw e;
  }
  return data;
}

function fmtDuration(s) {
  const neg = s < 0;
  s = Math.abs(Math.round(s));
  const m = Math.floor(s / 60), sec = s % 60;
  const t = m >= 60 ? Math.floor(m / 60) + "时" + (m % 60) + "分" : m + ":" + String(sec).padStart(2, "0");
  return neg ? "超时 " + t : t;
}

function fmtAge(s) {
  if (s == null) return "无位置";
  if (s < 60) return Math.round(s) + "秒前";
  if (s < 3600) return Math.round(s / 60) + "分钟前";
  return Math.round(s / 3600) + "小时前";
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}

// ---- map ----

function authTileLoader(tile, url) {
  tile.setLoader((extent, resolution, projection) => {
    if (!state.token) { tile.setFeatures([]); return; } // signed out: refreshed after sign-in
    fetch(url, { headers: { Authorization: "Bearer " + state.token } })
      .then((r) => (r.status === 200 ? r.arrayBuffer() : null))
      .then((buf) => {
        const fmt = tile.getFormat();
        const feats = buf ? fmt.readFeatures(buf, { extent, featureProjection: projection }) : [];
        tile.setFeatures(feats);
      })
      .catch(() => tile.setState(3));
  });
}

const lineStyles = {
  city: new Style({ stroke: new Stroke({ color: "#333", width: 3 }) }),
  county: new Style({ stroke: new Stroke({ color: "#555", width: 2 }) }),
  town: new Style({ stroke: new Stroke({ color: "#777", width: 1.2, lineDash: [6, 3] }) }),
  community: new Style({ stroke: new Stroke({ color: "#aaa", width: 0.8, lineDash: [2, 3] }) }),
};
const staleLine = new Style({ stroke: new Stroke({ color: "#d9480f", width: 2.5 }) });
const labelFont = { city: "bold 16px", county: "bold 14px", town: "13px", community: "12px" };

function divisionStyle(f) {
  const level = f.get("level");
  if (f.getType() === "Point") {
    return new Style({
      text: new Text({
        text: f.get("name"),
        font: (labelFont[level] || "12px") + ' "WenQuanYi Micro Hei", sans-serif',
        offsetY: level === "town" || level === "community" ? -12 : 0,
        fill: new Fill({ color: "#222" }),
        stroke: new Stroke({ color: "#fff", width: 3 }),
      }),
    });
  }
  if (level === "community" && showPatrolGaps && state.stale.has(f.get("code"))) return staleLine;
  return lineStyles[level];
}

const tierFill = { city: "rgba(0,0,0,0)", county: "rgba(66,99,235,0.06)", town: "rgba(12,166,120,0.10)",
  community: "rgba(250,176,5,0.12)" };
function coverageStyle(f) {
  return new Style({ fill: new Fill({ color: tierFill[f.get("tier")] || "rgba(0,0,0,0)" }) });
}

const stationIcon = new RegularShape({ points: 4, radius: 6, angle: Math.PI / 4, fill: new Fill({ color: "#1864ab" }),
  stroke: new Stroke({ color: "#fff", width: 1.5 }) });
// station names from zoom 12 on (below that the division labels say enough)
const stationStyle = (f, resolution) => new Style({
  image: stationIcon,
  text: resolution < 40 ? new Text({ text: f.get("name"), offsetY: 14, font: '11px "WenQuanYi Micro Hei", sans-serif',
    fill: new Fill({ color: "#1864ab" }), stroke: new Stroke({ color: "#fff", width: 3 }) }) : undefined,
});

// status -> colour AND shape (colour is never the only cue)
const REPORT_LOOK = {
  new: { color: "#e03131", points: 3, radius: 10, angle: 0 },
  acknowledged: { color: "#f08c00", points: 4, radius: 9, angle: Math.PI / 4 },
  dispatched: { color: "#1971c2", points: 4, radius: 10, angle: 0 },
  on_scene: { color: "#7048e8", points: 0, radius: 8 },
};
function reportStyle(f) {
  const look = REPORT_LOOK[f.get("status")] || REPORT_LOOK.new;
  const sel = state.selected === f.getId();
  const stroke = new Stroke({ color: sel ? "#000" : "#fff", width: sel ? 3 : 1.5 });
  const fill = new Fill({ color: look.color });
  const image = look.points ? new RegularShape({ points: look.points, radius: look.radius, angle: look.angle, fill, stroke })
    : new Circle({ radius: look.radius, fill, stroke });
  const styles = [new Style({ image, zIndex: 2 })];
  if (f.get("escalated") || state.escalated.has(f.getId()))
    styles.unshift(new Style({ image: new Circle({ radius: 15, stroke: new Stroke({ color: "#c92a2a", width: 3 }) }), zIndex: 1 }));
  return styles;
}

function unitStyle(f) {
  const st = f.get("status");
  const color = st === "available" ? "#2f9e44" : st === "off_duty" ? "#868e96" : "#e8590c";
  return new Style({
    image: new Circle({ radius: 7, fill: new Fill({ color }), stroke: new Stroke({ color: "#fff", width: 2 }) }),
    text: new Text({ text: f.get("name") + " · " + fmtAge(f.get("age_s")), offsetY: -15,
      font: '11px "WenQuanYi Micro Hei", sans-serif', fill: new Fill({ color: "#222" }),
      stroke: new Stroke({ color: "#fff", width: 3 }) }),
  });
}

function tileLayer(name, style, opts = {}) {
  const source = new VectorTileSource({
    format: new MVT({ idProperty: undefined }),
    url: "/tiles/" + name + "/{z}/{x}/{y}.mvt",
    maxZoom: 16,
    tileLoadFunction: opts.auth ? authTileLoader : undefined,
  });
  return new VectorTileLayer({ source, style, declutter: !!opts.declutter, zIndex: opts.z || 0,
    renderMode: "hybrid", properties: { name } });
}

let showPatrolGaps = false;
const layers = {
  coverage: tileLayer("coverage", coverageStyle, { z: 0 }),
  divisions: tileLayer("divisions", divisionStyle, { z: 1, declutter: true }),
  stations: tileLayer("stations", stationStyle, { z: 2 }),
  units: tileLayer("units", unitStyle, { z: 3, auth: true }),
  reports: tileLayer("reports", reportStyle, { z: 4, auth: true }),
};

// Which report ids and which units the loaded tiles hold (the test and the unit list read these).
layers.reports.getSource().on("tileloadend", (e) => {
  for (const f of e.tile.getFeatures()) {
    state.reportsOnMap.add(f.getId());
    if (f.get("escalated")) state.escalated.add(f.getId());
  }
});
layers.units.getSource().on("tileloadend", (e) => {
  for (const f of e.tile.getFeatures()) {
    state.units.set(f.getId(), { id: f.getId(), name: f.get("name"), status: f.get("status"),
      age_s: f.get("age_s"), seen: Date.now() });
  }
  renderUnits();
});

const map = new Map({
  target: "map",
  layers: Object.values(layers),
  view: new View({ center: fromLonLat([119.22, 34.6]), zoom: 9, minZoom: 6, maxZoom: 19 }),
});
map.on("rendercomplete", () => { state.rendered++; });
// an optional external base map (setting basemap_url) under our own layers
fetch("/api/v1/console").then((r) => r.json()).then((c) => {
  if (c && c.basemap_url)
    map.getLayers().insertAt(0, new TileLayer({ source: new XYZ({ url: c.basemap_url, crossOrigin: "anonymous" }), className: "basemap" }));
}).catch(() => {});
state.map = map;

const refreshTimers = {};
function refreshLayer(name) {
  clearTimeout(refreshTimers[name]);
  refreshTimers[name] = setTimeout(() => {
    if (name === "reports") state.reportsOnMap.clear();
    layers[name].getSource().refresh();
  }, 150);
}

map.on("singleclick", (e) => {
  const hits = map.getFeaturesAtPixel(e.pixel, { layerFilter: (l) => l === layers.reports, hitTolerance: 4 });
  if (hits.length) select(hits[0].getId());
});

// ---- queue ----

async function loadQueue() {
  const data = await api("GET", "/api/v1/reports?status=" + OPEN.join(",") + "&limit=500");
  state.reports.clear();
  for (const r of data.items) state.reports.set(r.id, r);
  renderQueue();
  loadCounts();
}

function queueOrder() {
  const arr = [...state.reports.values()].filter((r) => OPEN.includes(r.status));
  const key = (r) => (r.status === "new" && r.ack_deadline ? Date.parse(r.ack_deadline) : 9e15 + r.id);
  return arr.sort((a, b) => key(a) - key(b));
}

function divisionName(r) {
  const d = (r.divisions || []).filter((x) => x && x.name);
  return d.length ? d.slice(1).map((x) => x.name).join(" ") || d[0].name : "辖区外";
}

function renderQueue() {
  const q = $("queue");
  const items = queueOrder();
  $("queue-count").textContent = "(" + items.length + ")";
  q.replaceChildren(...items.map((r) => {
    const li = el("li", { role: "option", "data-id": r.id, class: "q-item s-" + r.status, tabindex: "-1",
      "aria-selected": String(state.selected === r.id), onclick: () => select(r.id) },
    el("span", { class: "q-status" }, STATUS[r.status] || r.status),
    el("span", { class: "q-cat" }, "#" + r.id + " " + (CATEGORY[r.category] || r.category)),
    el("span", { class: "q-div" }, divisionName(r)),
    el("span", { class: "q-count", "data-deadline": r.status === "new" ? r.ack_deadline || "" : "" }, ""));
    if (state.escalated.has(r.id)) li.append(el("span", { class: "q-esc", title: "已升级" }, "升级"));
    return li;
  }));
  tickCountdowns();
}

function tickCountdowns() {
  const now = Date.now();
  let overdue = 0;
  for (const s of document.querySelectorAll(".q-count")) {
    const d = s.dataset.deadline;
    if (!d) { s.textContent = ""; continue; }
    const left = (Date.parse(d) - now) / 1000;
    s.textContent = fmtDuration(left);
    s.classList.toggle("late", left < 0);
    s.classList.toggle("soon", left >= 0 && left < 120);
    if (left < 0) overdue++;
  }
  $("c-overdue").textContent = overdue;
}
setInterval(tickCountdowns, 1000);
// Without a live stream (not yet open, or dropped and retrying) the queue is re-read now and then.
setInterval(() => { if (state.ready && !state.streamOpen && state.token) loadQueue().catch(() => {}); }, 20000);

// today's counts for the user's division
async function loadCounts() {
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10) + "T00:00:00+08:00";
  try {
    const data = await api("GET", "/api/v1/reports?since=" + encodeURIComponent(today) + "&limit=500");
    const t0 = Date.parse(today);
    const items = data.items;
    $("c-new").textContent = items.filter((r) => Date.parse(r.received_at) >= t0).length;
    $("c-ack").textContent = items.filter((r) => ["acknowledged", "dispatched", "on_scene", "resolved"].includes(r.status)).length;
    $("c-resolved").textContent = items.filter((r) => r.status === "resolved").length;
    $("c-esc").textContent = [...state.escalated].filter((id) => state.reports.has(id)).length;
  } catch (e) { /* the strip keeps its last numbers */ }
}

$("queue").addEventListener("keydown", (e) => {
  const items = [...document.querySelectorAll("#queue .q-item")];
  if (!items.length) return;
  let i = items.findIndex((x) => Number(x.dataset.id) === state.selected);
  if (e.key === "ArrowDown") i = Math.min(items.length - 1, i + 1);
  else if (e.key === "ArrowUp") i = Math.max(0, i - 1);
  else if (e.key === "Enter") { if (i >= 0) select(Number(items[i].dataset.id), true); e.preventDefault(); return; }
  else return;
  e.preventDefault();
  state.selected = Number(items[i].dataset.id);
  items.forEach((x) => x.setAttribute("aria-selected", String(Number(x.dataset.id) === state.selected)));
  items[i].scrollIntoView({ block: "nearest" });
  layers.reports.changed();
});

// ---- details ----

async function select(id, fly) {
  state.selected = id;
  renderQueue();
  layers.reports.changed();
  $("detail").hidden = false;
  $("d-msg").textContent = "";
  let r;
  try { r = await api("GET", "/api/v1/reports/" + id); } catch (e) { $("d-msg").textContent = e.message; return; }
  state.reports.set(id, r);
  if (fly !== false && r.location) map.getView().animate({ center: fromLonLat([r.location.lon, r.location.lat]), duration: 400 });
  $("d-title").textContent = "#" + r.id + " " + (CATEGORY[r.category] || r.category) + " · " + (STATUS[r.status] || r.status);
  const fields = [["位置", divisionName(r)], ["人数", r.people_count], ["描述", r.description || "—"],
    ["责任站点", r.responsible_station ? r.responsible_station.name : "—"],
    ["确认期限", r.ack_deadline ? new Date(r.ack_deadline).toLocaleString("zh-CN") : "—"],
    ["上报时间", new Date(r.received_at).toLocaleString("zh-CN")]];
  $("d-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  renderActions(r);
  loadCandidates(r);
  loadPhotos(r);
  loadTimeline(r);
}

async function act(r, body) {
  $("d-msg").textContent = "";
  try {
    const out = await api("POST", "/api/v1/reports/" + r.id + "/events", body);
    if (out && out.id) state.reports.set(out.id, out);
    refreshLayer("reports");
    refreshLayer("units");
    await select(r.id, false);
    loadCounts();
  } catch (e) {
    $("d-msg").textContent = (e.status === 409 ? "操作冲突（409）：" : "操作失败：") + e.message;
  }
}

function renderActions(r) {
  const box = $("d-actions");
  const outcome = el("select", { id: "d-outcome", "aria-label": "办结结果" },
    ...Object.entries(OUTCOME).map(([k, v]) => el("option", { value: k }, v)));
  box.replaceChildren(
    el("button", { id: "b-ack", onclick: () => act(r, { type: "acknowledge" }) }, "确认接收"),
    el("button", { id: "b-arrive", onclick: () => act(r, { type: "arrive" }) }, "到达现场"),
    outcome,
    el("button", { id: "b-resolve", onclick: () => act(r, { type: "resolve", outcome: outcome.value }) }, "办结"));
}

async function loadCandidates(r) {
  const ul = $("d-candidates");
  ul.replaceChildren(el("li", {}, "加载中…"));
  let items;
  try {
    items = (await api("GET", "/api/v1/reports/" + r.id + "/candidates?limit=5")).items.map((c) => ({
      id: c.unit_id, name: c.name, status: c.status,
      note: Math.round(c.distance_m) + " 米 · 约" + Math.round(c.eta_s / 60) + "分钟 · 位置" + fmtAge(c.position_age_s) + (c.stale ? "（过期）" : ""),
    }));
  } catch (e) {
    // Without the candidates endpoint: the available units the map shows.
    items = [...state.units.values()].filter((u) => u.status === "available")
      .map((u) => ({ ...u, note: "位置" + fmtAge(u.age_s) + "（候选接口不可用：" + e.status + "）" }));
  }
  ul.replaceChildren(...items.map((u) => el("li", { class: "cand" },
    el("span", {}, u.name + " · " + (UNIT_STATUS[u.status] || u.status) + " · " + u.note),
    el("button", { class: "b-dispatch", "data-unit": u.id, onclick: () => act(r, { type: "dispatch", unit_id: u.id }) }, "派遣"))));
  if (!items.length) ul.replaceChildren(el("li", {}, "无可用单位"));
}

async function loadPhotos(r) {
  const box = $("d-photos");
  const out = []; // built aside: two loads at once (an action and its event) must not both append
  try {
    const data = await api("GET", "/api/v1/reports/" + r.id + "/photos");
    if (!data.items.length) out.push("无照片");
    for (const p of data.items) {
      const res = await fetch(p.url, { headers: { Authorization: "Bearer " + state.token } });
      if (!res.ok) continue;
      const img = el("img", { alt: "现场照片 " + p.id, class: "photo" });
      img.src = URL.createObjectURL(await res.blob());
      out.push(img);
    }
  } catch (e) { out.push("照片不可用：" + e.message); }
  if (state.selected === r.id) box.replaceChildren(...out);
}

async function loadTimeline(r) {
  const ol = $("d-timeline");
  try {
    const data = await api("GET", "/api/v1/reports/" + r.id + "/timeline");
    ol.replaceChildren(...data.items.map((ev) => el("li", {},
      new Date(ev.at).toLocaleString("zh-CN") + " " + ev.type + (ev.to_status ? " → " + (STATUS[ev.to_status] || ev.to_status) : "") + (ev.actor ? "（" + ev.actor + "）" : ""))));
    if (data.items.some((ev) => ev.type === "escalated")) { state.escalated.add(r.id); }
  } catch (e) { ol.replaceChildren(el("li", {}, e.message)); }
}

function renderUnits() {
  const ul = $("units");
  const arr = [...state.units.values()].sort((a, b) => a.id - b.id);
  ul.replaceChildren(...arr.map((u) => el("li", { "data-unit": u.id, class: "u-" + u.status },
    el("span", { class: "u-name" }, u.name), " ",
    el("span", { class: "u-status" }, UNIT_STATUS[u.status] || u.status), " ",
    el("span", { class: "u-age" }, fmtAge(u.age_s == null ? null : u.age_s + (Date.now() - u.seen) / 1000)))));
}
setInterval(renderUnits, 15000);

// ---- live events ----

async function openStream() {
  if (state.stream) state.stream.close();
  let url = "/api/v1/events";
  try {
    const t = await api("POST", "/api/v1/events/token");
    url += "?access_token=" + encodeURIComponent(t.token);
  } catch (e) {
    $("live").title = "事件流不可用：" + e.message + "（/api/v1/events/token）";
    setTimeout(openStream, 10000);
    return;
  }
  if (state.lastEventId) url += "&after=" + encodeURIComponent(state.lastEventId);
  const es = new EventSource(url);
  state.stream = es;
  es.onopen = () => { state.streamOpen = true; $("live").className = "live on"; };
  es.onerror = () => {
    state.streamOpen = false;
    $("live").className = "live off";
    // Network errors: EventSource reconnects itself with Last-Event-ID. A refused stream (token
    // expired) closes it: make a new one that resumes after the last id seen.
    if (es.readyState === EventSource.CLOSED && state.stream === es) setTimeout(openStream, 1000);
  };
  const handle = (e) => {
    state.lastEventId = e.lastEventId || state.lastEventId;
    let ev;
    try { ev = JSON.parse(e.data); } catch (_) { return; }
    state.eventLog.push({ id: ev.id, kind: ev.kind, entity_id: ev.entity_id, at: Date.now() });
    if (state.eventLog.length > 500) state.eventLog.shift();
    onEvent(ev);
  };
  for (const k of ["report.created", "report.updated", "unit.created", "unit.updated", "unit.position", "photo.added", "message"])
    es.addEventListener(k, handle);
}

function onEvent(ev) {
  const p = ev.payload || {};
  if (ev.kind.startsWith("report.")) {
    const id = ev.entity_id;
    if (p.event === "escalated") state.escalated.add(id);
    const old = state.reports.get(id);
    if (p.status && !OPEN.includes(p.status)) state.reports.delete(id);
    else if (old) Object.assign(old, { status: p.status || old.status, ack_deadline: p.ack_deadline || old.ack_deadline, unit_id: p.unit_id });
    else api("GET", "/api/v1/reports/" + id).then((r) => { state.reports.set(id, r); renderQueue(); }).catch(() => {});
    renderQueue();
    refreshLayer("reports");
    loadCounts();
    if (state.selected === id) select(id, false);
  } else if (ev.kind.startsWith("unit.")) {
    const u = state.units.get(ev.entity_id);
    if (u && p.status) { u.status = p.status; renderUnits(); }
    refreshLayer("units");
  }
}

// ---- place search ----

let searchTimer;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
});
$("search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  clearTimeout(searchTimer);
  const first = await runSearch();
  if (first) flyTo(first);
});
async function runSearch() {
  const q = $("search").value.trim();
  const ul = $("search-results");
  if (!q) { ul.hidden = true; return null; }
  let items;
  try { items = (await api("GET", "/api/v1/places?q=" + encodeURIComponent(q) + "&limit=8")).items; } catch (e) {
    ul.replaceChildren(el("li", { class: "error" }, "地名搜索不可用：" + e.message + "（/api/v1/places）"));
    ul.hidden = false;
    return null;
  }
  ul.replaceChildren(...items.map((p) => el("li", { tabindex: "0", onclick: () => flyTo(p),
    onkeydown: (e) => { if (e.key === "Enter") flyTo(p); } },
  p.name + " ", el("small", {}, (p.parent_chain || []).map((x) => x.name || x).join(" › ") + " " + (p.code || "")))));
  if (!items.length) ul.replaceChildren(el("li", {}, "无结果"));
  ul.hidden = false;
  return items[0] || null;
}
function flyTo(p) {
  clearTimeout(searchTimer);
  $("search-results").hidden = true;
  if (!p.location) return;
  const zoom = { county: 11, town: 13, community: 15 }[p.level] || 15;
  map.getView().animate({ center: fromLonLat([p.location.lon, p.location.lat]), zoom, duration: 600 });
  state.lastFly = p;
}

// ---- patrol coverage (communities not patrolled lately) ----

$("toggle-coverage").addEventListener("change", (e) => layers.coverage.setVisible(e.target.checked));
$("toggle-patrol").addEventListener("change", async (e) => {
  showPatrolGaps = e.target.checked;
  if (showPatrolGaps) {
    try {
      const since = new Date(Date.now() - 24 * 3600e3).toISOString();
      const data = await api("GET", "/api/v1/coverage?since=" + encodeURIComponent(since));
      state.stale = new Set(data.items.filter((c) => !c.last_patrolled_at || c.covered_share < 0.2).map((c) => c.code));
    } catch (err) { $("live").title = "巡查覆盖不可用：" + err.message; }
  }
  layers.divisions.changed();
});

// ---- sign in ----

function logout() {
  if (state.token) fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + state.token } }).catch(() => {});
  state.token = null;
  sessionStorage.removeItem("token");
  if (state.stream) state.stream.close();
  $("login").hidden = false;
}
$("logout").addEventListener("click", logout);

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    const out = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    state.token = out.token;
    sessionStorage.setItem("token", out.token);
    await start();
  } catch (err) {
    $("login-error").textContent = err.status === 429 ? "尝试次数过多，请稍后再试" : "登录失败：" + err.message;
  }
});

/* Demo data synthesises town and community boundaries (the divisions API flags them): say so. */
async function noteSynthetic(code) {
  try {
    let kids = (await api("GET", "/api/v1/divisions/" + code + "/children")).items || [];
    if (!kids.some((d) => d.synthetic) && kids.length)
      kids = (await api("GET", "/api/v1/divisions/" + kids[0].code + "/children")).items || [];
    $("synthetic-note").hidden = !kids.some((d) => d.synthetic);
  } catch (e) { /* the note is only a hint */ }
}

async function start() {
  try { state.user = await api("GET", "/api/v1/auth/me"); } catch (e) { return; }
  const u = state.user.user || state.user;
  $("who").textContent = (u.username || "") + " · " + (u.division_code || "");
  $("login").hidden = true;
  noteSynthetic(u.division_code || "3207");
  refreshLayer("reports");
  refreshLayer("units");
  await loadQueue();
  openStream();
  $("queue").focus();
  state.ready = true;
}
state.reload = () => loadQueue();

if (state.token) start();
