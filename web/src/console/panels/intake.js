// intake.js - phone intake: a dispatcher files a report for a caller (the 12345 hotline, a 110
// hand-over, another call) from the console. The place by name search or a click on the map, the
// caller's call-back details (`contact`, staff-only), category, count and person, and the source:
// {"source": "phone", "channel": "12345" | "110" | "other"}. POST /api/v1/reports routes it like
// any other report; the new report opens in the details with its responsible station.
import Feature from "ol/Feature.js";
import Point from "ol/geom/Point.js";
import { fromLonLat, toLonLat } from "ol/proj.js";
import { Style, Stroke, Fill, RegularShape } from "ol/style.js";
import { el } from "../../shared/dom.js";
import { cached } from "../styles.js";
import { toolBox, field, marks, vocabSelect } from "./tool.js";
import { nearQuery } from "./search.js";

const pinStyle = () => cached("intake-pin", () => new Style({ zIndex: 6, image: new RegularShape({ points: 4, radius: 11,
  radius2: 3, fill: new Fill({ color: "#d6336c" }), stroke: new Stroke({ color: "#fff", width: 1.5 }) }) }));

// Sets the report's place (WGS-84, or the map's crs) and marks it on the map.
function setPlace(ctx, ui, loc, text) {
  const st = ctx.state.intake;
  st.location = loc;
  ui.where.textContent = text + "（" + loc.lon.toFixed(5) + ", " + loc.lat.toFixed(5) + "）";
  if (!st.pin) {
    st.pin = new Feature();
    st.pin.setStyle(pinStyle());
    marks(ctx).addFeature(st.pin);
  }
  st.pin.setGeometry(new Point(fromLonLat([loc.lon, loc.lat])));
}

async function findPlace(ctx, ui) {
  const q = ui.place.value.trim();
  if (!q) return;
  ui.hits.replaceChildren();
  let items;
  // namesakes near the map's centre first, hits in the map's crs
  try { items = (await ctx.api.get("/api/v1/places?q=" + encodeURIComponent(q) + "&limit=6" + nearQuery(ctx))).items; } catch (e) {
    ui.hits.replaceChildren(el("li", { class: "error" }, "地名搜索不可用：" + ctx.vocab.errorText(e)));
    return;
  }
  ui.hits.replaceChildren(...items.filter((p) => p.location).map((p) => el("li", { tabindex: "0", onclick: () => {
    setPlace(ctx, ui, { lon: p.location.lon, lat: p.location.lat }, p.name);
    ui.hits.replaceChildren();
  } }, p.name + " ", el("small", {}, (p.parent_chain || []).map((x) => x.name || x).join(" › ")))));
  if (!items.length) ui.hits.replaceChildren(el("li", {}, "无结果"));
}

// The body of the report the form describes (null and a message when the place is missing).
function body(ctx, f, ui) {
  const st = ctx.state.intake;
  if (!st.location) { ui.msg.textContent = "请先确定地点（搜索地名或在地图上点选）"; return null; }
  const location = { lon: st.location.lon, lat: st.location.lat };
  if (ctx.crs && ctx.crs !== "wgs84") location.crs = ctx.crs;
  const person = {};
  if (f.sex.value) person.sex = f.sex.value;
  if (f.age.value) person.approx_age = Number(f.age.value);
  if (f.appearance.value.trim()) person.appearance = f.appearance.value.trim();
  const contact = {};
  if (f.caller.value.trim()) contact.first_name = f.caller.value.trim();
  if (f.phone.value.trim()) contact.phone = f.phone.value.trim();
  const b = { client_id: crypto.randomUUID(), category: f.category.value, location, observed_at: new Date().toISOString(),
    people_count: Number(f.people.value) || 1, source: "phone", channel: f.channel.value };
  if (f.description.value.trim()) b.description = f.description.value.trim();
  if (Object.keys(person).length) b.person = person;
  if (Object.keys(contact).length) b.contact = contact;
  return b;
}

async function submit(ctx, form, ui) {
  ui.msg.textContent = "";
  const b = body(ctx, form.elements, ui);
  if (!b) return;
  ui.send.disabled = true;
  try {
    const r = await ctx.api.post("/api/v1/reports", b);
    const st = r.responsible_station;
    ui.msg.textContent = "已登记 #" + r.id + "，责任站点：" + (st ? st.name + "（" + ctx.vocab.label("tiers", st.tier) + "）" : "—");
    ctx.state.intake.last = r;
    form.reset(); // the next call starts blank, its place too
    ctx.state.intake.location = null;
    ctx.state.intake.pin.setGeometry(null);
    ui.where.textContent = "未定位";
    ctx.state.reports.set(r.id, r);
    ctx.refreshLayer("reports");
    ctx.select(r.id);
  } catch (e) {
    ui.msg.textContent = "登记失败：" + ctx.vocab.errorText(e) + (e.field ? "（" + e.field + "）" : "");
  } finally { ui.send.disabled = false; }
}

export function mount(ctx) {
  ctx.state.intake = { location: null, pin: null, picking: false, last: null };
  const ui = { place: el("input", { id: "intake-place", placeholder: "来电所说地点" }), hits: el("ul", { class: "tool-list" }),
    where: el("output", { id: "intake-where" }, "未定位"), msg: el("p", { id: "intake-msg", class: "tool-msg", role: "status" }),
    pick: el("button", { type: "button", id: "intake-pick" }, "在地图上点选"), send: el("button", { type: "submit" }, "登记并派转") };
  const f = el("form", { id: "intake-form", class: "tool-form" },
    field("来源", vocabSelect(ctx, "phone_channels", { name: "channel" })), // 12345, 110, other
    field("来电人", el("input", { name: "caller", placeholder: "称呼", autocomplete: "off", maxlength: "100" })),
    field("回拨电话", el("input", { name: "phone", type: "tel", autocomplete: "off", maxlength: "40" })),
    el("div", { class: "tf" }, "地点 ", ui.place, el("button", { type: "button", onclick: () => findPlace(ctx, ui) }, "搜索"), ui.pick),
    ui.hits, ui.where,
    field("类别", vocabSelect(ctx, "categories", { name: "category" })),
    field("人数", el("input", { name: "people", type: "number", min: "1", max: "100", value: "1" })),
    field("性别", vocabSelect(ctx, "sexes", { name: "sex" }, "（未填）")),
    field("约岁", el("input", { name: "age", type: "number", min: "0", max: "130" })),
    field("体貌", el("input", { name: "appearance", maxlength: "1000", placeholder: "如 蓝色外套，拄拐杖" })),
    field("描述", el("textarea", { name: "description", maxlength: "4000", rows: "2" })),
    ui.send);
  ui.place.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); findPlace(ctx, ui); } });
  ui.pick.addEventListener("click", () => {
    ctx.state.intake.picking = true;
    ui.where.textContent = "请在地图上点击来电地点";
  });
  ctx.map.on("singleclick", (e) => {
    if (!ctx.state.intake.picking) return;
    ctx.state.intake.picking = false;
    const [lon, lat] = toLonLat(e.coordinate);
    setPlace(ctx, ui, { lon, lat }, "地图点选");
  });
  f.addEventListener("submit", (e) => { e.preventDefault(); submit(ctx, f, ui); });
  toolBox("intake-box", "电话登记", f, ui.msg);
}
