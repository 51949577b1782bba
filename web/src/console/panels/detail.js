// detail.js - the details of the selected report: every field the API holds (the person, the times,
// tier, station, unit, outcome, possible duplicates that open on a click, photos, the call-back
// details staff may see), the actions the report's state and the user's role allow (the report's
// `actions`, from the server's transitions table: no second table here), candidate units and the
// timeline. Labels of fields, statuses, categories, outcomes, actions, timeline entries and error
// messages come from the vocabulary.
import { $, el } from "../../shared/dom.js";
import { fmtAge, fmtTime } from "../../shared/format.js";
import { flyTo } from "../layers.js";
import { divisionName } from "./queue.js";

// The message of a refused action in the vocabulary's words (what was tried, the report's state
// now), its status and code small beside it (for a call to support).
function failure(ctx, e, type, r) {
  const v = ctx.vocab;
  // the field at fault by its name (unit_id: 单位编号); `type` is the action itself, said below
  const known = e.field && e.field !== "type" && v.term("report_fields", e.field);
  let text = v.errorText({ code: e.code, message: e.message, field: known ? known.label : null });
  if (e.code === "invalid_transition") text += "：" + v.label("event_types", type) + "（当前状态：" + v.label("statuses", r.status) + "）";
  return [el("span", {}, (e.status === 409 ? "操作冲突：" : "操作失败：") + text), " ",
    el("small", { class: "err-code" }, [e.status, e.code].filter(Boolean).join(" "))];
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
    await select(ctx, r.id, false).catch(() => {}); // the report as it is now
    $("d-msg").replaceChildren(...failure(ctx, e, body.type, ctx.state.reports.get(r.id) || r));
    $("d-msg").title = e.message;
  }
}

// The reason typed for an action that needs one (cancel, escalate): its text, or null with the
// field marked and a message.
function reason(ctx, type) {
  const f = $("d-reason");
  const t = f ? f.value.trim() : "";
  if (t) return t;
  $("d-msg").textContent = "请填写" + ctx.vocab.label("event_types", type) + "原因";
  if (f) f.focus();
  return null;
}

// One control per action the server allows now, in the vocabulary's order (dispatch is offered
// beside each candidate unit).
function renderActions(ctx, r) {
  const v = ctx.vocab;
  const may = new Set(r.actions || []);
  const out = [];
  const button = (type, id, onclick) => el("button", { id, type: "button", "data-action": type, onclick }, v.label("event_types", type));
  if (may.has("acknowledge")) out.push(button("acknowledge", "b-ack", () => act(ctx, r, { type: "acknowledge" })));
  if (may.has("arrive")) out.push(button("arrive", "b-arrive", () => act(ctx, r, { type: "arrive" })));
  if (may.has("resolve")) {
    const outcome = el("select", { id: "d-outcome", "aria-label": v.label("report_fields", "outcome") },
      ...v.terms("outcomes").map((t) => el("option", { value: t.code }, t.label)));
    out.push(outcome, button("resolve", "b-resolve", () => act(ctx, r, { type: "resolve", outcome: outcome.value })));
  }
  const dups = r.possible_duplicates || [];
  if (may.has("mark_duplicate") && dups.length) {
    const of = el("select", { id: "d-dup-of", "aria-label": v.label("report_fields", "duplicate_of") },
      ...dups.map((d) => el("option", { value: d.id }, "#" + d.id + " " + v.label("categories", d.category))));
    out.push(of, button("mark_duplicate", "b-mark-duplicate", () => act(ctx, r, { type: "mark_duplicate", duplicate_of: Number(of.value) })));
  }
  // escalate and cancel: with the reason typed beside them
  const reasoned = (type) => may.has(type) && out.push(button(type, "b-" + type, () => {
    const note = reason(ctx, type);
    if (note) act(ctx, r, { type, note });
  }));
  reasoned("escalate");
  reasoned("cancel");
  if (may.has("escalate") || may.has("cancel")) {
    const old = $("d-reason"); // a redraw (a live event) keeps what is being typed for this report
    out.push(el("input", { id: "d-reason", type: "text", maxlength: "1000", placeholder: "原因（升级、撤销时必填）", "aria-label": "原因",
      value: old && Number(old.dataset.report) === r.id ? old.value : null, "data-report": r.id }));
  }
  if (!out.length) out.push(el("span", { class: "muted" }, "当前状态无可执行的操作"));
  $("d-actions").replaceChildren(...out);
}

async function loadCandidates(ctx, r) {
  const ul = $("d-candidates");
  if (!(r.actions || []).includes("dispatch")) {
    ul.replaceChildren(el("li", { class: "muted" }, r.unit_id ? "已派遣：" + unitName(ctx, r.unit_id) : "当前状态不可派遣"));
    return;
  }
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

// What a timeline entry adds to its type: the outcome, the unit, the tiers of an escalation, the
// original of a duplicate, the note.
function timelineDetails(ctx, d) {
  const v = ctx.vocab;
  const bits = [];
  if (d.outcome) bits.push(v.label("outcomes", d.outcome));
  if (d.unit_id) bits.push(unitName(ctx, d.unit_id));
  if (d.to_tier) bits.push((d.from_tier ? v.label("tiers", d.from_tier) + " → " : "") + v.label("tiers", d.to_tier));
  if (d.duplicate_of) bits.push(v.label("report_fields", "duplicate_of") + " #" + d.duplicate_of);
  if (d.note) bits.push("“" + d.note + "”");
  return bits.length ? " · " + bits.join(" · ") : "";
}

async function loadTimeline(ctx, r) {
  const v = ctx.vocab;
  const ol = $("d-timeline");
  try {
    const data = await ctx.api.get("/api/v1/reports/" + r.id + "/timeline");
    ol.replaceChildren(...data.items.map((ev) => el("li", { "data-type": ev.type },
      fmtTime(ev.at) + " " + v.label("timeline_types", ev.type) + (ev.to_status && ev.to_status !== ev.from_status ? " → " + v.label("statuses", ev.to_status) : "") +
      timelineDetails(ctx, ev.details || {}) + (ev.actor ? "（" + ev.actor + "）" : ""))));
    if (data.items.some((ev) => ev.type === "escalated")) ctx.state.escalated.add(r.id);
  } catch (e) { ol.replaceChildren(el("li", {}, v.errorText(e))); }
}

function unitName(ctx, id) {
  const u = ctx.state.units.get(id);
  return u ? u.name : "#" + id;
}

// A link that opens report `id` in this panel.
const reportLink = (ctx, id, text) => el("a", { href: "#report-" + id, class: "report-link", "data-id": id,
  onclick: (e) => { e.preventDefault(); ctx.select(id); } }, text);

// The rows of the fields list: [field code (report_fields), value (text or a node)], only those
// the report has.
function fieldRows(ctx, r) {
  const v = ctx.vocab;
  const p = r.person || {};
  const st = r.responsible_station;
  return [
    ["place", divisionName(r) + (r.outside ? "（" + v.label("report_fields", "outside") + "）" : "")],
    ["people_count", r.people_count],
    ["person_sex", p.sex && v.label("sexes", p.sex)],
    ["person_approx_age", p.approx_age != null ? "约 " + p.approx_age + " 岁" : null],
    ["person_appearance", p.appearance],
    ["person_name_if_known", p.name_if_known],
    ["description", r.description],
    ["observed_at", fmtTime(r.observed_at)],
    ["received_at", fmtTime(r.received_at)],
    ["tier", st && v.label("tiers", st.tier)],
    ["station", st && st.name],
    ["ack_deadline", r.status === "new" ? fmtTime(r.ack_deadline) : null],
    ["acknowledged_at", r.acknowledged_at && fmtTime(r.acknowledged_at)],
    ["unit_id", r.unit_id ? unitName(ctx, r.unit_id) : null],
    ["dispatched_at", r.dispatched_at && fmtTime(r.dispatched_at)],
    ["on_scene_at", r.on_scene_at && fmtTime(r.on_scene_at)],
    ["outcome", r.outcome && v.label("outcomes", r.outcome)],
    ["resolved_at", r.resolved_at && fmtTime(r.resolved_at)],
    ["duplicate_of", r.duplicate_of ? reportLink(ctx, r.duplicate_of, "#" + r.duplicate_of) : null],
    ["personal_data_deleted_at", r.personal_data_deleted_at && fmtTime(r.personal_data_deleted_at)],
  ].filter(([, val]) => val !== null && val !== undefined && val !== "" && val !== false);
}

// The call-back details (staff only: the server sends `contact` to those who may see it).
function contactRows(c) {
  if (!c) return [];
  const name = [c.last_name, c.first_name].filter(Boolean).join("");
  return [["联系人", name], ["电话", c.phone && el("a", { href: "tel:" + c.phone }, c.phone)],
    ["邮箱", c.email], ["地址", c.address_string]].filter(([, val]) => val);
}

function renderFields(ctx, r) {
  const v = ctx.vocab;
  const rows = fieldRows(ctx, r).map(([k, val]) => [k === "place" ? "位置" : v.label("report_fields", k), val, k]);
  const contact = contactRows(r.contact).map(([k, val]) => ["回访" + k, val, "contact"]);
  $("d-fields").replaceChildren(...[...rows, ...contact].flatMap(([k, val, code]) =>
    [el("dt", {}, k), el("dd", { "data-field": code }, val)]));
  const dups = r.possible_duplicates || [];
  $("d-dups").replaceChildren(...(dups.length ? dups.map((d) => el("li", {},
    reportLink(ctx, d.id, "#" + d.id + " " + v.label("categories", d.category)),
    " · " + v.label("statuses", d.status) + " · " + Math.round(d.distance_m) + " 米 · " + fmtTime(d.received_at)))
    : [el("li", { class: "muted" }, "附近没有疑似重复的上报")]));
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
  if (state.selected !== id) return; // another report was opened meanwhile
  if (vocab.flag("statuses", r.status, "open")) state.reports.set(id, r);
  else if (state.reports.delete(id)) ctx.bus.emit("queue");
  if (fly !== false && r.location) flyTo(ctx.map, r.location);
  $("d-title").textContent = "#" + r.id + " " + vocab.label("categories", r.category) + " · " + vocab.label("statuses", r.status);
  $("d-title").dataset.status = r.status;
  renderFields(ctx, r);
  renderActions(ctx, r);
  loadCandidates(ctx, r);
  loadPhotos(ctx, r);
  loadTimeline(ctx, r);
}

export function mount(ctx) {
  ctx.select = (id, fly) => select(ctx, id, fly);
  ctx.state.open = (id) => ctx.select(id, false); // any report by id (the browser test opens closed ones)
  ctx.bus.on("selected", ({ id, fly }) => select(ctx, id, fly));
}
