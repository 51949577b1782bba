// main.js - the dispatcher console: an OpenLayers map of our own vector tiles, the queue of open
// reports, report details and actions, live updates, place search. This file only wires the
// modules: shared/api.js (HTTP and the event stream), shared/vocabulary.js (every label),
// state.js (what the console knows, a bus), layers.js + styles.js (the map), events.js (live
// events), panels/ (one module per part of the page), pages.js (the pages and their tabs).
import "ol/ol.css";
import "./console.css";
import { Api } from "../shared/api.js";
import { loadVocabulary } from "../shared/vocabulary.js";
import { $ } from "../shared/dom.js";
import { createState, createBus } from "./state.js";
import { createStyles } from "./styles.js";
import { createMap, addBaseMap } from "./layers.js";
import { HANDLERS, listen, armAlerts } from "./events.js";
import { lazyPage, registerPage, showPage, startPages } from "./pages.js";
import * as counts from "./panels/counts.js";
import * as queue from "./panels/queue.js";
import * as detail from "./panels/detail.js";
import * as units from "./panels/units.js";
import * as search from "./panels/search.js";
import * as legend from "./panels/legend.js";
import { mountAdmin } from "./pages/admin.js";

const state = createState();
const bus = createBus();
const api = new Api({ onUnauthorized: () => logout() });
// Everything a module needs, handed to each: filled in as the console starts.
const ctx = { api, state, bus, vocab: null, styles: null, map: null, layers: null,
  refreshLayer: () => {}, select: () => {}, stream: null };
window.__console = state; // read by the browser test
state.reload = () => queue.loadQueue(ctx);
state.eventKinds = Object.keys(HANDLERS);

// The panels of the dispatch page, mounted in this order (a new panel: its module and one entry).
const DISPATCH_PANELS = [counts, queue, detail, units, search, legend];

function mountDispatch() {
  const m = createMap("map", ctx);
  Object.assign(ctx, { map: m.map, layers: m.layers, refreshLayer: m.refresh });
  state.map = m.map;
  m.map.on("rendercomplete", () => { state.rendered++; });
  bus.on("layer-refresh", (name) => { if (name === "reports") state.reportsOnMap.clear(); });
  // which report ids the loaded tiles hold (the browser test reads them)
  m.layers.reports.getSource().on("tileloadend", (e) => {
    for (const f of e.tile.getFeatures()) {
      state.reportsOnMap.add(f.getId());
      if (f.get("escalated")) state.escalated.add(f.getId());
    }
  });
  m.map.on("singleclick", (e) => {
    const hits = m.map.getFeaturesAtPixel(e.pixel, { layerFilter: (l) => l === m.layers.reports, hitTolerance: 4 });
    if (hits.length) ctx.select(hits[0].getId());
  });
  api.get("/api/v1/console").then((c) => { if (c && c.basemap_url) addBaseMap(m.map, c.basemap_url); }).catch(() => {});
  for (const p of DISPATCH_PANELS) p.mount(ctx);
}

registerPage({ id: "dispatch", label: "调度", minRole: null, mount: mountDispatch,
  show: () => ctx.map && ctx.map.updateSize() });
armAlerts(); // sound and notifications, armed by the user's first gesture (events.js)
mountAdmin(ctx); // the administration pages and the reset-code card of the sign-in (pages/)
// supervisors: figures, the monthly report, station siting; its module (with ECharts) is a chunk
// loaded when the page is first opened, so the dispatch page's first screen does not carry it
registerPage(lazyPage({ id: "stats", label: (c) => c.vocab.label("stats_terms", "ui_page"), minRole: "supervisor",
  load: () => import("./pages/stats.js"), name: "statsPage" }));

function onStream(open, err) {
  state.streamOpen = open;
  $("live").className = "live " + (open ? "on" : "off");
  if (err) $("live").title = "事件流不可用：" + ctx.vocab.errorText(err) + "（/api/v1/events/token）";
}

async function start() {
  let u;
  try { u = await api.get("/api/v1/auth/me"); } catch (e) { return; }
  state.user = u.user || u;
  $("who").textContent = (state.user.username || "") + " · " + (state.user.division_code || "");
  $("login").hidden = true;
  bus.emit("signed-in", state.user);
  ctx.refreshLayer("reports");
  ctx.refreshLayer("units");
  await queue.loadQueue(ctx);
  if (ctx.stream) ctx.stream.close();
  ctx.stream = listen(ctx, onStream);
  startPages(ctx);
  $("queue").focus();
  state.ready = true;
}

function logout() {
  api.logout();
  if (ctx.stream) ctx.stream.close();
  ctx.stream = null;
  onStream(false, null);
  $("login").hidden = false;
  bus.emit("signed-out");
}

// The vocabulary first (every label on the page comes from it), then the dispatch page.
const booted = (async () => {
  for (;;) {
    try {
      ctx.vocab = await loadVocabulary(api);
      break;
    } catch (e) {
      $("login-error").textContent = "无法读取代码表（/api/v1/vocabulary），正在重试…";
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  $("login-error").textContent = "";
  ctx.styles = createStyles(ctx.vocab, state, { patrolGaps: () => !!state.patrolGaps });
  showPage(ctx, "dispatch");
  if (api.token) await start();
})();

$("logout").addEventListener("click", logout);
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  await booted;
  try {
    const out = await api.post("/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    api.setToken(out.token);
    await start();
  } catch (err) {
    $("login-error").textContent = err.status === 429 ? ctx.vocab.errorText(err) : "登录失败：" + ctx.vocab.errorText(err);
  }
});
