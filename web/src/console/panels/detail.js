// detail.js - the details of the selected report: its fields, the actions (acknowledge, arrive,
// resolve with an outcome, dispatch a candidate unit), photos and timeline. Labels of statuses,
// categories, outcomes, actions, timeline entries and error messages come from the vocabulary.
import { $, el } from "../../shared/dom.js";
import { fmtAge, fmtTime } from "../../shared/format.js";
import { flyTo } from "../layers.js";
import { divisionName } from "./queue.js";

// The message of a refused action: 409 says the report's state forbids it.
function failure(ctx, e) {
  return (e.status === 409 ? "操作冲突（409）：" : "操作失败：") + ctx.vocab.errorText(e);
}

async function act(ctx, r, body) {
  $("d-msg").textContent = "";
  try {
    const out = await ctx.api.post("/api/v1/reports/" + r.id + "/events", body);
    if (out && out.id) ctx.state.reports.set(out.id, out);
    ctx.refreshLayer("reports");
    ctx.refreshLayer("units");
    await select(ctx, r.id, false);
    ctx.bus.emit("counts");
  } catch (e) {
    $("d-msg").textContent = failure(ctx, e);
    $("d-msg").title = e.message;
  }
}

function renderActions(ctx, r) {
  const v = ctx.vocab;
  const outcome = el("select", { id: "d-outcome", "aria-label": "办结结果" },
    ...v.terms("outcomes").map((t) => el("option", { value: t.code }, t.label)));
  $("d-actions").replaceChildren(
    el("button", { id: "b-ack", onclick: () => act(ctx, r, { type: "acknowledge" }) }, v.label("event_types", "acknowledge")),
    el("button", { id: "b-arrive", onclick: () => act(ctx, r, { type: "arrive" }) }, v.label("event_types", "arrive")),
    outcome,
    el("button", { id: "b-resolve", onclick: () => act(ctx, r, { type: "resolve", outcome: outcome.value }) }, v.label("event_types", "resolve")));
}

async function loadCandidates(ctx, r) {
  const ul = $("d-candidates");
  ul.replaceChildren(el("li", {}, "加载中…"));
  let items;
  try {
    items = (await ctx.api.get("/api/v1/reports/" + r.id + "/candidates?limit=5")).items.map((c) => ({
      id: c.unit_id, name: c.name, status: c.status,
      note: Math.round(c.distance_m) + " 米 · 约" + Math.round(c.eta_s / 60) + "分钟 · 位置" + fmtAge(c.position_age_s) + (c.stale ? "（过期）" : ""),
    }));
  } catch (e) {
    // Without the candidates endpoint: the available units the map shows.
    items = [...ctx.state.units.values()].filter((u) => u.status === "available")
      .map((u) => ({ ...u, note: "位置" + fmtAge(u.age_s) + "（候选接口不可用：" + ctx.vocab.errorText(e) + "）" }));
  }
  const dispatch = ctx.vocab.label("event_types", "dispatch");
  ul.replaceChildren(...items.map((u) => el("li", { class: "cand" },
    el("span", {}, u.name + " · " + ctx.vocab.label("unit_statuses", u.status) + " · " + u.note),
    el("button", { class: "b-dispatch", "data-unit": u.id, onclick: () => act(ctx, r, { type: "dispatch", unit_id: u.id }) }, dispatch))));
  if (!items.length) ul.replaceChildren(el("li", {}, "无可用单位"));
}

async function loadPhotos(ctx, r) {
  const out = []; // built aside: two loads at once (an action and its event) must not both append
  try {
    const data = await ctx.api.get("/api/v1/reports/" + r.id + "/photos");
    if (!data.items.length) out.push("无照片");
    for (const p of data.items) {
      let blob;
      try { blob = await ctx.api.blob(p.url); } catch (_) { continue; }
      const img = el("img", { alt: "现场照片 " + p.id, class: "photo" });
      img.src = URL.createObjectURL(blob);
      out.push(img);
    }
  } catch (e) { out.push("照片不可用：" + ctx.vocab.errorText(e)); }
  if (ctx.state.selected === r.id) $("d-photos").replaceChildren(...out);
}

async function loadTimeline(ctx, r) {
  const v = ctx.vocab;
  const ol = $("d-timeline");
  try {
    const data = await ctx.api.get("/api/v1/reports/" + r.id + "/timeline");
    ol.replaceChildren(...data.items.map((ev) => el("li", { "data-type": ev.type },
      fmtTime(ev.at) + " " + v.label("timeline_types", ev.type) + (ev.to_status && ev.to_status !== ev.from_status ? " → " + v.label("statuses", ev.to_status) : "") + (ev.actor ? "（" + ev.actor + "）" : ""))));
    if (data.items.some((ev) => ev.type === "escalated")) ctx.state.escalated.add(r.id);
  } catch (e) { ol.replaceChildren(el("li", {}, v.errorText(e))); }
}

// Shows report `id` (fly: centre the map on it unless false).
export async function select(ctx, id, fly) {
  const { state, vocab } = ctx;
  state.selected = id;
  ctx.bus.emit("queue");
  ctx.layers.reports.changed();
  $("detail").hidden = false;
  $("d-msg").textContent = "";
  let r;
  try { r = await ctx.api.get("/api/v1/reports/" + id); } catch (e) { $("d-msg").textContent = vocab.errorText(e); return; }
  state.reports.set(id, r);
  if (fly !== false && r.location) flyTo(ctx.map, r.location);
  $("d-title").textContent = "#" + r.id + " " + vocab.label("categories", r.category) + " · " + vocab.label("statuses", r.status);
  $("d-title").dataset.status = r.status;
  const fields = [["位置", divisionName(r)], ["人数", r.people_count], ["描述", r.description || "—"],
    ["责任站点", r.responsible_station ? r.responsible_station.name : "—"],
    ["确认期限", fmtTime(r.ack_deadline)], ["上报时间", fmtTime(r.received_at)]];
  $("d-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  renderActions(ctx, r);
  loadCandidates(ctx, r);
  loadPhotos(ctx, r);
  loadTimeline(ctx, r);
}

export function mount(ctx) {
  ctx.select = (id, fly) => select(ctx, id, fly);
  ctx.bus.on("selected", ({ id, fly }) => select(ctx, id, fly));
}
