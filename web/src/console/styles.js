// styles.js - OpenLayers styles of every layer, made once per look and cached by key: a style
// function returns a cached Style (and sets only the label text of a shared Text), never builds
// new Style objects per feature per render. Looks follow the vocabulary's order (the first open
// status is the most urgent; levels go from province down), so a new code gets a look without
// a code list here.
import { Style, Stroke, Fill, Text, Circle, RegularShape } from "ol/style.js";
import { fmtAge } from "../shared/format.js";

const FONT = '"WenQuanYi Micro Hei", sans-serif';
const cache = new Map();

// The style for `key`, made by make() the first time.
export function cached(key, make) {
  let s = cache.get(key);
  if (!s) cache.set(key, (s = make()));
  return s;
}

export function cacheSize() { return cache.size; }

// Looks by rank among the open report statuses (new, acknowledged, dispatched, on scene):
// colour AND shape, colour is never the only cue.
const REPORT_LOOKS = [
  { color: "#e03131", points: 3, radius: 10, angle: 0 },
  { color: "#f08c00", points: 4, radius: 9, angle: Math.PI / 4 },
  { color: "#1971c2", points: 4, radius: 10, angle: 0 },
  { color: "#7048e8", points: 0, radius: 8 },
];
const CLOSED_LOOK = { color: "#868e96", points: 0, radius: 6 };
// by rank among the unit statuses (available, dispatched, on scene, busy, off duty)
const UNIT_COLORS = ["#2f9e44", "#e8590c", "#e8590c", "#e8590c", "#868e96"];
// by rank among the division levels (province, city, county, town, community)
const LEVEL_LINES = [
  { color: "#111", width: 4 },
  { color: "#333", width: 3 },
  { color: "#555", width: 2 },
  { color: "#777", width: 1.2, lineDash: [6, 3] },
  { color: "#aaa", width: 0.8, lineDash: [2, 3] },
];
const LEVEL_FONTS = ["bold 18px", "bold 16px", "bold 14px", "13px", "12px"];
// by rank among the tiers (city, county, town, community)
const TIER_FILLS = ["rgba(0,0,0,0)", "rgba(66,99,235,0.06)", "rgba(12,166,120,0.10)", "rgba(250,176,5,0.12)"];
const STATION_COLOR = "#1864ab";
const ESCALATED_COLOR = "#c92a2a";

export function createStyles(vocab, state, options) {
  const openStatuses = vocab.codes("statuses", (t) => t.open);
  const levels = vocab.codes("levels");
  const mostLocal = levels[levels.length - 1];
  const at = (list, i) => list[Math.max(0, Math.min(list.length - 1, i))];

  // look of a report status: the open ones by rank, the closed ones grey
  function reportLook(status) {
    const i = openStatuses.indexOf(status);
    return i < 0 ? CLOSED_LOOK : at(REPORT_LOOKS, i);
  }
  function unitColor(status) { return at(UNIT_COLORS, Math.max(0, vocab.rank("unit_statuses", status))); }

  function marker(look, stroke) {
    const fill = new Fill({ color: look.color });
    return look.points ? new RegularShape({ points: look.points, radius: look.radius, angle: look.angle, fill, stroke })
      : new Circle({ radius: look.radius, fill, stroke });
  }

  const labelText = (font, color, offsetY) => new Text({ font: font + " " + FONT, offsetY,
    fill: new Fill({ color }), stroke: new Stroke({ color: "#fff", width: 3 }) });

  function division(f) {
    const level = f.get("level");
    const known = vocab.rank("levels", level);
    const rank = known < 0 ? levels.length - 1 : known;
    if (f.getType() === "Point") {
      const s = cached("div-label:" + rank, () => new Style({
        text: labelText(at(LEVEL_FONTS, rank), "#222", rank >= levels.length - 2 ? -12 : 0) }));
      s.getText().setText(f.get("name"));
      return s;
    }
    if (level === mostLocal && options.patrolGaps() && state.stale.has(f.get("code")))
      return cached("div-stale", () => new Style({ stroke: new Stroke({ color: "#d9480f", width: 2.5 }) }));
    return cached("div-line:" + rank, () => new Style({ stroke: new Stroke(at(LEVEL_LINES, rank)) }));
  }

  function coverage(f) {
    const rank = vocab.rank("tiers", f.get("tier"));
    return cached("cov:" + rank, () => new Style({ fill: new Fill({ color: rank < 0 ? TIER_FILLS[0] : at(TIER_FILLS, rank) }) }));
  }

  // station names from zoom 12 on (below that the division labels say enough)
  function station(f, resolution) {
    if (resolution >= 40) return cached("station", () => new Style({ image: stationIcon() }));
    const s = cached("station-named", () => new Style({ image: stationIcon(), text: labelText("11px", STATION_COLOR, 14) }));
    s.getText().setText(f.get("name"));
    return s;
  }
  const stationIcon = () => cached("station-icon", () => new RegularShape({ points: 4, radius: 6, angle: Math.PI / 4,
    fill: new Fill({ color: STATION_COLOR }), stroke: new Stroke({ color: "#fff", width: 1.5 }) }));

  // a report's symbol: its status's look, a black outline when selected, a ring when escalated
  function reportSymbol(status, sel, esc) {
    return cached("report:" + status + ":" + sel + ":" + esc, () => {
      const stroke = new Stroke({ color: sel ? "#000" : "#fff", width: sel ? 3 : 1.5 });
      const styles = [new Style({ image: marker(reportLook(status), stroke), zIndex: 2 })];
      if (esc) styles.unshift(escalatedRing());
      return styles;
    });
  }
  const escalatedRing = () => cached("escalated-ring", () => new Style({
    image: new Circle({ radius: 15, stroke: new Stroke({ color: ESCALATED_COLOR, width: 3 }) }), zIndex: 1 }));

  function report(f) {
    return reportSymbol(f.get("status"), state.selected === f.getId(), !!(f.get("escalated") || state.escalated.has(f.getId())));
  }

  // a unit: its status's colour, "name · age of its position"; the layer declutters: labels that
  // would overlap are left out, every unit's symbol is drawn
  const unitIcon = (status) => cached("unit-icon:" + status, () => new Circle({ radius: 7, fill: new Fill({ color: unitColor(status) }),
    stroke: new Stroke({ color: "#fff", width: 2 }), declutterMode: "none" }));
  function unit(f) {
    const status = f.get("status");
    const s = cached("unit:" + status, () => new Style({ image: unitIcon(status), text: labelText("11px", "#222", -15) }));
    s.getText().setText(f.get("name") + " · " + fmtAge(f.get("age_s")));
    return s;
  }
  // the legend's swatches: a unit of a status, a station, a tier's coverage
  const unitSymbol = (status) => cached("unit-sym:" + status, () => new Style({ image: unitIcon(status) }));
  const stationSymbol = () => cached("station", () => new Style({ image: stationIcon() }));
  const tierSymbol = (tier) => cached("tier-sym:" + tier, () => new Style({ image: new RegularShape({ points: 4, radius: 12,
    angle: Math.PI / 4, fill: coverage({ get: () => tier }).getFill(), stroke: new Stroke({ color: "#adb5bd", width: 1 }) }) }));

  return { division, coverage, station, report, unit, reportSymbol, escalatedRing, reportLook, unitColor, unitSymbol,
    stationSymbol, tierSymbol };
}
