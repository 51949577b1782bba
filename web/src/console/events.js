// events.js - what the console does with each kind of live event. HANDLERS' keys are the kinds
// the console listens for; they must be exactly the kinds the server sends (the vocabulary's
// event_kinds): a test fails when one is missing here or here but never sent. A report entering
// the user's queue (new, or escalated) sounds and shows a browser notification, unless the act
// was the user's own (the event's actor_id).

const latest = new Map(); // report id -> the id of its latest event

// ---- alerts ----
let audio = null; // the AudioContext, made on the user's first gesture (browsers start it then)

// Arms the alerts on the user's first gesture: the sound, and the notification permission asked.
export function armAlerts() {
  const arm = () => {
    try { audio = audio || new AudioContext(); audio.resume(); } catch (_) { /* no Web Audio */ }
    if (typeof Notification !== "undefined" && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  };
  document.addEventListener("pointerdown", arm, { once: true, capture: true });
  document.addEventListener("keydown", arm, { once: true, capture: true });
}

// Two short tones (state.alerts.sounds counts the calls: the browser test observes them).
function sound(state) {
  state.alerts.sounds++;
  if (!audio) return;
  const t = audio.currentTime;
  for (const [f, at] of [[880, 0], [660, 0.18]]) {
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.15, t + at);
    g.gain.exponentialRampToValueAtTime(0.001, t + at + 0.15);
    o.connect(g).connect(audio.destination);
    o.start(t + at);
    o.stop(t + at + 0.16);
  }
}

function alertOf(ctx, id, p, why) {
  const { state, vocab } = ctx;
  state.alerts.last = { id, why };
  sound(state);
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    const n = new Notification((why === "escalated" ? vocab.label("timeline_types", "escalated") : vocab.label("event_kinds", "report.created")) + " #" + id,
      { body: vocab.label("categories", p.category) + (p.tier ? " · " + vocab.label("tiers", p.tier) : ""), tag: "report-" + id });
    n.onclick = () => { window.focus(); ctx.select(id); n.close(); };
    state.alerts.notified++;
  } catch (_) { /* no notifications in this browser */ }
}

function reportChanged(ctx, ev) {
  const { state, vocab, bus, api } = ctx;
  const p = ev.payload || {};
  const id = ev.entity_id;
  latest.set(id, ev.id);
  if (p.event === "escalated") state.escalated.add(id);
  const old = state.reports.get(id);
  const open = !p.status || vocab.flag("statuses", p.status, "open");
  const mine = p.actor_id != null && state.user && p.actor_id === state.user.id;
  if (open && !mine && (ev.kind === "report.created" || p.event === "escalated")) alertOf(ctx, id, p, ev.kind === "report.created" ? "new" : "escalated");
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

// a patrol plan's visit or overdue window: whoever shows the ledger listens on the bus (the
// 巡查计划 page reads its ledger again); an overdue window sounds on any page
function patrolChanged(ctx, ev) {
  if (ev.kind === "patrol.overdue") {
    ctx.state.alerts.last = { id: ev.entity_id, why: "patrol.overdue" };
    sound(ctx.state);
  }
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
