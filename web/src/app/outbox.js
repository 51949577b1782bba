// outbox.js - sends what waits on the phone, in order: the queued reports (POST
// /api/v1/reports/batch, idempotent by client_id), then each report's photos, then the report
// actions (arrived, resolved). A report leaves the queue only when the server has acknowledged it
// and every one of its photos (Enketo's rule). What got no answer (no network, a timeout, a 5xx, a
// 429) is tried again with back-off, at start, on the `online` event and when the app comes to the
// front; what the server refused (a photo it cannot take, a category it does not know, ...) stays
// in the queue with the server's reason, for the officer to retry or delete: never dropped
// silently, never retried forever. A 401 stops the sending until the officer signs in again; the
// queue is kept.
//
// Exactly once: a report is sent with its client_id, so a repeat is answered "existing". A photo
// whose send got no answer is marked `tried`; before it is sent again the report's photos are
// listed, and one not yet matched whose bytes are the photo's (same size, then the same bytes)
// counts as that photo (the server stored it before the answer was lost; the app sends photos
// without the metadata the server strips, so it stores the bytes sent).
import { ApiError } from "../shared/api.js";

const BATCH = 50; // reports per request
const BACKOFF_S = [2, 4, 8, 15, 30]; // after 1, 2, 3... failed passes in a row (then 30 s)
const SENT_KEPT = 20; // "recently sent" entries kept

// True when a failed request may succeed later unchanged: no answer at all, a server error, a
// time-out, too many requests.
export function retryable(e) {
  return !(e instanceof ApiError) || e.status >= 500 || e.status === 408 || e.status === 429;
}

// The time a photo's upload may take: 15 s plus 16 KB a second.
const photoTimeout = (bytes) => 15000 + bytes / 16;

export function createOutbox(ctx) {
  const { api, store, bus, state } = ctx;
  let running = null, again = false, failures = 0, timer = null;
  state.sync = { busy: false, nextAt: null, lastOk: null, lastError: null, signin: false };
  state.queue = []; // every queued report (all users), oldest first
  state.actions = []; // report actions waiting
  state.sending = new Set(); // client_ids in a request now

  const mineOnly = (list) => list.filter((x) => state.user && x.user === state.user.username);
  const emit = () => bus.emit("queue");

  // Re-reads the queue from IndexedDB and tells the views.
  async function refresh() {
    state.queue = (await store.items()).sort((a, b) => a.created_at - b.created_at);
    state.actions = await store.actions();
    emit();
  }

  // The next try after a failed pass; none while the phone knows it is offline (the `online`
  // event starts a pass).
  function schedule() {
    clearTimeout(timer);
    state.sync.nextAt = null;
    if (!navigator.onLine) return;
    const s = BACKOFF_S[Math.min(failures, BACKOFF_S.length) - 1];
    const ms = s * 1000 * (0.8 + Math.random() * 0.4);
    state.sync.nextAt = Date.now() + ms;
    timer = setTimeout(() => flush("retry"), ms);
  }

  async function fail(item, err, photo) {
    item.state = "failed";
    item.error = { status: err.status || null, code: err.code || null, field: err.field || null,
      message: err.message || "", photo: photo == null ? null : photo };
    await store.putItem(item);
  }

  async function sendReports() {
    const todo = mineOnly(state.queue).filter((it) => !it.report_id && it.state !== "failed");
    for (let i = 0; i < todo.length; i += BATCH) {
      const chunk = todo.slice(i, i + BATCH);
      for (const it of chunk) state.sending.add(it.client_id);
      emit();
      let out;
      try {
        out = await api.post("/api/v1/reports/batch", { reports: chunk.map((it) => it.body) });
      } catch (e) {
        if (retryable(e) || e.status === 401) throw e;
        for (const it of chunk) await fail(it, e); // the whole request refused
        continue;
      } finally {
        for (const it of chunk) state.sending.delete(it.client_id);
      }
      for (const res of out.results) {
        const it = chunk[res.index];
        if (res.report) {
          Object.assign(it, { report_id: res.report.id, acked_at: Date.now(), error: null });
          await store.putItem(it);
        } else {
          await fail(it, new ApiError(400, res.error.code, res.error.field, res.error.message));
        }
      }
    }
  }

  // Whether the server already holds photo p of item (a send that got no answer): a photo of the
  // report with p's size that no other photo of the item has claimed.
  async function alreadyStored(item, p, photos) {
    const list = await api.get(`/api/v1/reports/${item.report_id}/photos`);
    const claimed = new Set(photos.filter((q) => q.server_id).map((q) => q.server_id));
    const mine = new Uint8Array(await p.blob.arrayBuffer());
    for (const x of list.items) {
      if (x.bytes !== p.size || claimed.has(x.id)) continue;
      const theirs = new Uint8Array(await (await api.blob(x.url)).arrayBuffer());
      if (theirs.every((v, i) => v === mine[i])) {
        await acked(item, p, x.id, photos);
        return true;
      }
    }
    return false;
  }

  // Photo p of item is on the server as photo `id`.
  async function acked(item, p, id, photos) {
    p.server_id = id;
    await store.putPhoto(p);
    item.photos_sent = photos.filter((q) => q.server_id).length;
    await store.putItem(item);
    emit();
  }

  // Sends the photos of one acknowledged report. Returns true when all are acknowledged.
  async function sendPhotosOf(it) {
    const photos = await store.photosOf(it.client_id);
    for (const p of photos) {
      if (p.server_id || (p.tried && await alreadyStored(it, p, photos))) continue;
      p.tried = true;
      await store.putPhoto(p);
      state.sending.add(it.client_id);
      emit();
      try {
        const out = await api.postBytes(`/api/v1/reports/${it.report_id}/photos`, p.blob, photoTimeout(p.size));
        await acked(it, p, out.id, photos);
      } catch (e) {
        if (retryable(e) || e.status === 401) throw e;
        await fail(it, e, p.n);
        return false;
      } finally {
        state.sending.delete(it.client_id);
      }
    }
    return true;
  }

  // The report and its photos are on the server: out of the queue, into "recently sent".
  async function done(it) {
    await store.removeReport(it.client_id);
    const sent = (await store.get("sent")) || [];
    sent.unshift({ client_id: it.client_id, report_id: it.report_id, category: it.body.category,
      photos: it.photos, created_at: it.created_at, sent_at: Date.now() });
    await store.set("sent", sent.slice(0, SENT_KEPT));
  }

  async function sendPhotos() {
    for (const it of mineOnly(state.queue)) {
      if (!it.report_id || it.state === "failed") continue;
      if (await sendPhotosOf(it)) await done(it);
    }
  }

  // A refused action may have been done already (its answer lost, or a teammate did it): the
  // report's timeline says.
  async function alreadyDone(a) {
    const t = await api.get(`/api/v1/reports/${a.report_id}/timeline`);
    return t.items.some((e) => e.type === a.type);
  }

  async function sendActions() {
    for (const a of mineOnly(state.actions)) {
      if (a.state === "failed") continue;
      const body = { type: a.type };
      if (a.outcome) body.outcome = a.outcome;
      try {
        await api.post(`/api/v1/reports/${a.report_id}/events`, body);
      } catch (e) {
        if (retryable(e) || e.status === 401) throw e;
        if (!(e.status === 409 && await alreadyDone(a))) {
          Object.assign(a, { state: "failed", error: { status: e.status, code: e.code, field: e.field, message: e.message } });
          await store.putAction(a);
          bus.emit("action", a);
          continue;
        }
      }
      await store.removeAction(a.id);
      bus.emit("action", Object.assign(a, { state: "done" }));
    }
  }

  async function pass() {
    await refresh();
    if (!api.token || !state.user) {
      state.sync.signin = !!(state.queue.length || state.actions.length);
      return emit();
    }
    state.sync.busy = true;
    emit();
    try {
      await sendReports();
      await refresh();
      await sendPhotos();
      await sendActions();
      failures = 0;
      clearTimeout(timer);
      Object.assign(state.sync, { nextAt: null, lastOk: Date.now(), lastError: null, signin: false });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        state.sync.signin = true; // sending resumes after sign-in (flush)
      } else {
        failures++;
        state.sync.lastError = e;
        schedule();
      }
    } finally {
      state.sync.busy = false;
      await refresh();
    }
  }

  // Sends everything that waits; resolves when the pass ends. Any reason but "retry" (start,
  // online, a new item, sign-in, the officer) starts the back-off over.
  function flush(why) {
    if (why !== "retry") failures = 0;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await pass();
      } while (again);
    })().finally(() => { running = null; });
    return running;
  }

  return {
    flush,
    refresh,
    // Saves a new report with its photos (Blobs) on the phone, then tries to send.
    async add(body, blobs) {
      const item = { client_id: body.client_id, user: state.user.username, created_at: Date.now(),
        body, photos: blobs.length, state: "saved", report_id: null, error: null };
      await store.saveReport(item, blobs.map((b, n) => ({ client_id: body.client_id, n, blob: b, size: b.size,
        server_id: null, tried: false })));
      await refresh();
      flush("new");
      return item;
    },
    async addAction(reportId, type, outcome) {
      await store.addAction({ user: state.user.username, report_id: reportId, type, outcome: outcome || null,
        at: Date.now(), state: "saved", error: null });
      await refresh();
      return flush("new");
    },
    // The officer's retry of a refused item (after fixing its category, when that was the fault).
    async retry(clientId, category) {
      const it = await store.item(clientId);
      if (!it) return;
      if (category) it.body.category = category;
      Object.assign(it, { state: "saved", error: null });
      await store.putItem(it);
      return flush("officer");
    },
    async remove(clientId) {
      await store.removeReport(clientId);
      await refresh();
    },
    async retryAction(id) {
      const a = state.actions.find((x) => x.id === id);
      if (a) await store.putAction(Object.assign(a, { state: "saved", error: null }));
      return flush("officer");
    },
    async removeAction(id) {
      await store.removeAction(id);
      await refresh();
    },
    // What the phone holds unsent (every user's), for the positions envelope: {length, oldest_at}.
    summary() {
      const all = [...state.queue, ...state.actions];
      const oldest = all.reduce((m, x) => Math.min(m, x.created_at || x.at), Infinity);
      return { length: all.length, oldest_at: all.length ? new Date(oldest).toISOString() : null };
    },
  };
}
