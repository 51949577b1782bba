// audit.js - the audit trail for supervisors (their division) and admins (GET /api/v1/audit):
// filters by kind, action, user, entity (and its id), report and period; pages through `next`;
// each row says who did what, when, from which address, and for an administrative write what
// changed (before -> after, field by field, in Chinese). Other pages open it filtered on their
// entity (openAudit).
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { showPage } from "../pages.js";
import { form, notice, table, fromLocalInput } from "./kit.js";

const PAGE = 50;
// The fields of the entities as the audit shows them (before and after).
const FIELDS = { name: "名称", code: "编号", tier: "层级", division_code: "辖区", division_name: "辖区名称",
  location: "位置", address: "地址", phone: "电话", beds: "床位", coverage: "覆盖范围", coverage_own: "自定覆盖范围",
  can_dispatch: "可派遣", parent_id: "上级站点", kind: "类型", units: "单位数", username: "用户名", role: "角色",
  unit_id: "所属单位", unit_name: "单位名称", station_id: "所属站点", disabled: "停用", members: "成员",
  callsign: "呼号", vehicle: "车辆", agency_id: "所属部门", starts_at: "开始", ends_at: "结束",
  note: "备注", status: "状态", reset_code_expires_at: "重置码有效期至" };
// A field's name; a field holding an entity (station, unit) is named by the audit's entity label.
const fieldLabel = (ctx, k) => FIELDS[k] || (ctx.vocab.term("audit_entities", k) ? ctx.vocab.label("audit_entities", k) : k);
// Fields that change by themselves (times, positions): not shown as changes.
const QUIET = new Set(["updated_at", "created_at", "position", "position_at", "position_age_s", "speed_mps",
  "heading", "app_queue", "report_id", "on_now", "division_name", "unit_name", "units", "created_by"]);
// Which vocabulary names the values of a field.
const VALUE_LISTS = { role: "roles", tier: "tiers", kind: "agency_kinds", status: "unit_statuses" };

const A = { next: null, query: "", rows: 0, token: 0, loaded: false, ctx: null, ui: null, preset: null };
window.__admin = Object.assign(window.__admin || {}, { audit: A });

function show(ctx, k, v) {
  if (v == null || v === "") return "空";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (VALUE_LISTS[k] && typeof v === "string") return ctx.vocab.label(VALUE_LISTS[k], v);
  if (k === "members" && Array.isArray(v)) return v.map((m) => m.username).join("、") || "无";
  if (k === "location" && v.lon != null) return Number(v.lon).toFixed(6) + ", " + Number(v.lat).toFixed(6);
  if (k === "coverage") return v.type ? "自定多边形" : "—";
  if (typeof v === "object" && v.name) return v.name; // a station or unit named in a row
  if (/_at$/.test(k)) return fmtTime(v);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

// What an entry says beyond its action: the fields a write changed, what it created, the
// reports a read saw.
function content(ctx, a) {
  if (a.kind === "read" || a.report_ids.length) {
    const ids = a.report_ids.slice(0, 12).map((i) => "#" + i).join("、") + (a.report_ids.length > 12 ? " 等" + a.report_ids.length + "条" : "");
    return (ids ? "上报 " + ids : "") + (a.reads > 1 ? "（" + a.reads + " 次）" : "");
  }
  const before = a.before || {}, after = a.after || {};
  if (!a.before && a.after) {
    const what = after.name || after.username || (after.unit && after.unit.name);
    if (what) return el("span", {}, "新建：" + what);
  }
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !QUIET.has(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  if (!keys.length) return "";
  return el("ul", { class: "diff" }, ...keys.map((k) => el("li", {},
    el("b", {}, fieldLabel(ctx, k) + "："), a.before ? show(ctx, k, before[k]) + " → " : "", show(ctx, k, after[k]))));
}

function row(ctx, a) {
  const v = ctx.vocab;
  return el("tr", { "data-id": a.id, "data-action": a.action },
    el("td", { class: "nowrap" }, fmtTime(a.at)),
    el("td", {}, a.username || "—", el("small", {}, " " + (a.role ? v.label("roles", a.role) : ""))),
    el("td", {}, a.address || "—"),
    el("td", {}, v.label("audit_kinds", a.kind)),
    el("td", {}, v.label("audit_actions", a.action)),
    el("td", {}, a.entity ? v.label("audit_entities", a.entity) + " #" + a.entity_id : "—"),
    el("td", { class: "what" }, content(ctx, a)));
}

function query(v) {
  const q = new URLSearchParams();
  for (const k of ["kind", "action", "user", "entity"]) if (v[k]) q.set(k, v[k]);
  if (v.entity && v.entity_id != null) q.set("entity_id", v.entity_id);
  if (v.report != null) q.set("report", v.report);
  const since = fromLocalInput(v.since), until = fromLocalInput(v.until);
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  q.set("limit", PAGE);
  return q.toString();
}

async function fetchPage(ctx, ui, more) {
  const mine = ++A.token; // a newer query wins over one still on its way
  ui.more.disabled = true;
  try {
    const page = await ctx.api.get("/api/v1/audit?" + A.query + (more && A.next ? "&cursor=" + encodeURIComponent(A.next) : ""));
    if (mine !== A.token) return;
    const rows = page.items.map((a) => row(ctx, a));
    if (more) ui.body.append(...rows);
    else ui.body.replaceChildren(...rows);
    A.rows = (more ? A.rows : 0) + rows.length;
    A.next = page.next;
    ui.more.hidden = !page.next;
    ui.note.info(A.rows ? "共显示 " + A.rows + " 条" + (page.next ? "，还有更多" : "") : "没有符合条件的记录");
  } catch (e) {
    if (mine === A.token) ui.note.fail(e, { since: "起始时间", until: "截止时间", user: "用户名", entity_id: "对象编号", report: "上报编号" });
  } finally {
    if (mine === A.token) { ui.more.disabled = false; A.loaded = true; }
  }
}

function mount(root, ctx) {
  const v = ctx.vocab;
  const all = (list) => [["", "全部"], ...v.terms(list).map((t) => [t.code, t.label])];
  const ui = { note: notice(ctx) };
  const f = form(ctx, {
    submit: "查询",
    cls: "filters-form",
    extra: [el("button", { type: "button", class: "secondary", onclick: () => { f.el.reset(); f.el.requestSubmit(); } }, "清空条件")],
    fields: [
      { name: "kind", label: "类别", type: "select", options: all("audit_kinds") },
      { name: "action", label: "操作", type: "select", options: all("audit_actions") },
      { name: "user", label: "用户名", maxlength: 64 },
      { name: "entity", label: "对象类型", type: "select", options: all("audit_entities") },
      { name: "entity_id", label: "对象编号", type: "number", min: 1 },
      { name: "report", label: "上报编号", type: "number", min: 1 },
      { name: "since", label: "起始时间", type: "datetime-local" },
      { name: "until", label: "截止时间", type: "datetime-local" },
    ],
    onSubmit: (values) => { A.query = query(values); return fetchPage(ctx, ui, false); },
  });
  ui.form = f;
  ui.body = el("tbody");
  ui.more = el("button", { type: "button", id: "audit-more", class: "secondary", hidden: "", onclick: () => fetchPage(ctx, ui, true) }, "加载更多");
  const t = table("操作记录", ["时间", "操作人", "来源地址", "类别", "操作", "对象", "内容"], []);
  t.tBodies[0].replaceWith(ui.body);
  t.id = "audit-table";
  root.classList.add("admin-page", "list-page");
  root.append(el("h2", {}, "操作审计"), f.el, ui.note.el, el("div", { class: "table-wrap" }, t), ui.more);
  Object.assign(A, { ctx, ui, user: ctx.state.user.id });
  apply();
}

// Runs the preset filters (openAudit) or the form's.
function apply() {
  const f = A.ui.form;
  if (A.preset) {
    f.el.reset();
    f.set(A.preset);
    A.preset = null;
  }
  A.query = query(f.values());
  fetchPage(A.ctx, A.ui, false);
}

// Opens the audit trail filtered (e.g. {entity: "station", entity_id: 3}).
export function openAudit(ctx, filters) {
  A.preset = filters;
  showPage(ctx, "audit");
}

export const auditPage = {
  mount,
  show() {
    if (A.preset || A.user !== A.ctx.state.user.id) {
      A.user = A.ctx.state.user.id;
      apply();
    }
  },
};
