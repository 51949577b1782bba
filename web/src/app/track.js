// track.js - the phone's location: one geolocation watch while someone needs it (the report form,
// or the track while the officer is on patrol). On patrol, fixes pass a distance filter, are
// buffered in IndexedDB and sent in batches (POST /api/v1/units/{id}/positions) with the
// outbox's summary (how many items wait on the phone, since when), which the unit carries for
// supervisors. A web app reads the location only while it is open (a service worker cannot): the
// gaps of the track are kept and shown to the officer, with their likely reason.
import { ApiError } from "../shared/api.js";
import { every } from "../shared/timer.js";

const KEEP_M = 10; // a fix is kept when it moved this far from the last kept one...
const KEEP_S = 2; // ...and at least this long after it,
const HEARTBEAT_S = 60; // or when this long has passed anyway (standing still)
const GAP_S = 120; // no kept fix for this long on patrol is a gap in the track
const SEND_EVERY_S = 15; // buffered fixes are sent this often...
const SEND_AT = 20; // ...or as soon as this many wait
const MAX_BATCH = 500;
const GAPS_KEPT = 20;
export const APP_CLOSED = "closed"; // why a gap happened: the app was not open
export const NO_FIX = "nofix"; // ...or the phone gave no position

const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

// Metres between two fixes (haversine: good to a few metres at street scale, which is all the
// distance filter needs).
function metres(a, b) {
  const k = Math.PI / 180, R = 6371008.8;
  const dLat = (b.lat - a.lat) * k, dLon = (b.lon - a.lon) * k;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * k) * Math.cos(b.lat * k) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

// A buffered fix as the positions API takes it (WGS-84, as the browser gives it).
function toApi(f) {
  const p = { location: { lon: f.lon, lat: f.lat, crs: "wgs84" }, at: new Date(f.at).toISOString() };
  if (f.acc != null && f.acc <= 100000) p.accuracy_m = f.acc;
  if (f.speed != null && f.speed >= 0 && f.speed <= 1000) p.speed_mps = f.speed;
  if (f.heading != null && f.heading >= 0 && f.heading <= 360) p.heading = f.heading;
  return p;
}

export function createTracker(ctx, outbox) {
  const { api, store, bus, state } = ctx;
  const openedAt = Date.now();
  let watch = null, lastKept = null, sending = false;
  const users = new Set();
  state.track = { on: false, fix: null, error: null, buffered: 0, kept: 0, dropped: 0, gaps: [], lastSent: null };
  const emit = () => bus.emit("track");

  function onFix(p) {
    const c = p.coords;
    const fix = { at: p.timestamp || Date.now(), lon: c.longitude, lat: c.latitude, acc: finite(c.accuracy),
      speed: finite(c.speed), heading: finite(c.heading) };
    state.track.fix = fix;
    state.track.error = null;
    bus.emit("fix", fix);
    if (state.track.on) keep(fix).catch((e) => console.error(e));
    emit();
  }

  function onError(e) {
    state.track.error = e.code === 1 ? "denied" : "unavailable";
    emit();
  }

  // Someone (`who`: "track", "form") needs the location, or no longer does.
  function want(who, on) {
    if (on) users.add(who);
    else users.delete(who);
    if (users.size && watch === null && navigator.geolocation) {
      watch = navigator.geolocation.watchPosition(onFix, onError, { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 });
    } else if (!users.size && watch !== null) {
      navigator.geolocation.clearWatch(watch);
      watch = null;
    }
  }

  async function addGap(from, to) {
    const why = from < openedAt ? APP_CLOSED : NO_FIX;
    const day = Date.now() - 86400000;
    state.track.gaps = [{ from, to, why }, ...state.track.gaps.filter((g) => g.to > day)].slice(0, GAPS_KEPT);
    await store.set("gaps", state.track.gaps);
  }

  async function keep(fix) {
    if (lastKept) {
      const dt = (fix.at - lastKept.at) / 1000;
      if (dt < KEEP_S || (dt < HEARTBEAT_S && metres(lastKept, fix) < KEEP_M)) return;
      if (dt > GAP_S) await addGap(lastKept.at, fix.at);
    }
    lastKept = fix;
    await store.addFix(fix);
    await store.set("lastFix", fix);
    state.track.kept++;
    state.track.buffered = await store.countFixes();
    if (state.track.buffered >= SEND_AT) send();
  }

  // Sends the buffered fixes (oldest first, in batches). A fix the server refuses (too old to
  // keep, in the future by the phone's clock) is dropped and counted; no answer: kept for later.
  async function send() {
    const unit = state.user && state.user.unit_id;
    if (sending || !api.token || !unit) return;
    sending = true;
    try {
      for (;;) {
        const fixes = await store.fixes(MAX_BATCH);
        if (!fixes.length) break;
        try {
          await api.post(`/api/v1/units/${unit}/positions`, { positions: fixes.map(toApi), queue: outbox.summary() });
          await store.removeFixes(fixes.map((f) => f.at));
          state.track.lastSent = Date.now();
        } catch (e) {
          const bad = e instanceof ApiError && e.status === 400 && /^positions\[(\d+)\]/.exec(e.field || "");
          if (!bad) break;
          await store.removeFixes([fixes[Number(bad[1])].at]);
          state.track.dropped++;
          continue;
        }
        if (fixes.length < MAX_BATCH) break;
      }
    } finally {
      sending = false;
      state.track.buffered = await store.countFixes();
      emit();
    }
  }

  // The officer starts or ends the patrol. The unit's status follows (available / off duty) when
  // the server can be told; the track does not wait for it.
  async function setShift(on, unitStatus) {
    state.track.on = on;
    await store.set("onShift", on);
    if (!on) {
      lastKept = null; // the time off patrol is not a gap
      await store.set("lastFix", null);
      send();
    }
    want("track", on);
    emit();
    const unit = state.user && state.user.unit_id;
    if (unit && unitStatus) {
      api.post(`/api/v1/units/${unit}/status`, { status: unitStatus })
        .then((u) => bus.emit("unit", u)).catch(() => {});
    }
  }

  return {
    want,
    setShift,
    send,
    // Restores the patrol state of the last session (a reopened app goes on tracking).
    async start() {
      state.track.gaps = (await store.get("gaps")) || [];
      lastKept = (await store.get("lastFix")) || null;
      state.track.buffered = await store.countFixes();
      if (await store.get("onShift")) await setShift(true, null);
      every(SEND_EVERY_S, () => { if (state.track.buffered) send(); });
      emit();
    },
    gapSeconds: GAP_S,
  };
}
