// replay.js - a unit's track over a chosen period (GET /api/v1/units/{id}/track) drawn on the map
// and replayed: a slider (and play) over the period; the marker at time t is the last accepted fix
// at or before t, with its time shown. Flagged fixes (impossible speed) are not on the track.
import Feature from "ol/Feature.js";
import LineString from "ol/geom/LineString.js";
import Point from "ol/geom/Point.js";
import { fromLonLat } from "ol/proj.js";
import { boundingExtent } from "ol/extent.js";
import { Style, Stroke, Fill, Circle, Text } from "ol/style.js";
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { cached } from "../styles.js";
import { toolBox, field, marks } from "./tool.js";

const HOURS = 8; // the period offered first: the last 8 hours
const PLAY_S = 12; // a play crosses the period in 12 seconds, one step per animation frame

// a continuous stretch: a solid line; a gap between stretches (no fix for longer than gap_s, or an
// impossible jump): dashed; each fix a dot
const lineStyle = () => cached("replay-line", () => new Style({ stroke: new Stroke({ color: "#5f3dc4", width: 3 }) }));
const gapStyle = () => cached("replay-gap", () => new Style({ stroke: new Stroke({ color: "#5f3dc4", width: 1.5, lineDash: [6, 6] }) }));
const dotStyle = () => cached("replay-dot", () => new Style({ image: new Circle({ radius: 3, fill: new Fill({ color: "#5f3dc4" }) }) }));
// the marker, labelled with its fix's time (one shared Text: only its string changes)
const markerStyle = () => cached("replay-at", () => new Style({ zIndex: 5, image: new Circle({ radius: 8,
  fill: new Fill({ color: "#5f3dc4" }), stroke: new Stroke({ color: "#fff", width: 3 }) }),
text: new Text({ font: "bold 12px sans-serif", offsetY: -18, fill: new Fill({ color: "#5f3dc4" }), stroke: new Stroke({ color: "#fff", width: 3 }) }) }));

// <input type=datetime-local> value of a time (local).
const local = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3); return d.toISOString().slice(0, 16); };

// The accepted fixes of a track reply, in time order: [{t (ms), lon, lat, at (RFC 3339)}].
export function trackFixes(fc) {
  const out = [];
  for (const f of fc.features) {
    if (f.properties.kind !== "stretch") continue;
    const coords = f.geometry.type === "Point" ? [f.geometry.coordinates] : f.geometry.coordinates;
    coords.forEach(([lon, lat], i) => out.push({ t: Date.parse(f.properties.times[i]), at: f.properties.times[i], lon, lat }));
  }
  return out.sort((a, b) => a.t - b.t);
}

// The last fix at or before t (the first fix before the track starts); null without fixes.
export function fixAt(fixes, t) {
  let lo = 0, hi = fixes.length - 1, found = fixes.length ? 0 : -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fixes[mid].t <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found < 0 ? null : fixes[found];
}

// Moves the marker to time t (ms) of the loaded track.
function seek(ctx, ui, t) {
  const rp = ctx.state.replay;
  rp.t = t;
  const fix = fixAt(rp.fixes, t);
  rp.fix = fix;
  ui.time.textContent = fmtTime(new Date(t).toISOString()) + (fix ? "（定位 " + fmtTime(fix.at) + "）" : "");
  if (fix) {
    markerStyle().getText().setText(new Date(fix.t).toLocaleTimeString("zh-CN"));
    rp.marker.setGeometry(new Point(fromLonLat([fix.lon, fix.lat])));
  }
  ui.slider.value = String(Math.round((t - rp.from) / 1000));
}

// The features of a track: the whole path dashed, each stretch solid over it, a dot per fix.
function drawTrack(fc, fixes) {
  const styled = (geom, style) => { const f = new Feature(geom); f.setStyle(style); return f; };
  const out = [];
  if (fixes.length > 1) out.push(styled(new LineString(fixes.map((x) => fromLonLat([x.lon, x.lat]))), gapStyle()));
  for (const x of fc.features)
    if (x.properties.kind === "stretch" && x.geometry.type === "LineString")
      out.push(styled(new LineString(x.geometry.coordinates.map((c) => fromLonLat(c))), lineStyle()));
  for (const x of fixes) out.push(styled(new Point(fromLonLat([x.lon, x.lat])), dotStyle()));
  return out;
}

async function load(ctx, f, ui) {
  const rp = ctx.state.replay;
  ui.msg.textContent = "";
  const unit = f.unit.value, from = new Date(f.from.value).getTime(), to = new Date(f.to.value).getTime();
  if (!unit || !(from < to)) { ui.msg.textContent = "请选择单位和起止时间（起始早于结束）"; return; }
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  if (ctx.crs && ctx.crs !== "wgs84") q.set("crs", ctx.crs);
  let fc;
  try { fc = await ctx.api.get("/api/v1/units/" + unit + "/track?" + q); } catch (e) {
    ui.msg.textContent = "轨迹不可用：" + ctx.vocab.errorText(e);
    return;
  }
  stop(rp);
  const src = marks(ctx);
  for (const x of rp.features) src.removeFeature(x);
  rp.fixes = trackFixes(fc);
  Object.assign(rp, { unit: Number(unit), from: rp.fixes.length ? rp.fixes[0].t : from, to: rp.fixes.length ? rp.fixes[rp.fixes.length - 1].t : to });
  rp.features = drawTrack(fc, rp.fixes);
  rp.marker = new Feature();
  rp.marker.setStyle(markerStyle());
  rp.features.push(rp.marker);
  src.addFeatures(rp.features);
  ui.slider.max = String(Math.max(0, Math.round((rp.to - rp.from) / 1000)));
  ui.player.hidden = !rp.fixes.length;
  ui.msg.textContent = rp.fixes.length ? rp.fixes.length + " 个定位点（" + fc.flagged + " 个异常点未画出）" : "该时段无定位";
  if (rp.fixes.length) {
    seek(ctx, ui, rp.from);
    const ext = boundingExtent(rp.fixes.map((x) => fromLonLat([x.lon, x.lat])));
    ctx.map.getView().fit(ext, { padding: [60, 60, 60, 60], maxZoom: 16, duration: 300 });
  }
  rp.loaded++;
}

function stop(rp) { cancelAnimationFrame(rp.timer); rp.timer = null; }

// Plays (or pauses) the replay: an animation (a step per frame), not a timer of the page.
function play(ctx, ui) {
  const rp = ctx.state.replay;
  if (rp.timer) { stop(rp); ui.play.textContent = "播放"; return; }
  if (rp.t >= rp.to) seek(ctx, ui, rp.from);
  ui.play.textContent = "暂停";
  const speed = Math.max(1, (rp.to - rp.from) / (PLAY_S * 1000)); // period ms per real ms
  let last = performance.now();
  const frame = (now) => {
    const t = Math.min(rp.to, rp.t + (now - last) * speed);
    last = now;
    seek(ctx, ui, t);
    if (t >= rp.to) { rp.timer = null; ui.play.textContent = "播放"; } else rp.timer = requestAnimationFrame(frame);
  };
  rp.timer = requestAnimationFrame(frame);
}

// The units the map knows, in the <select> (kept when still there).
function fillUnits(ctx, sel) {
  const keep = sel.value;
  const units = [...ctx.state.units.values()].sort((a, b) => a.name.localeCompare(b.name, "zh-CN"));
  sel.replaceChildren(el("option", { value: "" }, "选择单位"), ...units.map((u) => el("option", { value: u.id }, u.name)));
  sel.value = units.some((u) => String(u.id) === keep) ? keep : "";
}

export function mount(ctx) {
  ctx.state.replay = { fixes: [], features: [], marker: null, t: 0, from: 0, to: 0, fix: null, timer: null, loaded: 0 };
  const now = Date.now();
  const unit = el("select", { name: "unit" });
  const f = el("form", { id: "replay-form", class: "tool-form" },
    field("单位", unit),
    field("自", el("input", { name: "from", type: "datetime-local", value: local(now - HOURS * 3600e3) })),
    field("至", el("input", { name: "to", type: "datetime-local", value: local(now + 60e3) })),
    el("button", { type: "submit" }, "载入轨迹"));
  const ui = { msg: el("p", { class: "tool-msg", role: "status" }), time: el("output", { id: "replay-time" }),
    slider: el("input", { id: "replay-slider", type: "range", min: "0", max: "0", step: "1", "aria-label": "回放时间" }),
    play: el("button", { id: "replay-play", type: "button" }, "播放") };
  ui.player = el("div", { class: "replay-player", hidden: "" }, ui.play, ui.slider, ui.time);
  ui.slider.addEventListener("input", () => seek(ctx, ui, ctx.state.replay.from + Number(ui.slider.value) * 1000));
  ui.play.addEventListener("click", () => play(ctx, ui));
  f.addEventListener("submit", (e) => { e.preventDefault(); load(ctx, f.elements, ui); });
  const box = toolBox("replay-box", "轨迹回放", f, ui.msg, ui.player);
  box.addEventListener("toggle", () => fillUnits(ctx, unit));
  // a unit's own button (units panel): its track of the period shown, loaded at once
  ctx.replay = (id) => {
    box.open = true;
    fillUnits(ctx, unit);
    unit.value = String(id);
    box.scrollIntoView({ block: "nearest" });
    return load(ctx, f.elements, ui);
  };
  ctx.bus.on("units", () => fillUnits(ctx, unit));
}
