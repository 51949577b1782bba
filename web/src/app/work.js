// work.js - the unit's assignment: the report dispatched to the officer's unit arrives live (the
// event stream, with a stream token, resumed after the last event seen) and is re-read from the
// unit (GET /api/v1/units/{id}: report_id) at start, when the stream opens again and when the app
// comes back to the front. The officer marks arrived and resolves with an outcome (queued like
// reports: sent when the network allows); links open the place in the phone's map app, AMap with
// GCJ-02 and Baidu with BD-09 coordinates, both converted by the server (?crs=).
import { $, el } from "../shared/dom.js";
import { fmtTime } from "../shared/format.js";

// The phone's map apps: name, the crs the server converts to, the link of a point.
const MAP_APPS = [
  { id: "l-amap", crs: "gcj02",
    url: (p, name) => `https://uri.amap.com/marker?position=${p.lon},${p.lat}&name=${encodeURIComponent(name)}&src=patrold&coordinate=gaode&callnative=1` },
  { id: "l-baidu", crs: "bd09",
    url: (p, name) => `https://api.map.baidu.com/marker?location=${p.lat},${p.lon}&title=${encodeURIComponent(name)}&content=${encodeURIComponent(name)}&output=html&coord_type=bd09ll&src=webapp.patrold` },
];

export function createWork(ctx, outbox) {
  const { api, store, bus, state } = ctx;
  let stream = null;
  state.task = null; // {report, links: {l-amap: url, ...}}
  state.unit = null;

  const unitId = () => state.user && state.user.unit_id;
  const isOpen = (status) => ctx.vocab.flag("statuses", status, "open");

  async function setTask(task) {
    state.task = task;
    await store.set("task", task);
    bus.emit("task");
  }

  async function load(id) {
    const r = await api.get(`/api/v1/reports/${id}`);
    if (r.unit_id !== unitId() || !isOpen(r.status)) return setTask(null);
    const name = ctx.vocab.label("categories", r.category) + " #" + r.id;
    const links = {};
    await setTask({ report: r, links, seen_at: Date.now() });
    for (const app of MAP_APPS) {
      const c = await api.get(`/api/v1/reports/${id}?crs=${app.crs}`).catch(() => null);
      if (c) links[app.id] = app.url(c.location, name);
    }
    if (state.task && state.task.report.id === r.id) await setTask({ ...state.task, links });
  }

  // Re-reads the unit and its report (what the stream may have missed).
  async function refresh() {
    if (!unitId() || !api.token) return;
    try {
      const u = await api.get(`/api/v1/units/${unitId()}`);
      state.unit = u;
      await store.set("unit", u);
      bus.emit("unit", u);
      if (u.report_id) await load(u.report_id);
      else if (state.task) await setTask(null);
    } catch (e) {
      /* offline: the task kept on the phone stays shown */
    }
  }

  function onEvent(ev) {
    const p = ev.payload || {};
    if (ev.kind === "unit.updated") {
      if (ev.entity_id === unitId() && state.unit) {
        state.unit.status = p.status;
        bus.emit("unit", state.unit);
      }
      return;
    }
    const mine = state.task && state.task.report.id === ev.entity_id;
    if (p.unit_id === unitId() && isOpen(p.status)) load(ev.entity_id).catch(() => {});
    else if (mine) setTask(null);
  }

  return {
    refresh,
    async start() {
      state.unit = (await store.get("unit")) || null;
      state.task = (await store.get("task")) || null;
      bus.emit("task");
      if (!unitId()) return;
      if (stream) stream.close();
      stream = api.stream({
        kinds: ["report.updated", "unit.updated"],
        onEvent,
        onState: (open) => {
          state.streamOpen = open;
          bus.emit("net");
          if (open) refresh();
        },
      });
    },
    stop() {
      if (stream) stream.close();
      stream = null;
    },
    markArrived: () => outbox.addAction(state.task.report.id, "arrive"),
    markResolved: (outcome) => outbox.addAction(state.task.report.id, "resolve", outcome),
  };
}

// Draws the task card (#task) from state.task.
export function renderTask(ctx) {
  const { state, vocab } = ctx;
  const t = state.task;
  $("task").hidden = !t;
  $("no-task").hidden = !!t;
  if (!t) return;
  const r = t.report;
  if ($("task").dataset.id !== String(r.id)) { // another task: nothing said or chosen about the last
    $("t-msg").textContent = "";
    $("t-outcome").value = "";
  }
  $("task").dataset.id = r.id;
  $("task").dataset.status = r.status;
  $("t-title").textContent = `#${r.id} ${vocab.label("categories", r.category)} · ${vocab.label("statuses", r.status)}`;
  $("t-where").textContent = (r.divisions || []).map((d) => d.name).join(" ") + " · " + r.people_count + "人 · " + fmtTime(r.observed_at);
  $("t-desc").textContent = r.description || "";
  for (const app of MAP_APPS) {
    const a = $(app.id);
    a.hidden = !t.links[app.id];
    if (t.links[app.id]) a.href = t.links[app.id];
  }
  const waiting = state.actions.filter((a) => a.report_id === r.id);
  // the action's name, and whether it waits on the phone or was refused
  const named = (type) => {
    const a = waiting.find((x) => x.type === type);
    return vocab.label("event_types", type) + (a ? (a.state === "failed" ? "（未成功）" : "（待发送）") : "");
  };
  $("b-arrive").textContent = named("arrive");
  $("b-resolve").textContent = named("resolve");
  const failed = waiting.find((a) => a.state === "failed");
  if (failed) $("t-msg").textContent = "未能提交：" + vocab.errorText(failed.error);
  if (!$("t-outcome").options.length) {
    $("t-outcome").append(el("option", { value: "" }, "请选择"),
      ...vocab.terms("outcomes").map((o) => el("option", { value: o.code }, o.label)));
  }
}
