// stations.js - the rescue stations on the map, for supervisors (their division) and admins: the
// list, a new station placed by a click, a station moved by dragging it (PATCH its location), its
// coverage drawn or reshaped (OpenLayers Draw / Modify) or given back to its division (null), its
// name, code, tier, address, phone, beds and whether it dispatches. A station's tier is the level
// of its division, so the tiers offered are those of the divisions around its point
// (GET /api/v1/places/reverse). After every change the station and coverage tiles are read again,
// here and on the dispatch map.
import VectorLayer from "ol/layer/Vector.js";
import VectorSource from "ol/source/Vector.js";
import Feature from "ol/Feature.js";
import Point from "ol/geom/Point.js";
import Collection from "ol/Collection.js";
import Translate from "ol/interaction/Translate.js";
import Draw from "ol/interaction/Draw.js";
import Modify from "ol/interaction/Modify.js";
import GeoJSON from "ol/format/GeoJSON.js";
import { fromLonLat, toLonLat } from "ol/proj.js";
import { Style, Stroke, Fill, Circle, RegularShape } from "ol/style.js";
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { createMap, addBaseMap, flyTo } from "../layers.js";
import { cached } from "../styles.js";
import { form, notice, all, inScope, setOptions } from "./kit.js";
import { openAudit } from "./audit.js";

const GEOJSON = new GeoJSON({ dataProjection: "EPSG:4326", featureProjection: "EPSG:3857" });
const round7 = (v) => Math.round(v * 1e7) / 1e7;
const LABELS = { name: "名称", code: "编号", tier: "层级", division_code: "辖区", location: "位置", address: "地址",
  phone: "电话", beds: "床位", can_dispatch: "可派遣", coverage: "覆盖范围", parent_id: "上级站点" };

// What the page holds; read by the browser test (window.__admin.stations).
const S = { stations: new Map(), selected: null, mode: null, map: null, layers: null, loaded: false, saving: 0 };
window.__admin = Object.assign(window.__admin || {}, { stations: S });

let version = 0;
// Reads a static tile layer again, past the browser's cache (a new URL), on every map given.
export function reloadStationTiles(...layerSets) {
  version++;
  for (const layers of layerSets) {
    for (const name of ["stations", "coverage"]) {
      const layer = layers && layers[name];
      if (layer) layer.getSource().setUrl("/tiles/" + name + "/{z}/{x}/{y}.mvt?v=" + version);
    }
  }
}

// ---- looks ----

const selectedRing = () => cached("admin-station-selected", () => new Style({ zIndex: 1,
  image: new Circle({ radius: 12, stroke: new Stroke({ color: "#f08c00", width: 3 }), fill: new Fill({ color: "rgba(240,140,0,0.15)" }) }) }));
const pendingLook = () => cached("admin-station-new", () => new Style({
  image: new RegularShape({ points: 4, radius: 10, angle: Math.PI / 4, fill: new Fill({ color: "#f08c00" }), stroke: new Stroke({ color: "#fff", width: 2 }) }) }));
const coverageLook = (own) => cached("admin-coverage:" + own, () => new Style({
  stroke: new Stroke({ color: own ? "#1864ab" : "#495057", width: 2.5, lineDash: own ? undefined : [8, 6] }),
  fill: new Fill({ color: own ? "rgba(24,100,171,0.10)" : "rgba(73,80,87,0.05)" }) }));

// ---- the page ----

function build(el0, ctx) {
  const ui = {};
  ui.note = notice(ctx);
  ui.place = el("button", { type: "button", id: "st-place", "aria-pressed": "false" }, "在地图上添加站点");
  ui.hint = el("span", { class: "hint", id: "st-hint" });
  ui.filter = el("input", { id: "st-filter", type: "search", autocomplete: "off" });
  ui.tier = el("select", { id: "st-tier" });
  ui.count = el("small", { id: "st-count" });
  ui.list = el("ul", { id: "st-list", class: "pick-list", "aria-label": "站点列表" });
  ui.detail = el("section", { id: "st-detail", class: "card-box", hidden: "", "aria-labelledby": "st-detail-h" });
  ui.fresh = el("section", { id: "st-new", class: "card-box", hidden: "", "aria-labelledby": "st-new-h" });
  ui.map = el("div", { id: "st-map", class: "admin-map", tabindex: "-1", "aria-label": "站点地图" });
  el0.classList.add("admin-page", "map-page");
  el0.append(
    el("div", { class: "map-col" }, el("div", { class: "toolbar" }, ui.place, ui.hint), ui.map, ui.note.el),
    el("aside", { class: "side-col" },
      el("h2", {}, "站点 ", ui.count),
      el("div", { class: "filters" },
        el("label", { for: "st-filter" }, "查找"), ui.filter,
        el("label", { for: "st-tier" }, "层级"), ui.tier),
      ui.list, ui.fresh, ui.detail));
  return ui;
}

function createStationMap(ctx, ui) {
  const m = createMap(ui.map, ctx);
  // the editable points come from the API (fresh after every change); the tiles keep the rest
  for (const name of ["stations", "units", "reports"]) if (m.layers[name]) m.layers[name].setVisible(false);
  const points = new VectorSource(), cover = new VectorSource(), pending = new VectorSource();
  const pointLayer = new VectorLayer({ source: points, zIndex: 12, properties: { name: "admin-stations" },
    style: (f, res) => (f.getId() === S.selected ? [selectedRing(), ctx.styles.station(f, 1)] : ctx.styles.station(f, res)) });
  const coverLayer = new VectorLayer({ source: cover, zIndex: 11, style: (f) => coverageLook(!!f.get("own")) });
  const pendingLayer = new VectorLayer({ source: pending, zIndex: 13, style: pendingLook });
  for (const l of [coverLayer, pointLayer, pendingLayer]) m.map.addLayer(l);
  const dragging = new Collection();
  const translate = new Translate({ features: dragging, hitTolerance: 8 });
  m.map.addInteraction(translate);
  Object.assign(S, { map: m.map, layers: m.layers, points, cover, pending, pointLayer, dragging, translate });
  ctx.api.get("/api/v1/console").then((c) => { if (c && c.basemap_url) addBaseMap(m.map, c.basemap_url); }).catch(() => {});
  return m;
}

function stationFeature(s) {
  const f = new Feature({ geometry: new Point(fromLonLat([s.location.lon, s.location.lat])), name: s.name, tier: s.tier });
  f.setId(s.id);
  return f;
}

// ---- the list ----

function renderList(ctx, ui) {
  const q = ui.filter.value.trim(), tier = ui.tier.value;
  const rows = [...S.stations.values()].filter((s) => (!tier || s.tier === tier) &&
    (!q || s.name.includes(q) || (s.code || "").includes(q) || (s.division_name || "").includes(q)));
  ui.count.textContent = rows.length + " / " + S.stations.size;
  ui.list.replaceChildren(...rows.map((s) => el("li", {},
    el("button", { type: "button", "data-id": s.id, "aria-current": s.id === S.selected ? "true" : null,
      onclick: () => select(ctx, ui, s.id, true) },
      el("b", {}, s.name),
      el("small", {}, ctx.vocab.label("tiers", s.tier) + " · " + (s.division_name || s.division_code) + (s.can_dispatch ? "" : " · 不派遣"))))));
}

async function load(ctx, ui) {
  try {
    const items = await all(ctx, "/api/v1/stations");
    S.stations = new Map(items.map((s) => [s.id, s]));
    S.points.clear();
    S.points.addFeatures(items.map(stationFeature));
    S.loaded = true;
    renderList(ctx, ui);
    if (S.selected && S.stations.has(S.selected)) select(ctx, ui, S.selected, false);
  } catch (e) {
    ui.note.fail(e);
  }
}

// A station as the server answered it: list, point and details follow.
function update(ctx, ui, s) {
  S.stations.set(s.id, s);
  const f = S.points.getFeatureById(s.id);
  if (f) {
    f.getGeometry().setCoordinates(fromLonLat([s.location.lon, s.location.lat]));
    f.setProperties({ name: s.name, tier: s.tier });
  } else {
    S.points.addFeature(stationFeature(s));
  }
  renderList(ctx, ui);
  reloadStationTiles(S.layers, ctx.layers);
}

// ---- the divisions around a point: the tiers a station there may have ----

async function around(ctx, lon, lat) {
  const r = await ctx.api.get("/api/v1/places/reverse?lon=" + lon + "&lat=" + lat);
  return r.divisions || [];
}

// Options of a tier select: each tier with the division of its level around the point; a tier
// whose division is missing or outside the user's is offered disabled.
function tierOptions(ctx, divisions) {
  return ctx.vocab.terms("tiers").map((t) => {
    const d = divisions.find((x) => x.level === t.code);
    return [t.code, t.label + (d ? " · " + d.name : "（无）"), !d || !inScope(ctx, d.code)];
  });
}

// ---- one station ----

async function select(ctx, ui, id, fly) {
  const s = S.stations.get(id);
  if (!s) return;
  endModes(ctx, ui);
  S.selected = id;
  S.dragging.clear();
  const f = S.points.getFeatureById(id);
  if (f) S.dragging.push(f);
  S.pointLayer.changed();
  ui.fresh.hidden = true;
  renderList(ctx, ui);
  renderDetail(ctx, ui, s);
  if (fly) flyTo(S.map, s.location, Math.max(S.map.getView().getZoom(), 12));
  showCoverage(ctx, s);
}

async function showCoverage(ctx, s) {
  S.cover.clear();
  S.coverDirty = false;
  let geom = null;
  try {
    geom = s.coverage_own ? (await ctx.api.get("/api/v1/stations/" + s.id)).coverage
      : (await ctx.api.get("/api/v1/divisions/" + s.division_code + "?geometry=geojson&simplify=5")).geometry;
  } catch (_) { /* the point alone */ }
  if (!geom || S.selected !== s.id) return;
  S.cover.clear();
  S.cover.addFeature(new Feature({ geometry: GEOJSON.readGeometry(geom), own: s.coverage_own }));
}

function renderDetail(ctx, ui, s) {
  const tier = { name: "tier", label: LABELS.tier, type: "select", options: tierOptions(ctx, [{ level: s.tier, code: s.division_code, name: s.division_name }]) };
  const f = form(ctx, {
    submit: "保存修改",
    labels: LABELS,
    fields: [
      { name: "name", label: LABELS.name, required: true, maxlength: 200, value: s.name },
      { name: "code", label: LABELS.code, maxlength: 40, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,39}", value: s.code },
      tier,
      { name: "address", label: LABELS.address, maxlength: 200, value: s.address },
      { name: "phone", label: LABELS.phone, maxlength: 50, value: s.phone, inputmode: "tel" },
      { name: "beds", label: LABELS.beds, type: "number", min: 0, max: 100000, value: s.beds },
      { name: "can_dispatch", label: "可派遣巡查单位", type: "checkbox", value: s.can_dispatch },
    ],
    onSubmit: (v, fm) => saveDetail(ctx, ui, s, v, fm),
  });
  f.inputs.tier.value = s.tier;
  // the tiers of the divisions around the station's point
  around(ctx, s.location.lon, s.location.lat).then((ds) => {
    S.around = ds;
    setOptions(f.inputs.tier, tierOptions(ctx, ds));
    f.inputs.tier.value = s.tier;
  }).catch(() => {});
  S.detailForm = f;
  const cov = coverageTools(ctx, ui, s);
  ui.detail.replaceChildren(
    el("h3", { id: "st-detail-h" }, s.name),
    el("dl", { class: "facts" },
      el("dt", {}, LABELS.division_code), el("dd", { id: "st-division" }, s.division_name || s.division_code),
      el("dt", {}, LABELS.location), el("dd", { id: "st-location" }, s.location.lon.toFixed(6) + ", " + s.location.lat.toFixed(6)),
      el("dt", {}, LABELS.coverage), el("dd", { id: "st-coverage" }, s.coverage_own ? "自定范围" : "沿用辖区边界"),
      el("dt", {}, "更新于"), el("dd", {}, fmtTime(s.updated_at))),
    el("p", { class: "hint" }, "拖动地图上带橙色圆圈的站点可移动它。"),
    f.el, cov,
    el("p", {}, el("button", { type: "button", class: "link", onclick: () => openAudit(ctx, { entity: "station", entity_id: s.id }) }, "查看本站点的操作记录")));
  ui.detail.hidden = false;
}

async function saveDetail(ctx, ui, s, v) {
  const body = {};
  if (v.name !== s.name) body.name = v.name;
  for (const k of ["address", "phone"]) if ((v[k] || null) !== (s[k] || null)) body[k] = v[k] || null;
  if (v.code && v.code !== s.code) body.code = v.code;
  if (v.beds !== s.beds) body.beds = v.beds;
  if (v.can_dispatch !== s.can_dispatch) body.can_dispatch = v.can_dispatch;
  if (v.tier !== s.tier) {
    const d = (S.around || []).find((x) => x.level === v.tier);
    if (d) Object.assign(body, { tier: v.tier, division_code: d.code });
  }
  if (!Object.keys(body).length) { S.detailForm.ok("没有改动"); return; }
  const out = await ctx.api.request("PATCH", "/api/v1/stations/" + s.id, body);
  update(ctx, ui, out);
  await select(ctx, ui, out.id, false);
  S.detailForm.ok("已保存");
}

// ---- moving a station by dragging ----

function onTranslate(ctx, ui) {
  S.translate.on("translatestart", (e) => {
    S.dragFrom = e.features.item(0).getGeometry().getCoordinates().slice();
  });
  S.translate.on("translateend", (e) => {
    const f = e.features.item(0);
    if (f.get("pending")) { placeAt(ctx, ui, f.getGeometry().getCoordinates()); return; }
    move(ctx, ui, f, S.dragFrom);
  });
}

async function move(ctx, ui, f, from, to) {
  const id = f.getId(), s = S.stations.get(id);
  const [lon, lat] = toLonLat(to || f.getGeometry().getCoordinates());
  S.saving++;
  try {
    const out = await ctx.api.request("PATCH", "/api/v1/stations/" + id, { location: { lon: round7(lon), lat: round7(lat) } });
    update(ctx, ui, out);
    if (S.selected === id) select(ctx, ui, id, false);
    const back = el("button", { type: "button", class: "link", onclick: () => move(ctx, ui, f, null, from) }, "还原");
    ui.note.ok("已移动“" + s.name + "”到 " + out.location.lon.toFixed(6) + ", " + out.location.lat.toFixed(6) + "　", to ? "" : back);
  } catch (e) {
    f.getGeometry().setCoordinates(fromLonLat([s.location.lon, s.location.lat]));
    ui.note.fail(e, LABELS);
  } finally {
    S.saving--;
  }
}

// ---- a new station ----

function startPlace(ctx, ui) {
  endModes(ctx, ui);
  S.mode = "place";
  ui.place.setAttribute("aria-pressed", "true");
  ui.hint.textContent = "在地图上点击新站点的位置（Esc 取消）";
}

async function placeAt(ctx, ui, coord) {
  S.mode = null;
  ui.place.setAttribute("aria-pressed", "false");
  ui.hint.textContent = "可拖动橙色方块调整位置";
  S.pending.clear();
  const f = new Feature({ geometry: new Point(coord), pending: true });
  S.pending.addFeature(f);
  S.dragging.clear();
  S.dragging.push(f);
  const [lon, lat] = toLonLat(coord).map(round7);
  let divisions = [];
  try { divisions = await around(ctx, lon, lat); } catch (e) { ui.note.fail(e); }
  renderNew(ctx, ui, { lon, lat }, divisions);
}

function renderNew(ctx, ui, loc, divisions) {
  const keep = S.newForm ? S.newForm.values() : null;
  const options = tierOptions(ctx, divisions);
  const f = form(ctx, {
    submit: "添加",
    labels: LABELS,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => cancelNew(ctx, ui) }, "取消")],
    fields: [
      el("p", { id: "st-new-loc", class: "field", "data-field": "location" }, LABELS.location + "：" + loc.lon.toFixed(6) + ", " + loc.lat.toFixed(6)),
      { name: "name", label: LABELS.name, required: true, maxlength: 200 },
      { name: "code", label: LABELS.code + "（可不填）", maxlength: 40, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,39}" },
      { name: "tier", label: LABELS.tier, type: "select", options, required: true },
      { name: "address", label: LABELS.address, maxlength: 200 },
      { name: "phone", label: LABELS.phone, maxlength: 50, inputmode: "tel" },
      { name: "beds", label: LABELS.beds, type: "number", min: 0, max: 100000 },
      { name: "can_dispatch", label: "可派遣巡查单位", type: "checkbox", value: true },
    ],
    onSubmit: (v) => create(ctx, ui, loc, divisions, v),
  });
  if (keep) f.set(keep);
  // the most local tier the user may use by default
  const usable = options.filter((o) => !o[2]);
  if (!keep && usable.length) f.inputs.tier.value = usable[usable.length - 1][0];
  S.newForm = f;
  ui.fresh.replaceChildren(el("h3", { id: "st-new-h" }, "添加站点"), f.el);
  ui.fresh.hidden = false;
  ui.detail.hidden = true;
  if (!keep) f.inputs.name.focus();
}

async function create(ctx, ui, loc, divisions, v) {
  const d = divisions.find((x) => x.level === v.tier);
  if (!d) throw "这个位置没有该层级的辖区";
  const body = { name: v.name, tier: v.tier, division_code: d.code, location: { lon: loc.lon, lat: loc.lat }, can_dispatch: v.can_dispatch };
  for (const k of ["code", "address", "phone"]) if (v[k]) body[k] = v[k];
  if (v.beds != null) body.beds = v.beds;
  const s = await ctx.api.post("/api/v1/stations", body);
  S.pending.clear();
  S.newForm = null;
  ui.hint.textContent = "";
  update(ctx, ui, s);
  await select(ctx, ui, s.id, false);
  ui.note.ok("已添加站点“" + s.name + "”");
}

function cancelNew(ctx, ui) {
  S.pending.clear();
  S.newForm = null;
  S.dragging.clear();
  ui.fresh.hidden = true;
  ui.hint.textContent = "";
  if (S.selected) select(ctx, ui, S.selected, false);
}

// ---- coverage ----

function coverageTools(ctx, ui, s) {
  const msg = notice(ctx);
  const b = (id, text, fn) => el("button", { type: "button", id, class: "secondary", onclick: fn }, text);
  const save = b("st-cov-save", "保存覆盖范围", () => saveCoverage(ctx, ui, s, msg));
  const undo = b("st-cov-undo", "放弃修改", () => { endModes(ctx, ui); showCoverage(ctx, s); save.disabled = undo.disabled = true; msg.clear(); });
  save.disabled = undo.disabled = true;
  const dirty = () => { S.coverDirty = true; save.disabled = undo.disabled = false; };
  const draw = b("st-cov-draw", "绘制覆盖范围", () => startDraw(ctx, ui, msg, dirty));
  const reshape = b("st-cov-modify", "调整覆盖范围", () => startModify(ctx, ui, msg, dirty));
  const reset = b("st-cov-reset", "恢复为辖区边界", () => saveCoverage(ctx, ui, s, msg, true));
  reset.disabled = !s.coverage_own;
  return el("fieldset", { class: "cov-tools" }, el("legend", {}, LABELS.coverage),
    el("div", { class: "buttons" }, draw, reshape, save, undo, reset), msg.el);
}

function startDraw(ctx, ui, msg, dirty) {
  endModes(ctx, ui);
  S.mode = "draw";
  const draw = new Draw({ type: "Polygon" });
  draw.on("drawend", (e) => {
    S.cover.clear();
    e.feature.set("own", true);
    S.cover.addFeature(e.feature);
    endModes(ctx, ui);
    dirty();
    msg.info("已画好，保存后生效");
  });
  S.draw = draw;
  S.map.addInteraction(draw);
  ui.hint.textContent = "依次点击覆盖范围的各个顶点，双击结束（Esc 取消）";
  msg.info("在地图上画出覆盖范围");
}

function startModify(ctx, ui, msg, dirty) {
  endModes(ctx, ui);
  if (!S.cover.getFeatures().length) { msg.fail("没有可调整的范围，请先绘制"); return; }
  S.mode = "modify";
  const modify = new Modify({ source: S.cover });
  modify.on("modifyend", () => { for (const f of S.cover.getFeatures()) f.set("own", true); dirty(); });
  S.modify = modify;
  S.map.addInteraction(modify);
  ui.hint.textContent = "拖动边界上的点调整范围，按住 Alt 点击可删除顶点；完成后保存";
}

async function saveCoverage(ctx, ui, s, msg, reset) {
  const f = S.cover.getFeatures()[0];
  if (!reset && !f) return;
  const coverage = reset ? null : GEOJSON.writeGeometryObject(f.getGeometry(), { decimals: 7 });
  try {
    const out = await ctx.api.request("PATCH", "/api/v1/stations/" + s.id, { coverage });
    endModes(ctx, ui);
    update(ctx, ui, out);
    await select(ctx, ui, out.id, false);
    ui.note.ok(reset ? "“" + out.name + "”的覆盖范围已恢复为辖区边界" : "“" + out.name + "”的覆盖范围已保存");
  } catch (e) {
    msg.fail(e, LABELS);
  }
}

function endModes(ctx, ui) {
  if (S.draw) S.map.removeInteraction(S.draw);
  if (S.modify) S.map.removeInteraction(S.modify);
  S.draw = S.modify = null;
  if (S.mode === "place") ui.place.setAttribute("aria-pressed", "false");
  S.mode = null;
  ui.hint.textContent = "";
}

// ---- wiring ----

function mount(el0, ctx) {
  const ui = build(el0, ctx);
  S.ui = ui;
  setOptions(ui.tier, [["", "全部"], ...ctx.vocab.terms("tiers").map((t) => [t.code, t.label])]);
  const m = createStationMap(ctx, ui);
  onTranslate(ctx, ui);
  m.map.on("singleclick", (e) => {
    if (S.mode === "place") { placeAt(ctx, ui, e.coordinate); return; }
    if (S.mode) return;
    const hits = m.map.getFeaturesAtPixel(e.pixel, { layerFilter: (l) => l === S.pointLayer, hitTolerance: 6 });
    if (hits.length) select(ctx, ui, hits[0].getId(), false);
  });
  ui.place.addEventListener("click", () => (S.mode === "place" ? endModes(ctx, ui) : startPlace(ctx, ui)));
  ui.filter.addEventListener("input", () => renderList(ctx, ui));
  ui.tier.addEventListener("change", () => renderList(ctx, ui));
  el0.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !S.mode) return;
    if (S.draw) S.draw.abortDrawing();
    endModes(ctx, ui);
  });
  S.ctx = ctx;
  S.user = ctx.state.user.id;
  load(ctx, ui);
}

export const stationsPage = {
  mount,
  show() {
    S.map.updateSize();
    const me = S.ctx.state.user.id;
    if (S.user === me) return;
    // another user signed in since: the stations of its own division
    S.user = me;
    S.selected = null;
    S.ui.detail.hidden = true;
    load(S.ctx, S.ui);
  },
};
