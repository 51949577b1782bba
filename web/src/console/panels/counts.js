// counts.js - today's figures of the user's division in the header strip: received, acknowledged,
// overdue, escalated, resolved. Labels from the vocabulary where they name a status or an event.
import { $, el } from "../../shared/dom.js";
import { every } from "../../shared/timer.js";

// Midnight today in the city (UTC+8) as RFC 3339.
function today() {
  return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10) + "T00:00:00+08:00";
}

async function load(ctx) {
  const { api, state, vocab } = ctx;
  const t = today();
  try {
    const items = (await api.get("/api/v1/reports?since=" + encodeURIComponent(t) + "&limit=500")).items;
    const t0 = Date.parse(t);
    // acknowledged today: moved on from new, and not closed without being handled
    const handled = (r) => r.status !== "new" && (vocab.flag("statuses", r.status, "open") || r.status === "resolved");
    $("c-new").textContent = items.filter((r) => Date.parse(r.received_at) >= t0).length;
    $("c-ack").textContent = items.filter(handled).length;
    $("c-resolved").textContent = items.filter((r) => r.status === "resolved").length;
    $("c-esc").textContent = [...state.escalated].filter((id) => state.reports.has(id)).length;
  } catch (e) { /* the strip keeps its last numbers */ }
}

function overdue(ctx) {
  const now = Date.now();
  let n = 0;
  for (const r of ctx.state.reports.values()) if (r.status === "new" && r.ack_deadline && Date.parse(r.ack_deadline) < now) n++;
  $("c-overdue").textContent = n;
}

export function mount(ctx) {
  const { vocab } = ctx;
  const item = (label, id, warn) => el("li", { class: warn ? "warn" : undefined }, label + " ", el("b", { id }, "0"));
  $("counts").replaceChildren(
    item("今日上报", "c-new"),
    item(vocab.label("statuses", "acknowledged"), "c-ack"),
    item("超时", "c-overdue", true),
    item(vocab.label("timeline_types", "escalated"), "c-esc", true),
    item(vocab.label("statuses", "resolved"), "c-resolved"));
  ctx.bus.on("counts", () => load(ctx));
  every(1, () => overdue(ctx));
}
