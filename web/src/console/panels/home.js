// home.js - where the console opens: the map on the signed-in user's division (its extent, not the
// whole city), the header naming it (海州区, from GET /api/v1/divisions/{code}), the base map of
// GET /api/v1/console (layers.js useBaseMap), and, for an admin, a word when none is configured.
import GeoJSON from "ol/format/GeoJSON.js";
import { $, el } from "../../shared/dom.js";
import { useBaseMap } from "../layers.js";

const HINT = "未配置底图：街道级地图只显示区划边界。请在配置中设置 basemap_url（天地图预设 tianditu:<密钥>，"
  + "GCJ-02 瓦片 gcj02:<瓦片地址>，或 XYZ 瓦片地址），重启服务后生效。";

// The user's division: its name in the header, the map fitted to its boundary.
async function home(ctx, user) {
  const code = user.division_code;
  if (!code) return;
  let d;
  try { d = await ctx.api.get("/api/v1/divisions/" + code + "?geometry=geojson"); } catch (e) { return; }
  ctx.state.division = { code, name: user.division_name || d.name };
  $("who").textContent = (user.username || "") + " · " + ctx.state.division.name;
  $("who").title = ctx.state.division.name + "（" + code + "）";
  if (!d.geometry) return;
  const geom = new GeoJSON().readGeometry(d.geometry, { featureProjection: "EPSG:3857" });
  ctx.map.getView().fit(geom.getExtent(), { padding: [20, 20, 20, 20], maxZoom: 15 });
  ctx.state.homed = true;
}

// On a tablet or phone the bottom sheet covers the map's lower part: the view's padding keeps what
// is centred (a selected report, a searched place) in the part that shows.
const NARROW = "(max-width: 1000px)";
function padForSheet(ctx) {
  const narrow = matchMedia(NARROW).matches;
  const covered = narrow ? Math.round($("side").getBoundingClientRect().height) : 0;
  const legend = narrow ? Math.round($("legend").getBoundingClientRect().height) : 0;
  const view = ctx.map.getView(), pad = [legend, 0, covered, 0];
  if (String(view.padding || [0, 0, 0, 0]) !== String(pad)) view.padding = pad;
}

export function mount(ctx) {
  new ResizeObserver(() => padForSheet(ctx)).observe($("side"));
  addEventListener("resize", () => padForSheet(ctx));
  // on a tablet or phone the details lead the bottom sheet: a button gives the queue back
  // and a report chosen anywhere (queue, map, history) shows its details at the sheet's top
  const select = ctx.select;
  ctx.select = (id, fly) => {
    const done = select(id, fly);
    $("side").scrollTop = 0;
    return done;
  };
  $("detail").prepend(el("button", { id: "sheet-close", type: "button", onclick: () => { $("detail").hidden = true; } }, "收起"));
  const note = el("span", { id: "basemap-note", class: "note-warn", hidden: "" }, "未配置底图");
  note.title = HINT;
  $("legend").append(note);
  const settings = ctx.api.get("/api/v1/console").then((c) => {
    ctx.state.basemapCrs = useBaseMap(ctx, c);
    return c;
  }).catch(() => null);
  ctx.bus.on("signed-in", async (user) => {
    home(ctx, user);
    const c = await settings;
    note.hidden = !(c && ctx.state.basemapCrs === null && user.role === "admin");
    if (!note.hidden) note.textContent = HINT;
  });
  ctx.bus.on("signed-out", () => { note.hidden = true; });
}
