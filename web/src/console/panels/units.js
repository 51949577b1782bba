// units.js - the patrol units of the loaded unit tiles (side panel): name, status, age of the last
// position (aged by the one timer loop), and a mark on a unit whose phone has had unsent items
// (reports, actions) for more than BACKLOG_H hours, as the patrol app last reported with its
// positions (GET /api/v1/units: app_queue).
import { $, el } from "../../shared/dom.js";
import { fmtAge, fmtTime } from "../../shared/format.js";
import { every } from "../../shared/timer.js";

const BACKLOG_H = 12;
const BACKLOG_EVERY_S = 60;

// A unit's age now: the tile's age plus the time since the tile was read.
export const ageNow = (u) => (u.age_s == null ? null : u.age_s + (Date.now() - u.seen) / 1000);

// A user above a county (a supervisor of the city) sees the units grouped by county.
const COUNTY_LEN = 6; // significant digits of a county code
const aboveCounty = (user) => !!user && /^\d{4}00/.test(user.division_code || "");
const countyOf = (code) => (code ? code.slice(0, COUNTY_LEN).padEnd(12, "0") : "");

// The units grouped by county: [[county code, name, units]], in code order ("" last: unknown).
function byCounty(ctx, arr) {
  const groups = new Map();
  for (const u of arr) {
    const c = countyOf(ctx.state.unitDivision.get(u.id));
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(u);
  }
  return [...groups.entries()].sort((a, b) => (a[0] || "~").localeCompare(b[0] || "~"))
    .map(([c, us]) => [c, c ? ctx.state.countyNames.get(c) || c : "未知区县", us]);
}

function render(ctx) {
  const { state } = ctx;
  const arr = [...state.units.values()].sort((a, b) => a.id - b.id);
  if (!aboveCounty(state.user)) { $("units").replaceChildren(...arr.map((u) => unitItem(ctx, u))); return; }
  $("units").replaceChildren(...byCounty(ctx, arr).map(([code, name, us]) => el("li", { class: "u-county", "data-county": code },
    el("h4", {}, name + " ", el("small", {}, "(" + us.length + ")")), el("ul", {}, ...us.map((u) => unitItem(ctx, u))))));
}

function unitItem(ctx, u) {
  const { state, vocab, styles } = ctx;
  const status = el("span", { class: "u-status" }, vocab.label("unit_statuses", u.status));
  status.style.color = styles.unitColor(u.status);
  const q = state.backlog.get(u.id);
  const mark = q && el("span", { class: "u-backlog", title: "手机上报告的未发送内容：" + q.length + " 条，最早 " + fmtTime(q.oldest_at) },
    `手机积压 ${q.length} 条，超过${BACKLOG_H}小时`);
  return el("li", { "data-unit": u.id, "data-status": u.status },
    el("span", { class: "u-name" }, u.name), " ", status, " ", el("span", { class: "u-age" }, fmtAge(ageNow(u))), mark ? " " : null, mark,
    ctx.replay ? el("button", { type: "button", class: "u-track", title: "回放该单位近期轨迹", onclick: () => ctx.replay(u.id) }, "轨迹") : null);
}

// The units whose phones have had unsent items for more than BACKLOG_H hours (every page of
// GET /api/v1/units) into state.backlog: unit id -> app_queue.
async function loadBacklog(ctx) {
  const found = new Map();
  const limit = Date.now() - BACKLOG_H * 3600e3;
  let cursor = null;
  do {
    const page = await ctx.api.get("/api/v1/units?limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    for (const u of page.items) {
      ctx.state.unitDivision.set(u.id, u.division_code);
      const q = u.app_queue;
      if (q && q.length > 0 && q.oldest_at && Date.parse(q.oldest_at) < limit) found.set(u.id, q);
    }
    cursor = page.next;
  } while (cursor);
  ctx.state.backlog = found;
  render(ctx);
}

async function countyNames(ctx, code) {
  const kids = (await ctx.api.get("/api/v1/divisions/" + code + "/children")).items || [];
  for (const d of kids) ctx.state.countyNames.set(countyOf(d.code), d.name);
  render(ctx);
}

export function mount(ctx) {
  ctx.bus.on("units", () => render(ctx));
  // which units the loaded tiles hold
  ctx.layers.units.getSource().on("tileloadend", (e) => {
    for (const f of e.tile.getFeatures())
      ctx.state.units.set(f.getId(), { id: f.getId(), name: f.get("name"), status: f.get("status"), age_s: f.get("age_s"), seen: Date.now() });
    render(ctx);
  });
  every(15, () => render(ctx));
  ctx.state.backlog = new Map();
  ctx.state.unitDivision = new Map(); // unit id -> division code (GET /api/v1/units)
  ctx.state.countyNames = new Map(); // county code -> name, for a user above a county
  ctx.bus.on("signed-in", (user) => { if (aboveCounty(user)) countyNames(ctx, user.division_code).catch(() => {}); });
  ctx.state.reloadBacklog = () => loadBacklog(ctx).catch(() => {});
  ctx.bus.on("signed-in", ctx.state.reloadBacklog);
  every(BACKLOG_EVERY_S, () => { if (ctx.state.user) ctx.state.reloadBacklog(); });
}
