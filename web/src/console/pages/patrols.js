// patrols.js - joint street patrols (issue 18): the 巡查计划 page and the campaign summary page.
// The plan page shows a week (GET /api/v1/patrol-ledger?week=): per county its plans × days with
// their windows (in the city's time zone, GET /api/v1/console), units and how each window went;
// the targets on a map coloured by the ledger (met, behind, missed: the vocabulary's
// walked_statuses), a click listing their verified visits; live patrol.visit / patrol.overdue
// events (events.js puts them on the bus) read the ledger again and an overdue plan is announced.
// Supervisors and admins edit plans (POST/PATCH /api/v1/patrol-plans): name, division, campaign,
// weekly or one-off windows, units of several agencies, targets (a division, a drawn polygon, or
// a point + radius), visits per week, dwell, time of day, required agency kinds. The campaign page
// shows GET /api/v1/campaigns/{id}/summary per county and in total.
import VectorLayer from "ol/layer/Vector.js";
import VectorSource from "ol/source/Vector.js";
import Feature from "ol/Feature.js";
import Draw from "ol/interaction/Draw.js";
import GeoJSON from "ol/format/GeoJSON.js";
import { toLonLat } from "ol/proj.js";
import { Style, Stroke, Fill, Text } from "ol/style.js";
import { el } from "../../shared/dom.js";
import { createMap, addBaseMap } from "../layers.js";
import { cached } from "../styles.js";
import { form, notice, all, table, divisionPicker, divisionText, fromLocalInput, localInput, shortTime, uid } from "./kit.js";

const GEOJSON = new GeoJSON({ dataProjection: "EPSG:4326", featureProjection: "EPSG:3857" });
const DAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
const LABELS = { name: "名称", division_code: "辖区", campaign_id: "所属行动", unit_ids: "参加单位", weekly: "每周时段",
  windows: "时段", starts_on: "开始日期", ends_on: "结束日期", targets: "巡查目标", area: "范围", visits_per_week: "每周次数",
  min_dwell_min: "最短停留（分钟）", time_window: "时间段", agencies: "须到场的部门", radius_m: "半径（米）" };
// ledger state of a target -> the walked_statuses code whose label names it
const LOOK = { met: ["complete", "#2b8a3e"], behind: ["partial", "#f08c00"], missed: ["missed", "#c92a2a"] };

// What the page holds; read by the browser test (window.__patrols).
const S = { week: null, ledger: null, plans: new Map(), units: [], agencies: new Map(), tz: "Asia/Shanghai",
  loads: 0, overdue: [], selected: null, draft: null };
window.__patrols = S;

const canEdit = (ctx) => ctx.vocab.rank("roles", ctx.state.user.role) >= ctx.vocab.rank("roles", "supervisor");

// The ISO week of a date ("2026-W49").
function isoWeek(d) {
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
  const y = t.getUTCFullYear(), w = Math.ceil(((t - Date.UTC(y, 0, 1)) / 86400000 + 1) / 7);
  return y + "-W" + String(w).padStart(2, "0");
}

// The day (0 Monday .. 6) and HH:MM of a time in the city's zone.
function cityTime(t) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: S.tz, weekday: "short", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  return { day: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(parts.weekday), hm: parts.hour + ":" + parts.minute };
}

// met / behind / missed of a ledger target
const stateOf = (t) => (t.met ? "met" : t.verified > 0 ? "behind" : "missed");

const targetLook = (state, sel) => cached("patrol-target:" + state + ":" + sel, () => new Style({ zIndex: sel ? 2 : 1,
  stroke: new Stroke({ color: LOOK[state][1], width: sel ? 4 : 2.5 }),
  fill: new Fill({ color: LOOK[state][1] + (sel ? "55" : "33") }) }));
const draftLook = () => cached("patrol-draft", () => new Style({ stroke: new Stroke({ color: "#1864ab", width: 2, lineDash: [6, 4] }),
  fill: new Fill({ color: "rgba(24,100,171,0.12)" }) }));

// ---- the plan page ----

function build(root, ctx) {
  const ui = { note: notice(ctx), alert: el("div", { id: "pp-alerts", role: "alert", class: "msg error" }) };
  ui.week = el("input", { id: "pp-week", type: "week", value: isoWeek(new Date()) });
  ui.map = el("div", { id: "pp-map", class: "admin-map", "aria-label": "巡查目标地图" });
  ui.legend = el("p", { id: "pp-legend", class: "hint" });
  ui.grid = el("div", { id: "pp-week-view" });
  ui.detail = el("section", { id: "pp-visits", class: "card-box", hidden: "" });
  ui.editor = el("section", { id: "pp-editor", class: "card-box", hidden: "" });
  ui.add = el("button", { type: "button", id: "pp-new", onclick: () => openEditor(ctx, ui, null) }, ctx.vocab.label("audit_actions", "patrol_plan.create"));
  ui.add.hidden = !canEdit(ctx);
  root.classList.add("map-page");
  root.append(
    el("div", { class: "map-col" }, el("div", { class: "toolbar" }, el("label", { for: "pp-week" }, "周次 "), ui.week,
      ui.add, ui.legend), ui.map, ui.alert, ui.note.el),
    el("aside", { class: "side-col" }, el("h2", {}, ctx.vocab.label("audit_entities", "patrol_plan")), ui.editor, ui.detail, ui.grid));
  ui.week.addEventListener("change", () => load(ctx, ui));
  ui.legend.append(...Object.values(LOOK).map(([code, color]) =>
    el("span", { class: "legend-item" }, el("b", { style: "color:" + color }, "■ "), ctx.vocab.label("walked_statuses", code), "　")));
  return ui;
}

function createTargetMap(ctx, ui) {
  const m = createMap(ui.map, ctx);
  for (const name of ["stations", "units", "reports"]) if (m.layers[name]) m.layers[name].setVisible(false);
  S.targets = new VectorSource();
  S.draftSource = new VectorSource();
  S.map = m.map;
  m.map.addLayer(new VectorLayer({ source: S.targets, zIndex: 12, properties: { name: "patrol-ledger" },
    style: (f) => targetLook(f.get("state"), f.getId() === S.selected) }));
  m.map.addLayer(new VectorLayer({ source: S.draftSource, zIndex: 13, style: draftLook }));
  m.map.on("singleclick", (e) => {
    if (S.mode) return;
    const hit = m.map.forEachFeatureAtPixel(e.pixel, (f) => f, { layerFilter: (l) => l.get("name") === "patrol-ledger", hitTolerance: 4 });
    if (hit) showVisits(ctx, ui, hit.getId());
  });
  ctx.api.get("/api/v1/console").then((c) => {
    if (c && c.timezone) S.tz = c.timezone;
    if (c && c.basemap_url) addBaseMap(m.map, c.basemap_url);
  }).catch(() => {});
}

// Reads the week's ledger and the plans it names (their units and target areas).
async function load(ctx, ui) {
  const mine = ++S.loads;
  try {
    const week = ui.week.value || isoWeek(new Date());
    const [ledger, plans] = await Promise.all([ctx.api.get("/api/v1/patrol-ledger?week=" + encodeURIComponent(week)),
      all(ctx, "/api/v1/patrol-plans")]);
    if (mine !== S.loads) return;
    S.week = week;
    S.ledger = ledger;
    S.plans = new Map(plans.map((p) => [p.id, p]));
    drawTargets();
    renderWeek(ctx, ui);
    if (S.selected) showVisits(ctx, ui, S.selected);
    S.loaded = (S.loaded || 0) + 1;
  } catch (e) {
    ui.note.fail(e);
  }
}

// The ledger's targets with their areas, coloured by how the week goes.
function drawTargets() {
  const feats = [];
  for (const lp of S.ledger.plans) {
    const plan = S.plans.get(lp.id);
    for (const t of lp.targets) {
      const area = plan && plan.targets.find((x) => x.id === t.id);
      if (!area) continue;
      const f = new Feature({ geometry: GEOJSON.readGeometry(area.geometry), state: stateOf(t), plan: lp.id });
      f.setId(t.id);
      feats.push(f);
    }
  }
  S.targets.clear();
  S.targets.addFeatures(feats);
  S.states = Object.fromEntries(feats.map((f) => [f.getId(), f.get("state")]));
}

function ledgerTarget(id) {
  for (const lp of S.ledger.plans) for (const t of lp.targets) if (t.id === id) return { lp, t };
  return null;
}

function unitName(id) {
  for (const p of S.plans.values()) for (const u of p.units) if (u.id === id) return u.name;
  return "#" + id;
}

// A target's verified visits: times, dwell, agencies, units.
function showVisits(ctx, ui, id) {
  const hit = ledgerTarget(id);
  if (!hit) { ui.detail.hidden = true; return; }
  S.selected = id;
  S.targets.changed();
  const { lp, t } = hit, st = stateOf(t);
  const rows = t.visits.map((v) => el("tr", {}, el("td", {}, shortTime(v.from) + " – " + shortTime(v.to).slice(6)),
    el("td", {}, String(v.dwell_min)), el("td", {}, v.agencies.map((k) => ctx.vocab.label("agency_kinds", k)).join("、")),
    el("td", {}, v.unit_ids.map(unitName).join("、"))));
  ui.detail.replaceChildren(el("h3", {}, (t.name || "目标 #" + t.id) + " · " + lp.name),
    el("p", { id: "pp-target-state", "data-state": st }, ctx.vocab.label("walked_statuses", LOOK[st][0]) + "：本周 " + t.verified +
      " / " + t.visits_needed + " 次" + (t.gap ? "，还差 " + t.gap + " 次" : "") + "（每次至少 " + t.min_dwell_min + " 分钟）"),
    rows.length ? table("有效巡查", ["时间", "停留（分钟）", "到场部门", "单位"], rows) : el("p", { class: "hint" }, "本周还没有有效巡查"));
  ui.detail.hidden = false;
}

// The week view: per county, its plans × the seven days, each window with its time and outcome.
function renderWeek(ctx, ui) {
  const counties = new Map();
  for (const lp of S.ledger.plans) {
    const c = lp.division_code.slice(0, 6).padEnd(12, "0");
    if (!counties.has(c)) counties.set(c, []);
    counties.get(c).push(lp);
  }
  const parts = [];
  for (const [code, plans] of counties) {
    const rows = plans.map((lp) => {
      const plan = S.plans.get(lp.id), days = DAYS.map(() => []);
      for (const w of lp.windows) {
        const a = cityTime(w.starts_at), z = cityTime(w.ends_at);
        days[a.day].push(el("div", { class: "pp-window" + (w.overdue ? " overdue" : "") }, a.hm + "–" + z.hm,
          w.status ? el("small", {}, " " + ctx.vocab.label("walked_statuses", w.status)) : null,
          w.overdue ? el("small", {}, " " + ctx.vocab.label("event_kinds", "patrol.overdue")) : null));
      }
      const units = plan ? plan.units.map((u) => u.name + (u.agency_kind ? "（" + ctx.vocab.label("agency_kinds", u.agency_kind) + "）" : "")) : [];
      const name = el("th", { scope: "row" }, canEdit(ctx) && plan
        ? el("button", { type: "button", class: "link", "data-plan": lp.id, onclick: () => openEditor(ctx, ui, plan) }, lp.name) : lp.name,
        el("small", { class: "pp-units" }, units.join("、")),
        el("small", {}, lp.targets.map((t) => (t.name || "#" + t.id) + " " + t.verified + "/" + t.visits_needed).join("，")));
      return el("tr", { "data-plan": lp.id }, name, ...days.map((d) => el("td", {}, ...d)));
    });
    const cap = el("span", {}, divisionText(ctx, code));
    parts.push(el("table", { class: "grid pp-week" }, el("caption", {}, cap),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "计划"), ...DAYS.map((d) => el("th", { scope: "col" }, d)))),
      el("tbody", {}, ...rows)));
  }
  ui.grid.replaceChildren(...(parts.length ? parts : [el("p", { class: "hint" }, S.week + " 没有计划")]));
}

// ---- live events ----

function onPatrolEvent(ctx, ui, ev) {
  clearTimeout(S.timer);
  S.timer = setTimeout(() => load(ctx, ui), 300);
  if (ev.kind !== "patrol.overdue") return;
  const p = ev.payload || {};
  S.overdue.push(ev.id);
  ui.alert.append(el("p", { class: "pp-overdue" }, ctx.vocab.label("event_kinds", "patrol.overdue") + "：" +
    (p.plan_name || "计划 #" + p.plan_id) + (p.window_starts_at ? "（" + shortTime(p.window_starts_at) + " 开始的时段）" : "")));
}

// ---- the plan editor ----

function checkList(name, options, chosen) {
  return el("fieldset", { class: "field checks", "data-field": name }, el("legend", {}, LABELS[name]),
    ...options.map(([v, text]) => {
      const id = uid("c-" + name);
      return el("span", { class: "check" }, el("input", { type: "checkbox", id, value: String(v), checked: chosen.includes(v) ? "" : null }),
        el("label", { for: id }, text));
    }));
}
const checked = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

// The editor's unit list: every unit the user sees, grouped by agency kind.
async function loadUnits(ctx) {
  if (S.units.length) return;
  const [units, agencies] = await Promise.all([all(ctx, "/api/v1/units"), all(ctx, "/api/v1/agencies")]);
  S.agencies = new Map(agencies.map((a) => [a.id, a]));
  S.units = units;
}

async function openEditor(ctx, ui, plan) {
  endDraw();
  try { await loadUnits(ctx); } catch (e) { ui.note.fail(e); return; }
  let campaigns = [];
  try { campaigns = await all(ctx, "/api/v1/campaigns"); } catch (_) { /* none */ }
  const p = plan || { name: "", division_code: null, campaign_id: null, unit_ids: [], weekly: { days: [1, 2, 3, 4, 5, 6, 7], from: "20:00", to: "22:00" }, targets: [] };
  S.draft = { plan: p, targets: p.targets.map((t) => ({ ...t, area: t.division_code ? { division_code: t.division_code }
    : t.center ? { point: t.center, radius_m: t.radius_m } : { polygon: t.geometry } })) };
  const div = divisionPicker(ctx, { label: LABELS.division_code, value: p.division_code });
  const w0 = plan && plan.windows && plan.windows[0];
  S.onceShown = w0 ? [localInput(new Date(w0.starts_at)), localInput(new Date(w0.ends_at))] : ["", ""];
  const kind = (u) => { const a = S.agencies.get(u.agency_id); return a ? ctx.vocab.label("agency_kinds", a.kind) : "未归属部门"; };
  const units = checkList("unit_ids", S.units.map((u) => [u.id, u.name + "（" + kind(u) + "）"]).sort((a, b) => a[1].localeCompare(b[1], "zh")), p.unit_ids);
  const days = checkList("weekly", DAYS.map((d, i) => [i + 1, d]), p.weekly ? p.weekly.days : []);
  const targets = el("fieldset", { class: "field", "data-field": "targets" }, el("legend", {}, LABELS.targets));
  const f = form(ctx, {
    submit: plan ? "保存修改" : "新建计划",
    errorLabels: fieldLabel,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => closeEditor(ui) }, "取消")],
    fields: [
      { name: "name", label: LABELS.name, required: true, maxlength: 200, value: p.name },
      div.el,
      { name: "campaign_id", label: LABELS.campaign_id, type: "select", options: [["", "（无）"], ...campaigns.map((c) => [String(c.id), c.name])], value: p.campaign_id },
      { name: "mode", label: "时段方式", type: "select", options: [["weekly", "每周固定时段"], ["once", "一次性时段"]], value: p.weekly || !plan ? "weekly" : "once" },
      days,
      { name: "weekly_from", label: "每周从", type: "time", value: p.weekly ? p.weekly.from : "20:00" },
      { name: "weekly_to", label: "到", type: "time", value: p.weekly ? p.weekly.to : "22:00" },
      { name: "once_from", label: "开始时间", type: "datetime-local", value: S.onceShown[0] },
      { name: "once_to", label: "结束时间", type: "datetime-local", value: S.onceShown[1] },
      units, targets,
    ],
    onSubmit: (v) => savePlan(ctx, ui, plan, v, div.value(), units, days),
  });
  f.inputs.campaign_id.value = p.campaign_id ? String(p.campaign_id) : "";
  const modeShown = () => {
    const weekly = f.inputs.mode.value === "weekly";
    for (const n of ["weekly_from", "weekly_to"]) f.inputs[n].closest(".field").hidden = !weekly;
    days.hidden = !weekly;
    for (const n of ["once_from", "once_to"]) f.inputs[n].closest(".field").hidden = weekly;
  };
  f.inputs.mode.addEventListener("change", modeShown);
  modeShown();
  S.form = f;
  S.targetBox = targets;
  renderTargets(ctx);
  ui.editor.replaceChildren(el("h3", {}, ctx.vocab.label("audit_actions", plan ? "patrol_plan.update" : "patrol_plan.create")), f.el);
  ui.editor.hidden = false;
  f.inputs.name.focus();
}

// "targets[0].min_dwell_min" -> "目标 1 的最短停留（分钟）"; "targets[].min_dwell_min" (the
// door's schema names no item) -> "巡查目标的最短停留（分钟）"
function fieldLabel(field) {
  const m = /^targets\[(\d*)\]\.?([a-z_]*)/.exec(field);
  if (m) return (m[1] ? "目标 " + (Number(m[1]) + 1) + " " : LABELS.targets) + (m[2] ? "的" + (LABELS[m[2]] || LABELS.area) : "");
  const u = /^unit_ids\[(\d+)\]/.exec(field);
  if (u) return LABELS.unit_ids + " 第 " + (Number(u[1]) + 1) + " 个";
  return LABELS[field] || LABELS[field.replace(/[[.].*$/, "")] || "";
}

function renderTargets(ctx) {
  const box = S.targetBox, list = S.draft.targets;
  S.draftSource.clear();
  const rows = list.map((t, i) => targetRow(ctx, t, i));
  for (const t of list) {
    const g = t.area.polygon || t.geometry;
    if (g) S.draftSource.addFeature(new Feature({ geometry: GEOJSON.readGeometry(g) }));
  }
  const b = (id, text, fn) => el("button", { type: "button", id, class: "secondary", onclick: fn }, text);
  box.replaceChildren(box.firstChild, ...rows, el("div", { class: "buttons" },
    b("pp-add-polygon", "在地图上画范围", () => startDraw(ctx, "Polygon")),
    b("pp-add-point", "在地图上点选地点", () => startDraw(ctx, "Point")),
    b("pp-add-division", "按辖区", () => { list.push(blankTarget({ division_code: ctx.state.user.division_code })); renderTargets(ctx); })),
  el("small", { id: "pp-draw-hint", class: "hint" }));
}

const blankTarget = (area) => ({ name: "", area, visits_per_week: 2, min_dwell_min: 10, time_window: null, agencies: [] });

// One target's controls: its name, area (a division code, a polygon drawn, a point's radius), numbers
// (checked by the server: its refusal names the target and the field).
function targetRow(ctx, t, i) {
  const inp = (name, attrs) => { const id = uid("t-" + name); return [el("label", { for: id }, LABELS[name] || name), el("input", { id, "data-t": name, ...attrs })]; };
  const row = el("div", { class: "pp-target card-box", "data-field": "targets[" + i + "]", "data-index": i });
  const set = (k, v) => { t[k] = v; };
  const name = inp("name", { type: "text", maxlength: 200, value: t.name || "", placeholder: "如：桥下、站前广场" });
  name[1].addEventListener("input", () => set("name", name[1].value));
  let area;
  if (t.area.division_code !== undefined) {
    const pick = divisionPicker(ctx, { label: "辖区范围", value: t.area.division_code, onChange: (c) => { t.area = { division_code: c }; } });
    t.area = { division_code: pick.value() };
    area = pick.el;
  } else if (t.area.point) {
    const r = inp("radius_m", { type: "number", value: t.area.radius_m });
    r[1].addEventListener("input", () => { t.area.radius_m = Number(r[1].value); });
    area = el("span", {}, "地点 " + t.area.point.lon.toFixed(5) + ", " + t.area.point.lat.toFixed(5) + "　", ...r);
  } else {
    area = el("span", {}, "地图上画出的范围");
  }
  const visits = inp("visits_per_week", { type: "number", value: t.visits_per_week });
  visits[1].addEventListener("input", () => set("visits_per_week", Number(visits[1].value)));
  const dwell = inp("min_dwell_min", { type: "number", value: t.min_dwell_min });
  dwell[1].addEventListener("input", () => set("min_dwell_min", Number(dwell[1].value)));
  const tod = el("select", { "data-t": "time_window" }, el("option", { value: "" }, "任何时间"),
    ...ctx.vocab.terms("time_presets").map((p) => el("option", { value: p.code }, p.label)));
  tod.value = t.time_window && t.time_window.from === "20:00" && t.time_window.to === "06:00" ? "night" : "";
  tod.addEventListener("change", () => set("time_window", tod.value ? { preset: tod.value } : null));
  const kinds = checkList("agencies", ctx.vocab.terms("agency_kinds").map((k) => [k.code, k.label]), t.agencies);
  kinds.addEventListener("change", () => set("agencies", checked(kinds)));
  const drop = el("button", { type: "button", class: "link", onclick: () => { S.draft.targets.splice(i, 1); renderTargets(ctx); } }, "删除");
  row.append(el("b", {}, "目标 " + (i + 1) + " "), drop, el("div", { class: "field" }, ...name), area,
    el("div", { class: "field" }, ...visits), el("div", { class: "field" }, ...dwell),
    el("div", { class: "field" }, el("label", {}, LABELS.time_window), tod), kinds);
  return row;
}

function startDraw(ctx, type) {
  endDraw();
  S.mode = new Draw({ type, source: null });
  S.mode.on("drawend", (e) => {
    const g = e.feature.getGeometry();
    const area = type === "Point" ? { point: lonLat(g.getCoordinates()), radius_m: 100 }
      : { polygon: GEOJSON.writeGeometryObject(g, { decimals: 7 }) };
    S.draft.targets.push(blankTarget(area));
    setTimeout(() => { endDraw(); renderTargets(ctx); }, 0);
  });
  S.map.addInteraction(S.mode);
  const hint = document.getElementById("pp-draw-hint");
  if (hint) hint.textContent = type === "Point" ? "在地图上点击目标地点" : "依次点击范围的各个顶点，双击结束";
}

function lonLat(c) {
  const [lon, lat] = toLonLat(c);
  return { lon: Math.round(lon * 1e7) / 1e7, lat: Math.round(lat * 1e7) / 1e7 };
}

function endDraw() {
  if (S.mode && S.map) S.map.removeInteraction(S.mode);
  S.mode = null;
}

function closeEditor(ui) {
  endDraw();
  S.draft = null;
  if (S.draftSource) S.draftSource.clear();
  ui.editor.hidden = true;
}

function planBody(v, division, units, days) {
  const body = { name: v.name, division_code: division, campaign_id: v.campaign_id ? Number(v.campaign_id) : null,
    unit_ids: checked(units).map(Number) };
  if (v.mode === "weekly") body.weekly = { days: checked(days).map(Number), from: v.weekly_from, to: v.weekly_to };
  else body.windows = [{ starts_at: fromLocalInput(v.once_from), ends_at: fromLocalInput(v.once_to) }];
  body.targets = S.draft.targets.map((t) => {
    const out = { area: t.area, visits_per_week: t.visits_per_week, min_dwell_min: t.min_dwell_min,
      time_window: t.time_window, agencies: t.agencies };
    if (t.id) out.id = t.id;
    if (t.name) out.name = t.name;
    return out;
  });
  return body;
}

async function savePlan(ctx, ui, plan, v, division, units, days) {
  const body = planBody(v, division, units, days);
  if (plan) {
    if (body.weekly) body.windows = null;
    else body.weekly = null;
    // the one-off windows untouched: the plan keeps them all (the editor shows the first)
    if (!body.weekly && plan.windows.length && v.once_from === S.onceShown[0] && v.once_to === S.onceShown[1]) delete body.windows;
  }
  const out = plan ? await ctx.api.request("PATCH", "/api/v1/patrol-plans/" + plan.id, body)
    : await ctx.api.post("/api/v1/patrol-plans", body);
  closeEditor(ui);
  ui.note.ok("已保存“" + out.name + "”");
  S.created = out.id;
  await load(ctx, ui);
}

export const patrolsPage = {
  mount(root, ctx) {
    const ui = build(root, ctx);
    createTargetMap(ctx, ui);
    ctx.bus.on("patrols", (ev) => onPatrolEvent(ctx, ui, ev));
    S.ui = ui;
    S.ctx = ctx;
    load(ctx, ui);
  },
  show() { if (S.map) S.map.updateSize(); if (S.ui) load(S.ctx, S.ui); },
  hide() { endDraw(); },
};

// ---- the campaign summary page ----

// a figure of the summary -> the stats_terms code of its label (people found: the reports filed)
const FIGURES = [["patrols", "patrols"], ["staff_turns", "staff_turns"], ["places_visited", "places_visited"], ["hours", "hours"],
  ["km", "km"], ["people_found", "reports"]];

function figureRow(ctx, fig, outcomes, head) {
  return el("tr", { "data-county": fig.county_code || "total" }, el("th", { scope: "row" }, head),
    ...FIGURES.map(([k]) => el("td", { "data-k": k }, String(fig[k]))),
    ...outcomes.map((o) => el("td", { "data-k": "outcome:" + o.code }, String(fig.outcomes[o.code] || 0))));
}

async function showSummary(ctx, box, id) {
  box.replaceChildren(el("p", { class: "hint" }, "读取中…"));
  try {
    const s = await ctx.api.get("/api/v1/campaigns/" + id + "/summary");
    const outcomes = ctx.vocab.terms("outcomes").filter((o) => s.counties.some((c) => c.outcomes[o.code]) || s.total.outcomes[o.code]);
    const term = (code) => ctx.vocab.label("stats_terms", code);
    const heads = [term("county"), ...FIGURES.map((f) => term(f[1])), ...outcomes.map((o) => o.label)];
    const rows = [...s.counties.map((c) => figureRow(ctx, c, outcomes, divisionText(ctx, c.county_code))),
      figureRow(ctx, s.total, outcomes, term("total"))];
    box.replaceChildren(el("h3", {}, s.name), el("p", { class: "hint" }, s.starts_on + " 至 " + s.ends_on + " · ", divisionText(ctx, s.division_code)),
      table(ctx.vocab.label("audit_entities", "campaign") + " · " + ctx.vocab.label("stats_terms", "ui_page"), heads, rows, "pp-summary"));
    window.__patrols.summary = s;
  } catch (e) {
    const n = notice(ctx);
    n.fail(e);
    box.replaceChildren(n.el);
  }
}

export const campaignsPage = {
  async mount(root, ctx) {
    const name = ctx.vocab.label("audit_entities", "campaign");
    const list = el("ul", { id: "cp-list", class: "pick-list", "aria-label": name });
    const box = el("section", { id: "cp-summary", class: "card-box" });
    const note = notice(ctx);
    root.append(el("h2", {}, name), note.el, list, box);
    try {
      const items = await all(ctx, "/api/v1/campaigns");
      list.replaceChildren(...items.map((c) => el("li", {}, el("button", { type: "button", "data-id": c.id,
        onclick: () => showSummary(ctx, box, c.id) }, el("b", {}, c.name), el("small", {}, " " + c.starts_on + " 至 " + c.ends_on)))));
      if (!items.length) note.info("还没有" + name);
      else showSummary(ctx, box, items[0].id);
    } catch (e) {
      note.fail(e);
    }
  },
};
