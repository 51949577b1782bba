// state.js - what the console knows (reports, units, the selection, the live stream) and a small
// bus: modules change the state and emit a topic; panels subscribed to the topic redraw. Nothing
// here talks HTTP (api.js) or draws (panels, layers).

export function createState() {
  return {
    user: null,
    reports: new Map(), // id -> report (open ones: the queue)
    escalated: new Set(), // report ids escalated
    units: new Map(), // id -> {id, name, status, age_s, seen}
    reportsOnMap: new Set(), // report ids in the loaded tiles
    selected: null, // the report shown in the details
    eventLog: [], // the last 500 live events: {id, kind, entity_id, at}
    alerts: { sounds: 0, notified: 0, last: null }, // alerts played (events.js): {id, why} the last
    streamOpen: false,
    stale: new Set(), // community codes not patrolled lately
    rendered: 0, // complete map renders
    ready: false, // signed in, queue loaded, stream asked for
  };
}

// Topics: "queue" (reports or their order changed), "units", "selected" (the selection or its
// report changed), "counts" (today's figures may have changed), "signed-in", "signed-out".
export { createBus } from "../shared/bus.js";
