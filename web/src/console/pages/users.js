// users.js - the users of the service for supervisors (their division) and admins: find them by
// name, role and state; create one (role, division, unit or station; an initial password, or a
// one-time reset code the person redeems at sign-in); change role, division, unit and station
// within what the signed-in user may grant (no role above its own, only admins make admins, not
// its own role or division); disable one (its sessions end and its live streams close at once) or
// enable it again; generate a reset code (shown once, with its expiry).
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { form, notice, refusal, all, table, divisionPicker, divisionText, grantableRoles, fieldRoles, nested, setOptions } from "./kit.js";
import { openAudit } from "./audit.js";

const PAGE = 50;
const LABELS = { username: "用户名", password: "初始密码", password2: "再次输入密码", role: "角色", division_code: "辖区",
  unit_id: "所属巡查单位", station_id: "所属站点", disabled: "停用", how: "密码设置方式" };
const PASSWORD_MIN = 10; // the service's policy (weak_password below it)

const U = { users: new Map(), next: null, query: "", units: [], stations: [], ctx: null, ui: null, user: null };
window.__admin = Object.assign(window.__admin || {}, { users: U });

const rankOf = (ctx, role) => ctx.vocab.rank("roles", role);
const mayAdminister = (ctx, u) => rankOf(ctx, u.role) <= rankOf(ctx, ctx.state.user.role);

// A password nobody sees (the person sets its own with the reset code): 24 characters of 62.
function secretPassword() {
  const abc = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const b = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(b, (x) => abc[x % abc.length]).join("");
}

// ---- the list ----

function statusText(u) { return u.disabled ? "已停用" : "正常"; }

function row(ctx, u) {
  const v = ctx.vocab, me = ctx.state.user;
  const actions = el("td", { class: "actions" });
  const tr = el("tr", { "data-id": u.id, "data-username": u.username, class: u.disabled ? "off" : "" },
    el("td", {}, el("b", {}, u.username)),
    el("td", {}, v.label("roles", u.role)),
    el("td", {}, divisionText(ctx, u.division_code)),
    el("td", {}, u.unit_name || "—"),
    el("td", { class: "state" }, statusText(u)),
    el("td", { class: "nowrap" }, fmtTime(u.created_at)),
    actions);
  const b = (text, cls, fn) => el("button", { type: "button", class: cls, onclick: fn }, text);
  if (mayAdminister(ctx, u)) {
    actions.append(b("编辑", "secondary b-edit", () => edit(ctx, u)));
    if (u.id !== me.id) actions.append(u.disabled ? b("启用", "secondary b-enable", () => setDisabled(ctx, u, false))
      : b("停用", "danger b-disable", () => confirmDisable(ctx, u, actions)));
    actions.append(b("重置码", "secondary b-reset", () => resetCode(ctx, u)));
  }
  actions.append(b("记录", "link", () => openAudit(ctx, { entity: "user", entity_id: u.id })));
  return tr;
}

function redraw(ctx, u) {
  U.users.set(u.id, u);
  const old = U.ui.body.querySelector(`tr[data-id="${u.id}"]`);
  if (old) old.replaceWith(row(ctx, u));
  else U.ui.body.prepend(row(ctx, u));
}

async function fetchPage(ctx, more) {
  const ui = U.ui, mine = ++U.token;
  try {
    const page = await ctx.api.get("/api/v1/users?" + U.query + (more && U.next ? "&cursor=" + encodeURIComponent(U.next) : ""));
    if (mine !== U.token) return;
    for (const u of page.items) U.users.set(u.id, u);
    const rows = page.items.map((u) => row(ctx, u));
    if (more) ui.body.append(...rows);
    else ui.body.replaceChildren(...rows);
    U.next = page.next;
    ui.more.hidden = !page.next;
    ui.note.info(ui.body.rows.length ? "共显示 " + ui.body.rows.length + " 人" + (page.next ? "，还有更多" : "") : "没有符合条件的用户");
    U.loaded = true;
  } catch (e) {
    if (mine === U.token) ui.note.fail(e, { q: "用户名" });
  }
}

function search(ctx, v) {
  const q = new URLSearchParams();
  if (v.q) q.set("q", v.q);
  if (v.role) q.set("role", v.role);
  if (v.state) q.set("disabled", v.state === "off" ? "true" : "false");
  q.set("limit", PAGE);
  U.query = q.toString();
  return fetchPage(ctx, false);
}

// ---- disable / enable ----

function confirmDisable(ctx, u, cell) {
  const keep = [...cell.childNodes];
  const back = () => cell.replaceChildren(...keep);
  cell.replaceChildren(el("span", { class: "confirm", role: "alert" }, "停用后其登录立即失效、实时连接断开。确认停用 " + u.username + "？"),
    el("button", { type: "button", class: "danger b-confirm", onclick: () => setDisabled(ctx, u, true) }, "确认停用"),
    el("button", { type: "button", class: "secondary", onclick: back }, "取消"));
  cell.querySelector(".b-confirm").focus();
}

async function setDisabled(ctx, u, disabled) {
  try {
    const out = await ctx.api.request("PATCH", "/api/v1/users/" + u.id, { disabled });
    redraw(ctx, out);
    U.ui.note.ok(disabled ? "已停用 " + out.username + "：其登录已失效，实时连接已断开" : "已启用 " + out.username);
  } catch (e) {
    redraw(ctx, u);
    U.ui.note.fail(e, LABELS);
  }
}

// ---- a reset code ----

function showCode(ctx, r) {
  const code = el("output", { id: "reset-code", class: "code", tabindex: "-1", "aria-label": "重置码" }, r.code);
  U.ui.panel.replaceChildren(el("section", { id: "reset-box", class: "card-box", "aria-labelledby": "reset-h" },
    el("h3", { id: "reset-h" }, r.username + " 的一次性重置码"),
    code,
    el("p", {}, "有效期至 ", el("time", { id: "reset-expires", datetime: r.expires_at }, fmtTime(r.expires_at)), "，只能使用一次，且只显示这一次。"),
    el("p", { class: "hint" }, "请当面或电话告知本人；本人在登录页选择“使用重置码设置密码”，输入用户名、重置码和新密码。"),
    el("button", { type: "button", class: "secondary", onclick: () => U.ui.panel.replaceChildren() }, "关闭")));
  code.focus();
}

async function resetCode(ctx, u) {
  try {
    showCode(ctx, await ctx.api.post("/api/v1/users/" + u.id + "/reset-code"));
  } catch (e) {
    U.ui.note.fail(e, LABELS);
  }
}

// ---- create and change ----

function unitOptions(division) {
  return [["", "无"], ...U.units.filter((x) => !division || nested(x.division_code || "", division))
    .map((x) => [String(x.id), x.name + (x.callsign ? "（" + x.callsign + "）" : "")])];
}

function stationOptions() {
  return [["", "无"], ...U.stations.map((s) => [String(s.id), s.name])];
}

// The unit select follows the role (units are made of patrol and community users) and the division.
function bindUnit(ctx, f, picker) {
  const sync = () => {
    setOptions(f.inputs.unit_id, unitOptions(picker.value()));
    const field = fieldRoles(ctx).includes(f.inputs.role.value);
    f.inputs.unit_id.disabled = !field;
    if (!field) f.inputs.unit_id.value = "";
  };
  f.inputs.role.addEventListener("change", sync);
  return sync;
}

const idOrNull = (v) => (v ? Number(v) : null);

function addForm(ctx) {
  let picker;
  const f = form(ctx, {
    submit: "添加",
    labels: LABELS,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => U.ui.panel.replaceChildren() }, "取消")],
    fields: [
      { name: "username", label: LABELS.username, required: true, maxlength: 63, pattern: "\\S+", autocomplete: "off",
        help: "不含空格" },
      { name: "role", label: LABELS.role, type: "select", options: grantableRoles(ctx), value: ctx.vocab.codes("roles")[0] },
      (picker = divisionPicker(ctx, { label: LABELS.division_code, value: ctx.state.user.division_code, onChange: () => sync() })).el,
      { name: "unit_id", label: LABELS.unit_id, type: "select", options: unitOptions() },
      { name: "station_id", label: LABELS.station_id, type: "select", options: stationOptions(), help: "调度员所在的站点（可不选）" },
      { name: "how", label: LABELS.how, type: "select", options: [["password", "由我设置初始密码"], ["code", "生成一次性重置码，由本人设置密码"]] },
      { name: "password", label: LABELS.password, type: "password", minlength: PASSWORD_MIN, autocomplete: "new-password",
        help: "至少 " + PASSWORD_MIN + " 个字符" },
      { name: "password2", label: LABELS.password2, type: "password", autocomplete: "new-password" },
    ],
    onSubmit: (v) => create(ctx, v, picker),
  });
  const sync = bindUnit(ctx, f, picker);
  const how = () => {
    const own = f.inputs.how.value === "password";
    for (const k of ["password", "password2"]) {
      f.inputs[k].closest(".field").hidden = !own;
      f.inputs[k].required = own;
    }
  };
  f.inputs.how.addEventListener("change", how);
  sync();
  how();
  U.ui.panel.replaceChildren(el("section", { id: "user-new", class: "card-box", "aria-labelledby": "user-new-h" },
    el("h3", { id: "user-new-h" }, "添加用户"), f.el));
  f.inputs.username.focus();
  U.addForm = f;
}

async function create(ctx, v, picker) {
  const own = v.how === "password";
  if (own && v.password.length < PASSWORD_MIN) throw "密码至少 " + PASSWORD_MIN + " 个字符";
  if (own && v.password !== v.password2) throw "两次输入的密码不一致";
  const body = { username: v.username, role: v.role, division_code: picker.value(), password: own ? v.password : secretPassword() };
  if (v.unit_id) body.unit_id = Number(v.unit_id);
  if (v.station_id) body.station_id = Number(v.station_id);
  const u = await ctx.api.post("/api/v1/users", body);
  redraw(ctx, u);
  U.ui.note.ok("已添加用户 " + u.username);
  if (own) { U.ui.panel.replaceChildren(); return; }
  try {
    showCode(ctx, await ctx.api.post("/api/v1/users/" + u.id + "/reset-code"));
  } catch (e) {
    U.ui.note.fail("已添加用户 " + u.username + "，但重置码未生成（" + refusal(ctx, e) + "），请在列表中点“重置码”重试");
  }
}

function edit(ctx, u) {
  const self = u.id === ctx.state.user.id;
  let picker = null;
  const fields = [
    { name: "role", label: LABELS.role, type: "select", options: grantableRoles(ctx), value: u.role, disabled: self,
      help: self ? "不能修改自己的角色和辖区" : null },
  ];
  if (!self) fields.push((picker = divisionPicker(ctx, { label: LABELS.division_code, value: u.division_code, onChange: () => sync() })).el);
  fields.push({ name: "unit_id", label: LABELS.unit_id, type: "select", options: unitOptions(u.division_code) },
    { name: "station_id", label: LABELS.station_id, type: "select", options: stationOptions() });
  const f = form(ctx, {
    submit: "保存修改",
    labels: LABELS,
    extra: [el("button", { type: "button", class: "secondary", onclick: () => U.ui.panel.replaceChildren() }, "关闭")],
    fields,
    onSubmit: (v) => change(ctx, u, v, picker, f),
  });
  f.inputs.unit_id.value = u.unit_id ? String(u.unit_id) : "";
  f.inputs.station_id.value = u.station_id ? String(u.station_id) : "";
  const sync = picker ? bindUnit(ctx, f, picker) : () => {};
  if (picker) {
    sync();
    f.inputs.unit_id.value = u.unit_id ? String(u.unit_id) : "";
  }
  U.ui.panel.replaceChildren(el("section", { id: "user-edit", class: "card-box", "aria-labelledby": "user-edit-h" },
    el("h3", { id: "user-edit-h" }, "编辑用户 " + u.username),
    el("p", { class: "hint" }, "状态：" + statusText(u) + "；创建于 " + fmtTime(u.created_at)), f.el));
}

async function change(ctx, u, v, picker, f) {
  const body = {};
  if (v.role !== u.role && u.id !== ctx.state.user.id) body.role = v.role;
  if (picker && picker.value() !== u.division_code) body.division_code = picker.value();
  if (idOrNull(v.unit_id) !== u.unit_id) body.unit_id = idOrNull(v.unit_id);
  if (idOrNull(v.station_id) !== u.station_id) body.station_id = idOrNull(v.station_id);
  if (!Object.keys(body).length) { f.ok("没有改动"); return; }
  const out = await ctx.api.request("PATCH", "/api/v1/users/" + u.id, body);
  redraw(ctx, out);
  f.ok("已保存" + (body.role || body.division_code ? "（其登录已失效，需重新登录）" : ""));
}

// ---- wiring ----

async function loadRefs(ctx) {
  [U.units, U.stations] = await Promise.all([all(ctx, "/api/v1/units").catch(() => []), all(ctx, "/api/v1/stations").catch(() => [])]);
}

function mount(root, ctx) {
  const v = ctx.vocab;
  const ui = { note: notice(ctx), panel: el("div", { id: "user-panel", class: "panel" }) };
  const filters = form(ctx, {
    submit: "查询",
    cls: "filters-form",
    fields: [
      { name: "q", label: "用户名开头", type: "search", maxlength: 63 },
      { name: "role", label: LABELS.role, type: "select", options: [["", "全部"], ...v.terms("roles").map((t) => [t.code, t.label])] },
      { name: "state", label: "状态", type: "select", options: [["", "全部"], ["on", "正常"], ["off", "已停用"]] },
    ],
    onSubmit: (values) => search(ctx, values),
  });
  ui.body = el("tbody");
  ui.more = el("button", { type: "button", id: "users-more", class: "secondary", hidden: "", onclick: () => fetchPage(ctx, true) }, "加载更多");
  const t = table("用户列表", ["用户名", "角色", "辖区", "所属巡查单位", "状态", "创建时间", "操作"], []);
  t.tBodies[0].replaceWith(ui.body);
  t.id = "users-table";
  const add = el("button", { type: "button", id: "user-add", onclick: () => addForm(ctx) }, "添加用户");
  root.classList.add("admin-page", "split-page");
  root.append(el("div", { class: "main-col" }, el("div", { class: "head" }, el("h2", {}, "用户管理"), add),
    filters.el, ui.note.el, el("div", { class: "table-wrap" }, t), ui.more), ui.panel);
  Object.assign(U, { ctx, ui, filters, token: 0, user: ctx.state.user.id });
  ctx.bus.on("signed-out", () => ui.panel.replaceChildren()); // a reset code is shown once, to its reader
  start(ctx);
}

function start(ctx) {
  U.ui.panel.replaceChildren();
  loadRefs(ctx);
  search(ctx, U.filters.values());
}

export const usersPage = {
  mount,
  show() {
    if (U.user === U.ctx.state.user.id) { loadRefs(U.ctx); return; }
    U.user = U.ctx.state.user.id;
    start(U.ctx);
  },
};
