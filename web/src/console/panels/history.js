// history.js - find any report the user may see, closed ones too, by number, place, category,
// time range and status (the filters of GET /api/v1/reports: id, within, category, received_from,
// received_to, status or open), page through the hits (cursor) and open one in the details.
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";
import { divisionName } from "./queue.js";
import { toolBox, field, vocabSelect } from "./tool.js";

const PAGE = 50;

// The division of a place name or code for ?within=: the first hit of GET /api/v1/places that is
// a division (a code of 6 or more digits); a code typed in is taken as it is.
async function placeCode(ctx, q) {
  if (/^\d{6,12}$/.test(q)) return { code: q, name: q };
  const items = (await ctx.api.get("/api/v1/places?q=" + encodeURIComponent(q) + "&limit=10")).items;
  return items.find((p) => p.code && /^\d{6,12}$/.test(p.code)) || null;
}

// A local day (yyyy-mm-dd of an <input type=date>) as RFC 3339: its start, or the next day's.
const dayStart = (d, next) => new Date(new Date(d + "T00:00:00").getTime() + (next ? 86400e3 : 0)).toISOString();

// The query string of the form f (null and a message in out when the place is unknown).
async function query(ctx, f, out) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  const num = f.number.value.replace(/^#/, "").trim();
  if (num) q.set("id", num);
  const place = f.place.value.trim();
  if (place) {
    const p = await placeCode(ctx, place);
    if (!p) { out.textContent = "无此地名：" + place; return null; }
    q.set("within", p.code);
    out.textContent = "范围：" + p.name;
  }
  if (f.category.value) q.set("category", f.category.value);
  if (f.status.value === "open" || f.status.value === "closed") q.set("open", String(f.status.value === "open"));
  else if (f.status.value) q.set("status", f.status.value);
  if (f.from.value) q.set("received_from", dayStart(f.from.value, false));
  if (f.to.value) q.set("received_to", dayStart(f.to.value, true));
  return q;
}

function row(ctx, r) {
  const v = ctx.vocab;
  return el("li", { class: "h-item", "data-id": r.id, tabindex: "0", onclick: () => ctx.select(r.id),
    onkeydown: (e) => { if (e.key === "Enter") ctx.select(r.id); } },
  el("b", {}, "#" + r.id), " " + v.label("categories", r.category) + " · ",
  el("span", { class: "h-status", "data-status": r.status }, v.label("statuses", r.status)),
  el("small", {}, " " + divisionName(r) + " · " + fmtTime(r.received_at)));
}

// Runs the search (more: the next page after the last one shown).
async function search(ctx, f, ui, more) {
  const st = ctx.state.history;
  if (!more) {
    ui.msg.textContent = "";
    st.query = await query(ctx, f, ui.msg).catch((e) => { ui.msg.textContent = "查询失败：" + ctx.vocab.errorText(e); return null; });
    if (!st.query) return;
    st.items = [];
    st.next = null;
  }
  const q = new URLSearchParams(st.query);
  if (more && st.next) q.set("cursor", st.next);
  let page;
  try { page = await ctx.api.get("/api/v1/reports?" + q); } catch (e) {
    ui.msg.textContent = "查询失败：" + ctx.vocab.errorText(e);
    return;
  }
  st.items.push(...page.items);
  st.next = page.next || null;
  ui.list.replaceChildren(...st.items.map((r) => row(ctx, r)));
  if (!st.items.length) ui.list.replaceChildren(el("li", {}, "无结果"));
  ui.more.hidden = !st.next;
  st.done++;
}

export function mount(ctx) {
  ctx.state.history = { items: [], next: null, query: null, done: 0 };
  const statuses = vocabSelect(ctx, "statuses", { name: "status" }, "全部状态");
  statuses.append(el("option", { value: "open" }, "未结束"), el("option", { value: "closed" }, "已结束"));
  const f = el("form", { id: "history-form", class: "tool-form" },
    field("编号", el("input", { name: "number", inputmode: "numeric", placeholder: "如 13", size: "6" })),
    field("地点", el("input", { name: "place", placeholder: "区县、镇街、社区名或代码" })),
    field("类别", vocabSelect(ctx, "categories", { name: "category" }, "全部类别")),
    field("状态", statuses),
    field("上报自", el("input", { name: "from", type: "date" })),
    field("至", el("input", { name: "to", type: "date" })),
    el("button", { type: "submit" }, "查询"));
  const ui = { msg: el("p", { class: "tool-msg", role: "status" }), list: el("ul", { id: "history-list", class: "tool-list" }),
    more: el("button", { type: "button", hidden: "" }, "更多") };
  ui.more.addEventListener("click", () => search(ctx, f.elements, ui, true));
  f.addEventListener("submit", (e) => { e.preventDefault(); search(ctx, f.elements, ui, false); });
  toolBox("history-box", "历史查询", f, ui.msg, ui.list, ui.more);
}
