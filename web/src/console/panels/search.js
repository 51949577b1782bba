// search.js - place search in the header (names, codes, pinyin): results as you type, Enter flies
// to the first; the place flown to is marked on the map.
import { $, el } from "../../shared/dom.js";
import Feature from "ol/Feature.js";
import Point from "ol/geom/Point.js";
import { fromLonLat, toLonLat } from "ol/proj.js";
import { Style, Stroke, Fill, Text, RegularShape } from "ol/style.js";
import { flyTo } from "../layers.js";
import { cached } from "../styles.js";
import { marks } from "./tool.js";

// map zoom by division level rank (province, city, county, town, community)
const LEVEL_ZOOM = [7, 9, 11, 13, 15];

// The searched place's mark: a pin with its name (one at a time; replaced by the next search).
function mark(ctx, p) {
  if (!ctx.placeMark) {
    ctx.placeMark = new Feature();
    marks(ctx).addFeature(ctx.placeMark);
  }
  const s = cached("place-mark", () => new Style({ zIndex: 7,
    image: new RegularShape({ points: 5, radius: 11, radius2: 5, fill: new Fill({ color: "#f03e3e" }), stroke: new Stroke({ color: "#fff", width: 2 }) }),
    text: new Text({ font: "bold 13px sans-serif", offsetY: -20, fill: new Fill({ color: "#c92a2a" }), stroke: new Stroke({ color: "#fff", width: 3 }) }) }));
  const style = s.clone();
  style.getText().setText(p.name);
  ctx.placeMark.setStyle(style);
  ctx.placeMark.setGeometry(new Point(fromLonLat([p.location.lon, p.location.lat])));
  ctx.placeMark.set("name", p.name);
  ctx.state.placeMark = ctx.placeMark; // read by the browser test
}

function go(ctx, p) {
  clearTimeout(ctx.searchTimer);
  $("search-results").hidden = true;
  if (!p.location) return;
  const rank = ctx.vocab.rank("levels", p.level);
  flyTo(ctx.map, p.location, rank < 0 ? 15 : LEVEL_ZOOM[Math.min(rank, LEVEL_ZOOM.length - 1)]);
  mark(ctx, p);
  ctx.state.lastFly = p;
}

// near= the map's centre, so that among namesakes the nearest come first (the token, sent with
// every call, puts the user's own division before them). Over a GCJ-02 base map the map's
// coordinates, and so near= and the hits, are GCJ-02 (ctx.crs).
export function nearQuery(ctx) {
  const [lon, lat] = toLonLat(ctx.map.getView().getCenter());
  return "&near=" + lon.toFixed(5) + "," + lat.toFixed(5) + (ctx.crs && ctx.crs !== "wgs84" ? "&crs=" + ctx.crs : "");
}

async function run(ctx) {
  const q = $("search").value.trim();
  const ul = $("search-results");
  if (!q) { ul.hidden = true; return null; }
  let items;
  try { items = (await ctx.api.get("/api/v1/places?q=" + encodeURIComponent(q) + "&limit=8" + nearQuery(ctx))).items; } catch (e) {
    ul.replaceChildren(el("li", { class: "error" }, "地名搜索不可用：" + ctx.vocab.errorText(e) + "（/api/v1/places）"));
    ul.hidden = false;
    return null;
  }
  ul.replaceChildren(...items.map((p) => el("li", { tabindex: "0", onclick: () => go(ctx, p),
    onkeydown: (e) => { if (e.key === "Enter") go(ctx, p); } },
  p.name + " ", el("small", {}, (p.parent_chain || []).map((x) => x.name || x).join(" › ") + " " + (p.code || "")))));
  if (!items.length) ul.replaceChildren(el("li", {}, "无结果"));
  ul.hidden = false;
  return items[0] || null;
}

export function mount(ctx) {
  $("search").addEventListener("input", () => {
    clearTimeout(ctx.searchTimer);
    ctx.searchTimer = setTimeout(() => run(ctx), 200);
  });
  $("search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearTimeout(ctx.searchTimer);
    const first = await run(ctx);
    if (first) go(ctx, first);
  });
}
