// legend.js - the legend under the map: every open report status with the very symbol the map
// draws (from styles.js, labels from the vocabulary), the escalation ring, stations, units by
// status, station coverage by tier, the toggles of the
// layers that have one (LAYERS' `toggle`), the patrol gaps and the demo-data note.
import { toContext } from "ol/render.js";
import Point from "ol/geom/Point.js";
import { $, el } from "../../shared/dom.js";
import { LAYERS } from "../layers.js";

// A canvas with `styles` drawn at its centre (36 pixels, shown at half size: the escalation ring
// is 30 across).
function swatch(styles) {
  const c = el("canvas", { width: 36, height: 36, class: "swatch", "aria-hidden": "true" });
  const render = toContext(c.getContext("2d"), { pixelRatio: 1 }); // no size: CSS keeps it at 18 px
  for (const s of [].concat(styles)) {
    render.setStyle(s);
    render.drawGeometry(new Point([18, 18]));
  }
  return c;
}

// Communities not patrolled in the last 24 hours (or under a fifth of their area) are outlined.
async function patrolGaps(ctx, on) {
  ctx.state.patrolGaps = on;
  if (on) {
    try {
      const since = new Date(Date.now() - 24 * 3600e3).toISOString();
      const data = await ctx.api.get("/api/v1/coverage?since=" + encodeURIComponent(since));
      ctx.state.stale = new Set(data.items.filter((c) => !c.last_patrolled_at || c.covered_share < 0.2).map((c) => c.code));
    } catch (err) { $("live").title = "巡查覆盖不可用：" + ctx.vocab.errorText(err); }
  }
  ctx.layers.divisions.changed();
}

/* Demo data synthesises town and community boundaries (the divisions API flags them): say so. */
async function noteSynthetic(ctx, code) {
  try {
    let kids = (await ctx.api.get("/api/v1/divisions/" + code + "/children")).items || [];
    if (!kids.some((d) => d.synthetic) && kids.length)
      kids = (await ctx.api.get("/api/v1/divisions/" + kids[0].code + "/children")).items || [];
    $("synthetic-note").hidden = !kids.some((d) => d.synthetic);
  } catch (e) { /* the note is only a hint */ }
}

export function mount(ctx) {
  ctx.bus.on("signed-in", (user) => noteSynthetic(ctx, user.division_code || "3207"));
  const { vocab, styles } = ctx;
  const items = vocab.terms("statuses").filter((t) => t.open)
    .map((t) => el("span", { "data-status": t.code }, swatch(styles.reportSymbol(t.code, false, false)), t.label));
  items.push(el("span", {}, swatch(styles.escalatedRing()), vocab.label("timeline_types", "escalated")));
  // stations, units by status, station coverage by tier: every symbol the map draws
  items.push(el("span", { "data-legend": "station" }, swatch(styles.stationSymbol()), "救助站"));
  for (const t of vocab.terms("unit_statuses"))
    items.push(el("span", { "data-unit-status": t.code }, swatch(styles.unitSymbol(t.code)), "单位" + t.label));
  for (const t of vocab.terms("tiers"))
    items.push(el("span", { "data-tier": t.code }, swatch(styles.tierSymbol(t.code)), t.label + "覆盖"));
  for (const row of LAYERS.filter((l) => l.toggle)) {
    const box = el("input", { type: "checkbox", id: "toggle-" + row.name });
    box.checked = row.visible !== false;
    box.addEventListener("change", () => ctx.layers[row.name].setVisible(box.checked));
    items.push(el("label", {}, box, " " + row.toggle));
  }
  const gaps = el("input", { type: "checkbox", id: "toggle-patrol" });
  gaps.addEventListener("change", () => patrolGaps(ctx, gaps.checked));
  items.push(el("label", {}, gaps, " 巡查盲区"));
  $("legend").prepend(...items);
}
