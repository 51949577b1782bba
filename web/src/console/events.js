// events.js - what the console does with each kind of live event. HANDLERS' keys are the kinds
// the console listens for; they must be exactly the kinds the server sends (the vocabulary's
// event_kinds): a test fails when one is missing here or here but never sent.

const latest = new Map(); // report id -> the id of its latest event

function reportChanged(ctx, ev) {
  const { state, vocab, bus, api } = ctx;
  const p = ev.payload || {};
  const id = ev.entity_id;
  latest.set(id, ev.id);
  if (p.event === "escalated") state.escalated.add(id);
  const old = state.reports.get(id);
  const open = !p.status || vocab.flag("statuses", p.status, "open");
  if (!open) state.reports.delete(id);
  else if (old) Object.assign(old, { status: p.status || old.status, ack_deadline: p.ack_deadline || old.ack_deadline, unit_id: p.unit_id });
  else {
    // the answer counts unless a later event of the report came meanwhile (that one's handler
    // did what it says: closed it, or asked again)
    api.get("/api/v1/reports/" + id).then((r) => {
      if (latest.get(id) !== ev.id) return;
      if (vocab.flag("statuses", r.status, "open")) state.reports.set(id, r);
      else state.reports.delete(id);
      bus.emit("queue");
    }).catch(() => {});
  }
  bus.emit("queue");
  ctx.refreshLayer("reports");
  bus.emit("counts");
  if (state.selected === id) bus.emit("selected", { id, fly: false });
}

function unitChanged(ctx, ev) {
  const p = ev.payload || {};
  const u = ctx.state.units.get(ev.entity_id);
  if (u && p.status) {
    u.status = p.status;
    ctx.bus.emit("units");
  }
  ctx.refreshLayer("units");
}

// a patrol plan's visit or overdue window: whoever shows the ledger or alerts listens on the bus
function patrolChanged(ctx, ev) {
  ctx.bus.emit("patrols", ev);
}

export const HANDLERS = {
  "report.created": reportChanged,
  "report.updated": reportChanged,
  "unit.created": unitChanged,
  "unit.updated": unitChanged,
  "unit.position": unitChanged,
  "patrol.visit": patrolChanged,
  "patrol.overdue": patrolChanged,
};

// Opens the live stream for the kinds above; every event goes to the log (the browser test reads
// it) and to its handler. Returns the stream ({close()}).
export function listen(ctx, onState) {
  const { state, vocab } = ctx;
  for (const k of vocab.codes("event_kinds"))
    if (!HANDLERS[k]) console.warn("the console does not handle live events of kind " + k);
  return ctx.api.stream({
    kinds: Object.keys(HANDLERS),
    onState,
    onEvent: (ev) => {
      state.eventLog.push({ id: ev.id, kind: ev.kind, entity_id: ev.entity_id, at: Date.now() });
      if (state.eventLog.length > 500) state.eventLog.shift();
      const h = HANDLERS[ev.kind];
      if (h) h(ctx, ev);
    },
  });
}
