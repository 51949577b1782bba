// api.js - the one place that talks HTTP to patrold: JSON requests with the bearer token, binary
// fetches (map tiles, photos) and the live event stream (/api/v1/events). Shared by the console
// and the patrol app; nothing else calls fetch or EventSource.

// A refused request: the HTTP status and the error body's code, field and (English) message.
export class ApiError extends Error {
  constructor(status, code, field, message) {
    super(message || "HTTP " + status);
    this.status = status;
    this.code = code || null;
    this.field = field || null;
  }
}

export class Api {
  // storage: where the token survives a reload (sessionStorage for the console); onUnauthorized:
  // called when a signed-in request gets 401 (the session ended elsewhere).
  // timeoutMs: a request without an answer by then is aborted (0: never; the patrol app sets it,
  // so that a connection that hangs mid-way fails and is retried).
  constructor({ storage = globalThis.sessionStorage, key = "token", onUnauthorized = null, timeoutMs = 0 } = {}) {
    this.storage = storage;
    this.key = key;
    this.token = storage ? storage.getItem(key) : null;
    this.onUnauthorized = onUnauthorized;
    this.timeoutMs = timeoutMs;
  }

  setToken(token) {
    this.token = token || null;
    if (!this.storage) return;
    if (token) this.storage.setItem(this.key, token);
    else this.storage.removeItem(this.key);
  }

  headers(extra) {
    const h = Object.assign({}, extra);
    if (this.token) h.Authorization = "Bearer " + this.token;
    return h;
  }

  // JSON in, JSON out; throws ApiError for any non-2xx (and calls onUnauthorized on a 401). A
  // network failure or a timeout throws what fetch throws (TypeError, AbortError): no answer.
  async request(method, path, body) {
    const headers = this.headers(body === undefined ? {} : { "Content-Type": "application/json" });
    return this.send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, this.timeoutMs);
  }

  // POST of raw bytes (a photo Blob, sent with its own type); the JSON reply, as request().
  // timeoutMs: this request's own limit (a large body on a slow network needs longer).
  postBytes(path, blob, timeoutMs = this.timeoutMs) {
    return this.send(path, { method: "POST", headers: this.headers({ "Content-Type": blob.type }), body: blob }, timeoutMs);
  }

  // fetch, then read(response), within timeoutMs for both (0: no limit).
  async timed(path, init, timeoutMs, read) {
    const ctl = timeoutMs ? new AbortController() : null;
    const timer = ctl && setTimeout(() => ctl.abort(), timeoutMs);
    try {
      return await read(await fetch(path, ctl ? { ...init, signal: ctl.signal } : init));
    } finally {
      clearTimeout(timer);
    }
  }

  // One JSON request; the time limit covers the reply's body too. A success whose body breaks off
  // is no answer (it throws), never an empty success.
  send(path, init, timeoutMs) {
    return this.timed(path, init, timeoutMs, async (r) => {
      let data = null;
      if ((r.headers.get("Content-Type") || "").includes("json")) {
        data = await r.json().catch((e) => {
          if (r.ok) throw e;
          return null;
        });
      }
      if (r.status === 401 && this.token && this.onUnauthorized) this.onUnauthorized();
      if (!r.ok) {
        const e = (data && data.error) || {};
        throw new ApiError(r.status, e.code, e.field, e.message);
      }
      return data;
    });
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }

  // Bytes of a signed-in GET (a vector tile): an ArrayBuffer, or null when there is no content.
  async bytes(url) {
    const r = await fetch(url, { headers: this.headers() });
    return r.status === 200 ? r.arrayBuffer() : null;
  }

  // A signed-in GET as a Blob (a photo); throws ApiError.
  blob(url) {
    return this.timed(url, { headers: this.headers() }, this.timeoutMs, (r) => {
      if (!r.ok) throw new ApiError(r.status, null, null, "HTTP " + r.status);
      return r.blob();
    });
  }

  // Signs out on the server (best effort) and forgets the token.
  logout() {
    if (this.token) fetch("/api/v1/auth/logout", { method: "POST", headers: this.headers() }).catch(() => {});
    this.setToken(null);
  }

  // The live event stream: listens for `kinds` and calls onEvent(event) with the parsed event
  // ({id, kind, entity_id, at, payload}); onState(open, why) on open and on drop. A dropped
  // connection is resumed after the last id seen (EventSource does it with Last-Event-ID; a
  // refused one is reopened with a fresh stream token and ?after=). Returns {close()}.
  stream({ kinds, onEvent, onState }) {
    let es = null, closed = false, lastId = null, retry = null;
    const handle = (e) => {
      lastId = e.lastEventId || lastId;
      let ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      onEvent(ev);
    };
    const open = async () => {
      if (closed) return;
      if (es) es.close();
      let url = "/api/v1/events";
      try {
        const t = await this.post("/api/v1/events/token");
        url += "?access_token=" + encodeURIComponent(t.token);
      } catch (e) {
        onState(false, e);
        retry = setTimeout(open, 10000);
        return;
      }
      if (closed) return;
      if (lastId) url += "&after=" + encodeURIComponent(lastId);
      const source = new EventSource(url);
      es = source;
      source.onopen = () => onState(true, null);
      source.onerror = () => {
        onState(false, null);
        if (source.readyState === EventSource.CLOSED && es === source && !closed) retry = setTimeout(open, 1000);
      };
      for (const k of kinds) source.addEventListener(k, handle);
    };
    open();
    return {
      close() {
        closed = true;
        clearTimeout(retry);
        if (es) es.close();
      },
    };
  }
}
