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

function render(ctx) {
  const { state, vocab, styles } = ctx;
  const arr = [...state.units.values()].sort((a, b) => a.id - b.id);
  $("units").replaceChildren(...arr.map((u) => {
    const status = el("span", { class: "u-status" }, vocab.label("unit_statuses", u.status));
    status.style.color = styles.unitColor(u.status);
    const q = state.backlog.get(u.id);
    const mark = q && el("span", { class: "u-backlog", title: "手机上报告的未发送内容：" + q.length + " 条，最早 " + fmtTime(q.oldest_at) },
      `手机积压 ${q.length} 条，超过${BACKLOG_H}小时`);
    return el("li", { "data-unit": u.id, "data-status": u.status },
      el("span", { class: "u-name" }, u.name), " ", status, " ", el("span", { class: "u-age" }, fmtAge(ageNow(u))), mark ? " " : null, mark);
  }));
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
      const q = u.app_queue;
      if (q && q.length > 0 && q.oldest_at && Date.parse(q.oldest_at) < limit) found.set(u.id, q);
    }
    cursor = page.next;
  } while (cursor);
  ctx.state.backlog = found;
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
  ctx.state.reloadBacklog = () => loadBacklog(ctx).catch(() => {});
  ctx.bus.on("signed-in", ctx.state.reloadBacklog);
  every(BACKLOG_EVERY_S, () => { if (ctx.state.user) ctx.state.reloadBacklog(); });
}
