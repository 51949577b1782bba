// teams.js - who patrols, for supervisors (their division) and admins: the agencies of the joint
// patrol (kind from the vocabulary's agency_kinds, a division), the patrol units (station, agency,
// call sign, vehicle) with their members (patrol and community users found by name; a user already
// in another unit is refused with that unit named), each unit's roster (shifts: create, end) and
// who is on shift now in the division.
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { every } from "../../shared/timer.js";
import { form, notice, refusal, all, table, divisionPicker, divisionText, fieldRoles, nested, setOptions,
  localInput, fromLocalInput, shortTime } from "./kit.js";
import { openAudit } from "./audit.js";

const AG = { name: "名称", kind: "类型", division_code: "辖区" };
const UN = { name: "名称", callsign: "呼号", station_id: "所属站点", agency_id: "所属部门", vehicle: "车辆", members: "成员" };
const SH = { starts_at: "开始时间", ends_at: "结束时间", note: "备注", members: "在班成员" };
const SHIFT_HOURS = 8;

const T = { agencies: [], units: [], stations: [], onShift: [], unit: null, members: [], ctx: null, ui: null };
window.__admin = Object.assign(window.__admin || {}, { teams: T });

// ---- agencies ----

function renderAgencies(ctx) {
  const ui = T.ui, kind = ui.kind.value;
  const rows = T.agencies.filter((a) => !kind || a.kind === kind);
  ui.agencies.replaceChildren(...rows.map((a) => el("li", {},
    el("button", { type: "button", "data-id": a.id, onclick: () => agencyForm(ctx, a) },
      el("b", {}, a.name),
      el("small", {}, ctx.vocab.label("agency_kinds", a.kind) + " · ", divisionText(ctx, a.division_code), " · " + a.units + " 个单位")))));
  if (!rows.length) ui.agencies.replaceChildren(el("li", { class: "empty" }, "没有部门"));
}

function agencyForm(ctx, a) {
  let picker;
  const f = form(ctx, {
    submit: a ? "保存修改" : "添加",
    labels: AG,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => T.ui.agencyPanel.replaceChildren() }, "关闭"),
      a ? el("button", { type: "button", class: "link", onclick: () => openAudit(ctx, { entity: "agency", entity_id: a.id }) }, "记录") : null],
    fields: [
      { name: "name", label: AG.name, required: true, maxlength: 200, value: a && a.name },
      { name: "kind", label: AG.kind, type: "select", options: ctx.vocab.terms("agency_kinds").map((t) => [t.code, t.label]), value: a && a.kind },
      (picker = divisionPicker(ctx, { label: AG.division_code, value: a ? a.division_code : ctx.state.user.division_code })).el,
    ],
    onSubmit: async (v) => {
      const body = { name: v.name, kind: v.kind, division_code: picker.value() };
      const out = a ? await ctx.api.request("PATCH", "/api/v1/agencies/" + a.id, body) : await ctx.api.post("/api/v1/agencies", body);
      await loadAgencies(ctx);
      T.ui.agencyNote.ok((a ? "已保存部门 " : "已添加部门 ") + out.name);
      T.ui.agencyPanel.replaceChildren();
    },
  });
  T.ui.agencyPanel.replaceChildren(el("section", { id: "agency-form", class: "card-box", "aria-labelledby": "agency-form-h" },
    el("h4", { id: "agency-form-h" }, a ? "编辑部门 " + a.name : "添加部门"), f.el));
  f.inputs.name.focus();
}

async function loadAgencies(ctx) {
  try {
    T.agencies = await all(ctx, "/api/v1/agencies");
    renderAgencies(ctx);
  } catch (e) {
    T.ui.agencyNote.fail(e);
  }
}

// ---- who is on shift now ----

async function loadOnShift(ctx) {
  try {
    T.onShift = await all(ctx, "/api/v1/shifts", 1000);
  } catch (e) {
    T.ui.shiftNote.fail(e);
    return;
  }
  T.ui.onShift.replaceChildren(...T.onShift.map((s) => el("li", { "data-unit": s.unit_id },
    el("b", {}, s.unit.name + (s.unit.callsign ? "（" + s.unit.callsign + "）" : "")),
    el("span", {}, " " + (s.members.map((m) => m.username).join("、") || "无成员")),
    el("small", {}, " 至 " + shortTime(s.ends_at)))));
  if (!T.onShift.length) T.ui.onShift.replaceChildren(el("li", { class: "empty" }, "现在没有在班的单位"));
  renderUnits(ctx);
}

// ---- units ----

function renderUnits(ctx) {
  const on = new Set(T.onShift.map((s) => s.unit_id));
  const agency = new Map(T.agencies.map((a) => [a.id, a.name]));
  T.ui.units.replaceChildren(...T.units.map((u) => el("tr", { "data-id": u.id, "aria-current": T.unit && T.unit.id === u.id ? "true" : null },
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => openUnit(ctx, u) }, u.name)),
    el("td", {}, u.callsign || "—"),
    el("td", {}, u.station ? u.station.name : "—"),
    el("td", {}, agency.get(u.agency_id) || "—"),
    el("td", {}, ctx.vocab.label("unit_statuses", u.status)),
    el("td", { class: "num" }, String(u.members.length)),
    el("td", {}, on.has(u.id) ? "在班" : "—"))));
}

async function loadUnits(ctx) {
  try {
    [T.units, T.stations] = await Promise.all([all(ctx, "/api/v1/units"), T.stations.length ? T.stations : all(ctx, "/api/v1/stations")]);
    renderUnits(ctx);
  } catch (e) {
    T.ui.unitNote.fail(e);
  }
}

// The labels of a unit's refusals: members[k] names the k-th member.
function unitLabels(f) {
  return f.startsWith("members[") ? "成员 " + ((T.members[Number(f.slice(8, -1))] || {}).username || "") : UN[f] || "";
}

function agencyOptions(stationId) {
  const st = T.stations.find((s) => s.id === Number(stationId));
  return [["", "无"], ...T.agencies.filter((a) => !st || nested(a.division_code, st.division_code)).map((a) => [String(a.id), a.name])];
}

function openUnit(ctx, u) {
  T.unit = u;
  T.members = u ? u.members.map((m) => ({ id: m.id, username: m.username })) : [];
  renderUnits(ctx);
  const f = form(ctx, {
    submit: u ? "保存修改" : "添加",
    labels: UN,
    errorLabels: unitLabels,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => closeUnit(ctx) }, "关闭"),
      u ? el("button", { type: "button", class: "link", onclick: () => openAudit(ctx, { entity: "unit", entity_id: u.id }) }, "记录") : null],
    fields: [
      { name: "name", label: UN.name, required: true, maxlength: 90, value: u && u.name },
      { name: "callsign", label: UN.callsign, maxlength: 30, value: u && u.callsign },
      { name: "station_id", label: UN.station_id, type: "select", required: true,
        options: [["", "请选择"], ...T.stations.map((s) => [String(s.id), s.name])], value: u && u.station ? u.station.id : "" },
      { name: "agency_id", label: UN.agency_id, type: "select", options: agencyOptions(u && u.station && u.station.id), value: u && u.agency_id },
      { name: "vehicle", label: UN.vehicle, maxlength: 100, value: u && u.vehicle },
      membersEditor(ctx),
    ],
    onSubmit: (v, fm) => saveUnit(ctx, u, v, fm),
  });
  f.inputs.station_id.addEventListener("change", () => setOptions(f.inputs.agency_id, agencyOptions(f.inputs.station_id.value)));
  T.unitForm = f;
  const box = el("section", { id: "unit-edit", class: "card-box", "aria-labelledby": "unit-edit-h" },
    el("h3", { id: "unit-edit-h" }, u ? "巡查单位：" + u.name : "添加巡查单位"), f.el);
  if (u) box.append(roster(ctx, u));
  T.ui.unitPanel.replaceChildren(box);
  drawMembers(ctx);
  f.inputs.name.focus();
}

function closeUnit(ctx) {
  T.unit = null;
  T.ui.unitPanel.replaceChildren();
  renderUnits(ctx);
}

// The members: chips with a remove button, and a finder of patrol and community users by name.
function membersEditor(ctx) {
  const chips = el("ul", { id: "unit-members", class: "chips", "aria-label": "当前成员" });
  const find = el("input", { id: "member-find", type: "search", autocomplete: "off", maxlength: 63 });
  const found = el("ul", { id: "member-found", class: "pick-list small", "aria-label": "查找结果" });
  let token = 0, timer = null;
  find.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++token, q = find.value.trim();
      if (!q) { found.replaceChildren(); return; }
      const p = new URLSearchParams({ q, disabled: "false", limit: "10" });
      for (const r of fieldRoles(ctx)) p.append("role", r);
      try {
        const items = (await ctx.api.get("/api/v1/users?" + p)).items;
        if (mine !== token) return;
        found.replaceChildren(...items.map((x) => el("li", {},
          el("span", {}, x.username + " · " + ctx.vocab.label("roles", x.role) + (x.unit_name ? " · 现属 " + x.unit_name : "")),
          el("button", { type: "button", class: "secondary b-add-member", "data-username": x.username,
            disabled: T.members.some((m) => m.id === x.id) ? "" : null,
            onclick: () => { T.members.push({ id: x.id, username: x.username }); drawMembers(ctx); find.focus(); } }, "加入"))));
        if (!items.length) found.replaceChildren(el("li", { class: "empty" }, "没有这样的巡查队员或社区信息员"));
      } catch (e) {
        found.replaceChildren(el("li", { class: "error" }, refusal(ctx, e)));
      }
    }, 250);
  });
  T.memberUi = { chips, find, found };
  return el("fieldset", { class: "members", "data-field": "members" }, el("legend", {}, UN.members), chips,
    el("div", { class: "field" }, el("label", { for: "member-find" }, "查找队员（用户名开头）"), find), found);
}

function drawMembers(ctx) {
  const { chips } = T.memberUi;
  chips.replaceChildren(...T.members.map((m, i) => el("li", { "data-id": m.id }, m.username,
    el("button", { type: "button", class: "x", "aria-label": "移出 " + m.username,
      onclick: () => { T.members.splice(i, 1); drawMembers(ctx); } }, "×"))));
  if (!T.members.length) chips.replaceChildren(el("li", { class: "empty" }, "还没有成员"));
  for (const b of T.memberUi.found.querySelectorAll("button")) b.disabled = T.members.some((m) => m.username === b.dataset.username);
}

async function saveUnit(ctx, u, v, f) {
  const ids = T.members.map((m) => m.id);
  const body = {};
  const opt = (k, val) => { if (!u || (val || null) !== u[k]) body[k] = val || null; };
  if (!u || v.name !== u.name) body.name = v.name;
  opt("callsign", v.callsign);
  opt("vehicle", v.vehicle);
  opt("agency_id", v.agency_id ? Number(v.agency_id) : null);
  if (!u || Number(v.station_id) !== (u.station && u.station.id)) body.station_id = Number(v.station_id);
  if (!u || JSON.stringify([...ids].sort()) !== JSON.stringify(u.members.map((m) => m.id).sort())) body.members = ids;
  if (!u) for (const k of ["callsign", "vehicle", "agency_id"]) if (body[k] === null) delete body[k];
  if (u && !Object.keys(body).length) { f.ok("没有改动"); return; }
  const out = u ? await ctx.api.request("PATCH", "/api/v1/units/" + u.id, body) : await ctx.api.post("/api/v1/units", body);
  await loadUnits(ctx);
  openUnit(ctx, T.units.find((x) => x.id === out.id) || out);
  T.unitForm.ok((u ? "已保存 " : "已添加 ") + out.name + "，成员 " + out.members.length + " 人");
}

// ---- the roster of a unit ----

function shiftState(s) {
  if (s.on_now) return "在班";
  return Date.parse(s.starts_at) > Date.now() ? "未开始" : "已结束";
}

function roster(ctx, u) {
  const body = el("tbody", { id: "roster" });
  const note = notice(ctx);
  const now = new Date();
  now.setSeconds(0, 0);
  const f = form(ctx, {
    submit: "添加班次",
    cls: "shift-form",
    labels: SH,
    fields: [
      { name: "starts_at", label: SH.starts_at, type: "datetime-local", required: true, value: localInput(now) },
      { name: "ends_at", label: SH.ends_at, type: "datetime-local", required: true, value: localInput(new Date(now.getTime() + SHIFT_HOURS * 3600e3)) },
      el("fieldset", { class: "checks" }, el("legend", {}, SH.members),
        ...(u.members.length ? [] : [el("span", { class: "hint" }, "本单位还没有成员")])),
      { name: "note", label: SH.note, maxlength: 1000 },
    ],
    onSubmit: async (v) => {
      const members = u.members.filter((m) => f.el.querySelector(`input[data-member="${m.id}"]`).checked).map((m) => m.id);
      const shift = { starts_at: fromLocalInput(v.starts_at), ends_at: fromLocalInput(v.ends_at), members };
      if (v.note) shift.note = v.note;
      await ctx.api.post("/api/v1/units/" + u.id + "/shifts", shift);
      f.ok("已添加班次");
      await Promise.all([loadRoster(ctx, u, body, note), loadOnShift(ctx)]);
    },
  });
  const checks = f.el.querySelector(".checks");
  for (const m of u.members) {
    const id = "shift-m-" + m.id;
    checks.append(el("span", { class: "check" }, el("input", { type: "checkbox", id, "data-member": m.id, checked: "" }), el("label", { for: id }, m.username)));
  }
  loadRoster(ctx, u, body, note);
  const t = table("排班表（近 7 天起）", ["开始", "结束", "在班成员", "备注", "状态", ""], []);
  t.tBodies[0].replaceWith(body);
  return el("section", { class: "roster", "aria-label": "排班表" }, el("h4", {}, "排班表"), el("div", { class: "table-wrap" }, t), note.el,
    el("h4", {}, "添加班次"), f.el);
}

async function loadRoster(ctx, u, body, note) {
  try {
    const items = await all(ctx, "/api/v1/units/" + u.id + "/shifts", 500);
    body.replaceChildren(...items.map((s) => el("tr", { "data-id": s.id, class: s.on_now ? "on" : "" },
      el("td", { class: "nowrap" }, fmtTime(s.starts_at)),
      el("td", { class: "nowrap" }, fmtTime(s.ends_at)),
      el("td", {}, s.members.map((m) => m.username).join("、") || "—"),
      el("td", {}, s.note || ""),
      el("td", {}, shiftState(s)),
      el("td", {}, s.on_now ? el("button", { type: "button", class: "secondary b-end", onclick: () => endShift(ctx, u, s, body, note) }, "结束") : ""))));
    if (!items.length) body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "近 7 天没有班次")));
  } catch (e) {
    note.fail(e, SH);
  }
}

async function endShift(ctx, u, s, body, note) {
  try {
    await ctx.api.request("PATCH", "/api/v1/shifts/" + s.id, { ends_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") });
    note.ok("已结束班次（" + fmtTime(s.starts_at) + " 开始）");
    await Promise.all([loadRoster(ctx, u, body, note), loadOnShift(ctx)]);
  } catch (e) {
    note.fail(e, SH);
  }
}

// ---- wiring ----

function mount(root, ctx) {
  const ui = {
    kind: el("select", { id: "agency-kind" }),
    agencies: el("ul", { id: "agency-list", class: "pick-list", "aria-label": "部门列表" }),
    agencyPanel: el("div", { id: "agency-panel" }),
    agencyNote: notice(ctx),
    onShift: el("ul", { id: "on-shift", class: "plain-list", "aria-label": "当前在班" }),
    shiftNote: notice(ctx),
    units: el("tbody", { id: "unit-rows" }),
    unitPanel: el("div", { id: "unit-panel" }),
    unitNote: notice(ctx),
  };
  setOptions(ui.kind, [["", "全部"], ...ctx.vocab.terms("agency_kinds").map((t) => [t.code, t.label])]);
  ui.kind.addEventListener("change", () => renderAgencies(ctx));
  const t = table("巡查单位列表", ["名称", "呼号", "所属站点", "所属部门", "状态", "成员", "在班"], []);
  t.tBodies[0].replaceWith(ui.units);
  t.id = "units-table";
  root.classList.add("admin-page", "teams-page");
  root.append(
    el("div", { class: "side-col" },
      el("section", { "aria-labelledby": "ag-h" },
        el("div", { class: "head" }, el("h2", { id: "ag-h" }, "联合巡查部门"),
          el("button", { type: "button", id: "agency-add", onclick: () => agencyForm(ctx, null) }, "添加部门")),
        el("div", { class: "filters" }, el("label", { for: "agency-kind" }, "类型"), ui.kind),
        ui.agencyNote.el, ui.agencyPanel, ui.agencies),
      el("section", { "aria-labelledby": "on-h" }, el("h2", { id: "on-h" }, "当前在班"), ui.shiftNote.el, ui.onShift)),
    el("div", { class: "main-col" },
      el("div", { class: "head" }, el("h2", {}, "巡查单位"),
        el("button", { type: "button", id: "unit-add", onclick: () => openUnit(ctx, null) }, "添加巡查单位")),
      ui.unitNote.el, ui.unitPanel, el("div", { class: "table-wrap" }, t)));
  Object.assign(T, { ctx, ui, user: ctx.state.user.id });
  every(60, () => { if (!root.hidden) loadOnShift(ctx); });
  start(ctx);
}

async function start(ctx) {
  T.stations = [];
  closeUnit(ctx);
  T.ui.agencyPanel.replaceChildren();
  await loadAgencies(ctx);
  await loadUnits(ctx);
  await loadOnShift(ctx);
  T.loaded = true;
}

export const teamsPage = {
  mount,
  show() {
    if (T.user !== T.ctx.state.user.id) { T.user = T.ctx.state.user.id; start(T.ctx); }
  },
};
