// stats.js - the statistics page for supervisors: the figures of a division and a period
// (GET /api/v1/stats) drawn with Apache ECharts (npm, pinned in package-lock.json: a kept charting
// library that draws on canvas without eval, inside the page's Content-Security-Policy): reports
// per week, response times per county against the tiers' acknowledgement limits, outcomes, and a
// choropleth of the communities by days since their last patrol (GET /api/v1/stats/coverage.geojson).
// Every chart opens the records behind what was clicked (the figure's `records`, a report-list
// query); a click on the map also weighs that point as a station site (GET /api/v1/analysis/siting)
// and draws its catchment. The monthly report (Excel) downloads from here. Every word on the page is
// a label of the vocabulary (stats_terms and the code lists).
import * as echarts from "echarts/core";
import { BarChart, LineChart, MapChart, PieChart, LinesChart } from "echarts/charts";
import { GridComponent, TooltipComponent, LegendComponent, TitleComponent, VisualMapComponent,
  MarkLineComponent, GeoComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { el } from "../../shared/dom.js";
import { fmtTime } from "../../shared/format.js";

echarts.use([BarChart, LineChart, MapChart, PieChart, LinesChart, GridComponent, TooltipComponent,
  LegendComponent, TitleComponent, VisualMapComponent, MarkLineComponent, GeoComponent, CanvasRenderer]);

const DAY_MS = 86400000;
const RECORDS_SHOWN = 100;

// The page's state, read by the browser test: the charts, what they drew, the records opened.
const state = { charts: {}, drawn: {}, loaded: {}, records: null, siting: null, figures: {} };
window.__stats = state;

function term(ctx, code) { return ctx.vocab.label("stats_terms", code); }

// The time figures of a group, in the vocabulary's order: the terms whose code names one.
function timeTerms(ctx, group) {
  return ctx.vocab.terms("stats_terms").filter((t) => group && typeof group[t.code] === "object" && group[t.code] && "p50" in group[t.code]);
}

// A chart in box; `drawn` says it finished drawing the figures it was given (the browser test).
function chart(box, name) {
  const c = echarts.init(box, null, { renderer: "canvas" });
  c.on("finished", () => { if (state.loaded[name]) state.drawn[name] = true; });
  state.charts[name] = c;
  return c;
}

function loaded(name) { state.loaded[name] = true; }

// ---- the records behind a figure ----

async function openRecords(ctx, ui, url, title) {
  ui.recTitle.textContent = title;
  ui.recBody.replaceChildren();
  ui.recMsg.textContent = "";
  state.records = { url, loading: true };
  try {
    const page = await ctx.api.get(url + "&limit=" + RECORDS_SHOWN);
    const rows = page.items.map((r) => el("tr", { "data-id": r.id },
      el("td", null, "#" + r.id), el("td", null, fmtTime(r.received_at)),
      el("td", null, ctx.vocab.label("categories", r.category)),
      el("td", null, ctx.vocab.label("statuses", r.status)),
      el("td", null, r.outcome ? ctx.vocab.label("outcomes", r.outcome) : "—"),
      el("td", null, (r.divisions.find((d) => d.level === "county") || {}).name || "—")));
    ui.recBody.replaceChildren(...rows);
    ui.recMsg.textContent = page.next ? "…" : "";
    state.records = { url, loading: false, shown: page.items.length, more: !!page.next };
  } catch (e) {
    ui.recMsg.textContent = ctx.vocab.errorText(e);
    state.records = { url, loading: false, error: e.code };
  }
  ui.records.hidden = false;
}

// ---- the charts ----

function drawTrend(ctx, ui, fig) {
  const weeks = fig.groups;
  loaded("trend"); // before: a chart without animation finishes inside setOption
  state.charts.trend.setOption({
    title: { text: term(ctx, "ui_trend"), left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    grid: { left: 48, right: 16, top: 40, bottom: 40 },
    xAxis: { type: "category", data: weeks.map((g) => g.label) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ name: term(ctx, "reports"), type: "line", symbolSize: 10, data: weeks.map((g) => g.reports) }],
  }, true);
  state.charts.trend.off("click");
  state.charts.trend.on("click", (p) => {
    const g = weeks[p.dataIndex];
    openRecords(ctx, ui, g.records, g.label + " · " + term(ctx, "reports") + " " + g.reports);
  });
}

function drawResponse(ctx, ui, fig) {
  const groups = fig.groups, times = timeTerms(ctx, fig.total);
  const limit = Math.max(...Object.values(fig.ack_limit_s));
  const series = times.map((t, i) => ({
    name: t.label + term(ctx, "p50"), type: "bar",
    data: groups.map((g) => (g[t.code].p50 == null ? null : +(g[t.code].p50 / 60).toFixed(1))),
    markLine: i ? undefined : { symbol: "none", label: { position: "insideEndTop", formatter: (p) => p.name + term(ctx, "ack_limit") },
      data: Object.entries(fig.ack_limit_s).map(([tier, s]) => ({ yAxis: s / 60, name: ctx.vocab.label("tiers", tier) })) },
  }));
  loaded("response"); // before: a chart without animation finishes inside setOption
  state.charts.response.setOption({
    title: { text: term(ctx, "ui_response") + "（" + term(ctx, "ui_minutes") + "）", left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 48, right: 16, top: 40, bottom: 56 },
    xAxis: { type: "category", data: groups.map((g) => g.label) },
    yAxis: { type: "value", max: (v) => Math.max(v.max, (limit || 0) / 60) * 1.1 },
    series,
  }, true);
  state.charts.response.off("click");
  state.charts.response.on("click", (p) => {
    const g = groups[p.dataIndex], t = times[p.seriesIndex];
    if (!g || !t) return;
    openRecords(ctx, ui, g[t.code].records, g.label + " · " + t.label + " · " + term(ctx, "n") + " " + g[t.code].n);
  });
}

function drawOutcomes(ctx, ui, fig) {
  const slices = ctx.vocab.terms("outcomes").map((t) => ({ name: t.label, code: t.code,
    value: fig.total.by_outcome[t.code].reports }));
  loaded("outcomes"); // before: a chart without animation finishes inside setOption
  state.charts.outcomes.setOption({
    title: { text: term(ctx, "ui_outcomes"), left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "item" },
    legend: { bottom: 0, type: "scroll" },
    series: [{ type: "pie", radius: ["35%", "65%"], data: slices, label: { formatter: "{b} {c}" } }],
  }, true);
  state.charts.outcomes.off("click");
  state.charts.outcomes.on("click", (p) => {
    const f = fig.total.by_outcome[slices[p.dataIndex].code];
    openRecords(ctx, ui, f.records, slices[p.dataIndex].name + " · " + term(ctx, "reports") + " " + f.reports);
  });
}

// A circle of radius r metres around lon/lat, as a closed line of lon/lat points (for the map).
function circle(lon, lat, r) {
  const pts = [];
  for (let i = 0; i <= 64; i++) {
    const a = (i / 64) * 2 * Math.PI;
    pts.push([lon + (r * Math.cos(a)) / (111320 * Math.cos((lat * Math.PI) / 180)), lat + (r * Math.sin(a)) / 110540]);
  }
  return pts;
}

async function drawCoverage(ctx, ui, q) {
  const fc = await ctx.api.get("/api/v1/stats/coverage.geojson?" + q);
  const name = "coverage-" + Date.now();
  echarts.registerMap(name, fc);
  const to = new Date(state.figures.counties.period.to);
  const days = (f) => (f.properties.last_patrolled_at ? Math.max(0, Math.round((to - new Date(f.properties.last_patrolled_at)) / DAY_MS)) : 90);
  state.coverage = { map: name, features: fc.features.length };
  const c = state.charts.coverage;
  loaded("coverage"); // before: a chart without animation finishes inside setOption
  c.setOption({
    title: { text: term(ctx, "ui_coverage_map"), subtext: term(ctx, "ui_siting_hint"), left: "center", textStyle: { fontSize: 14 } },
    tooltip: { trigger: "item", formatter: (p) => p.name ? p.data && p.data.label + "：" + (p.data.last ? fmtTime(p.data.last) : "—") : "" },
    visualMap: { min: 0, max: 90, left: 8, bottom: 8, calculable: true, text: [term(ctx, "last_patrolled_at"), ""],
      inRange: { color: ["#2f9e44", "#fab005", "#e03131"] } },
    geo: { map: name, nameProperty: "code", roam: true, silent: true, itemStyle: { areaColor: "#eee", borderColor: "#999" } },
    series: [
      { type: "map", geoIndex: 0, nameProperty: "code",
        data: fc.features.map((f) => ({ name: f.id, value: days(f), label: f.properties.name, last: f.properties.last_patrolled_at })) },
      { type: "lines", coordinateSystem: "geo", polyline: true, silent: true, data: [], lineStyle: { color: "#1971c2", width: 2 } },
    ],
  }, true);
  c.off("click");
  if (state.onMapClick) c.getZr().off("click", state.onMapClick); // only ours: ECharts listens there too
  state.onMapClick = (e) => {
    const at = c.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
    if (at) weighSite(ctx, ui, q, at[0], at[1]);
  };
  c.getZr().on("click", state.onMapClick);
  c.on("click", (p) => {
    if (!p.data || p.seriesType !== "map") return;
    const period = state.figures.counties.period; // the city's days, as the figures counted them
    openRecords(ctx, ui, "/api/v1/reports?division=" + p.data.name + "&received_from=" + encodeURIComponent(period.from)
      + "&received_to=" + encodeURIComponent(period.to), p.data.label);
  });
}

async function weighSite(ctx, ui, q, lon, lat) {
  const radius = Number(ui.radius.value) || 5000;
  ui.siting.textContent = "…";
  try {
    const s = await ctx.api.get("/api/v1/analysis/siting?" + q + "&candidate=" + lon.toFixed(6) + "," + lat.toFixed(6) + "&radius_m=" + radius);
    state.siting = s;
    const pct = (x) => (x == null ? "—" : (x * 100).toFixed(1) + "%");
    ui.siting.replaceChildren(
      el("b", null, term(ctx, "candidate")), " ", s.candidate.location.lon.toFixed(4) + "," + s.candidate.location.lat.toFixed(4), " · ",
      term(ctx, "reports") + " " + s.candidate.reports + " · " + term(ctx, "people") + " " + s.candidate.people + " · " + term(ctx, "share") + " " + pct(s.candidate.share), " · ",
      el("b", null, term(ctx, "current")), " " + pct(s.current.share), " · ",
      el("b", null, term(ctx, "change")), " +" + pct(s.change));
    state.charts.coverage.setOption({ series: [{}, { data: [{ coords: circle(lon, lat, radius) }] }] });
  } catch (e) {
    ui.siting.textContent = ctx.vocab.errorText(e);
  }
}

// ---- the page ----

// The figures of the division and period in the form (empty dates: the server's default, this month
// so far in the city's days; the form then shows the period the figures are of).
async function load(ctx, ui) {
  let q = "division=" + encodeURIComponent(ui.division.value);
  if (ui.from.value) q += "&from=" + ui.from.value;
  if (ui.to.value) q += "&to=" + ui.to.value;
  ui.msg.textContent = "";
  state.drawn = {};
  state.loaded = {};
  try {
    const [weeks, counties] = await Promise.all([
      ctx.api.get("/api/v1/stats?" + q + "&by=week"), ctx.api.get("/api/v1/stats?" + q + "&by=county&min_reports=1")]);
    state.figures = { weeks, counties };
    ui.from.value = counties.from;
    ui.to.value = counties.to;
    ui.month.value = ui.month.value || counties.to.slice(0, 7);
    q = "division=" + encodeURIComponent(ui.division.value) + "&from=" + counties.from + "&to=" + counties.to;
    drawTrend(ctx, ui, weeks);
    drawResponse(ctx, ui, counties);
    drawOutcomes(ctx, ui, counties);
    ui.total.textContent = term(ctx, "reports") + " " + counties.total.reports + " · " + term(ctx, "people") + " " + counties.total.people
      + " · " + term(ctx, "escalations") + " " + counties.total.escalations.reports
      + (counties.coverage.available ? " · " + term(ctx, "coverage") + " " + (counties.coverage.share * 100).toFixed(1) + "%" : "");
    await drawCoverage(ctx, ui, q);
  } catch (e) {
    ui.msg.textContent = ctx.vocab.errorText(e);
  }
}

async function downloadMonthly(ctx, ui) {
  ui.msg.textContent = "";
  try {
    const blob = await ctx.api.blob("/api/v1/stats/monthly.xlsx?division=" + encodeURIComponent(ui.division.value) + "&month=" + ui.month.value);
    const a = el("a", { href: URL.createObjectURL(blob), download: "monthly-" + ui.division.value + "-" + ui.month.value + ".xlsx" });
    document.body.append(a);
    a.click();
    a.remove();
    state.monthly = { bytes: blob.size };
  } catch (e) {
    ui.msg.textContent = ctx.vocab.errorText(e);
  }
}

function mount(root, ctx) {
  const field = (code, input) => el("label", null, term(ctx, code) + " ", input);
  const ui = {
    division: el("input", { id: "st-division", size: 12, value: (ctx.state.user && ctx.state.user.division_code) || "" }),
    from: el("input", { id: "st-from", type: "date" }),
    to: el("input", { id: "st-to", type: "date" }),
    month: el("input", { id: "st-month", type: "month" }),
    radius: el("input", { id: "st-radius", type: "number", min: 100, max: 50000, step: 500, value: 5000 }),
    msg: el("p", { class: "error", role: "alert" }),
    total: el("p", { id: "st-total" }),
    siting: el("p", { id: "st-siting" }),
    recTitle: el("h3", { id: "st-rec-title" }),
    recBody: el("tbody", { id: "st-rec-body" }),
    recMsg: el("p", { class: "muted" }),
  };
  ui.records = el("section", { id: "st-records", hidden: "" }, ui.recTitle,
    el("table", null, ui.recBody), ui.recMsg);
  const box = (id) => el("div", { id: "st-" + id, class: "st-chart" });
  const boxes = { trend: box("trend"), response: box("response"), outcomes: box("outcomes"), coverage: box("coverage") };
  root.classList.add("st-page");
  root.append(
    el("form", { class: "st-bar", onsubmit: (e) => { e.preventDefault(); load(ctx, ui); } },
      field("ui_division", ui.division), field("ui_from", ui.from), field("ui_to", ui.to),
      el("button", { type: "submit", id: "st-apply" }, term(ctx, "ui_apply")),
      field("ui_month", ui.month),
      el("button", { type: "button", id: "st-monthly", onclick: () => downloadMonthly(ctx, ui) }, term(ctx, "ui_monthly")),
      field("radius_m", ui.radius)),
    ui.msg, ui.total,
    el("div", { class: "st-grid" }, boxes.trend, boxes.response, boxes.outcomes, boxes.coverage),
    ui.siting, ui.records);
  state.ui = ui;
  state.boxes = boxes;
  state.ctx = ctx;
}

// The charts need their boxes laid out: made on the first show (mount runs while the page is
// still hidden), then resized on every show.
function show() {
  if (!state.boxes) return;
  if (!Object.keys(state.charts).length) {
    for (const [name, b] of Object.entries(state.boxes)) chart(b, name);
    window.addEventListener("resize", () => { for (const c of Object.values(state.charts)) c.resize(); });
    load(state.ctx, state.ui);
  }
  for (const c of Object.values(state.charts)) c.resize();
}

// The page (main.js registers it after the dispatch page, which stays the first).
export const statsPage = { id: "stats", label: (ctx) => term(ctx, "ui_page"), minRole: "supervisor", mount, show };
