// queue.js - the queue of open reports (side panel): escalated ones first, then by
// acknowledgement deadline; a countdown each ("剩余 14:16", from the one timer loop) that turns
// red in the last SOON_S seconds, and an overdue report pulses; arrows and Enter from the keyboard.
import { $, el } from "../../shared/dom.js";
import { fmtDuration } from "../../shared/format.js";
import { every } from "../../shared/timer.js";

// The open reports of the user's division into the state (the statuses that are open come from
// the vocabulary), and which of them were ever escalated (by hand or by a deadline): they sort
// first, even after a reload and outside the map's view.
export async function loadQueue(ctx) {
  const open = "/api/v1/reports?status=" + ctx.vocab.codes("statuses", (t) => t.open).join(",") + "&limit=500";
  const [data, escalated] = await Promise.all([ctx.api.get(open), ctx.api.get(open + "&escalated=true")]);
  ctx.state.reports.clear();
  for (const r of data.items) ctx.state.reports.set(r.id, r);
  for (const r of escalated.items) ctx.state.escalated.add(r.id);
  ctx.bus.emit("queue");
  ctx.bus.emit("counts");
}

// The report's places below the city ("海州区 新南街道 ..."), or 辖区外.
export function divisionName(r) {
  const d = (r.divisions || []).filter((x) => x && x.name);
  return d.length ? d.slice(1).map((x) => x.name).join(" ") || d[0].name : "辖区外";
}

// Only a new report waits for acknowledgement: its deadline counts down.
const deadlineOf = (r) => (r.status === "new" && r.ack_deadline) || "";

// The last seconds before a deadline, when its countdown turns red.
export const SOON_S = 300;

function order(ctx) {
  const { state, vocab } = ctx;
  const arr = [...state.reports.values()].filter((r) => vocab.flag("statuses", r.status, "open"));
  const key = (r) => (deadlineOf(r) ? Date.parse(r.ack_deadline) : 9e15 + r.id);
  const esc = (r) => (state.escalated.has(r.id) ? 0 : 1);
  return arr.sort((a, b) => esc(a) - esc(b) || key(a) - key(b));
}

function tick() {
  const now = Date.now();
  for (const s of document.querySelectorAll("#queue .q-count")) {
    const d = s.dataset.deadline;
    const left = d ? (Date.parse(d) - now) / 1000 : NaN;
    s.textContent = d ? (left < 0 ? "" : "剩余 ") + fmtDuration(left) : "";
    s.classList.toggle("late", left < 0);
    s.classList.toggle("soon", left >= 0 && left < SOON_S);
    s.closest(".q-item").classList.toggle("overdue", left < 0);
  }
}

function render(ctx) {
  const { state, vocab, styles } = ctx;
  const items = order(ctx);
  $("queue-count").textContent = "(" + items.length + ")";
  $("queue").replaceChildren(...items.map((r) => {
    const status = el("span", { class: "q-status" }, vocab.label("statuses", r.status));
    status.style.color = styles.reportLook(r.status).color;
    const li = el("li", { role: "option", "data-id": r.id, "data-status": r.status, class: "q-item", tabindex: "-1",
      "aria-selected": String(state.selected === r.id), onclick: () => ctx.select(r.id) },
    status,
    el("span", { class: "q-cat" }, "#" + r.id + " " + vocab.label("categories", r.category)),
    el("span", { class: "q-div" }, divisionName(r)),
    el("span", { class: "q-count", "data-deadline": deadlineOf(r) }, ""));
    if (state.escalated.has(r.id))
      li.append(el("span", { class: "q-esc", title: vocab.label("timeline_types", "escalated") }, vocab.label("event_types", "escalate")));
    return li;
  }));
  tick();
}

function keyboard(ctx, e) {
  const items = [...document.querySelectorAll("#queue .q-item")];
  if (!items.length) return;
  let i = items.findIndex((x) => Number(x.dataset.id) === ctx.state.selected);
  if (e.key === "ArrowDown") i = Math.min(items.length - 1, i + 1);
  else if (e.key === "ArrowUp") i = Math.max(0, i - 1);
  else if (e.key === "Enter") {
    if (i >= 0) ctx.select(Number(items[i].dataset.id), true);
    e.preventDefault();
    return;
  } else return;
  e.preventDefault();
  ctx.state.selected = Number(items[i].dataset.id);
  items.forEach((x) => x.setAttribute("aria-selected", String(Number(x.dataset.id) === ctx.state.selected)));
  items[i].scrollIntoView({ block: "nearest" });
  ctx.layers.reports.changed();
}

export function mount(ctx) {
  ctx.bus.on("queue", () => render(ctx));
  $("queue").addEventListener("keydown", (e) => keyboard(ctx, e));
  every(1, tick);
  // Without a live stream (not yet open, or dropped and retrying) the queue is re-read now and then.
  every(20, () => { if (ctx.state.ready && !ctx.state.streamOpen && ctx.api.token) loadQueue(ctx).catch(() => {}); });
}
