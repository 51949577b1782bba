// main.js - the patrol app at /app/: an installable, offline-first web app for officers on the
// street. This file wires the modules and the screens: store.js (IndexedDB), outbox.js (sending,
// exactly once), track.js (location and the unit's track), work.js (the unit's assignment),
// report.js (the form), views.js (what is shown), sw.js (the service worker: the app shell
// offline). Every label of a code comes from the vocabulary (GET /api/v1/vocabulary), kept on the
// phone for offline use, as are the settings (GET /api/v1/console) and the signed-in user.
import "./app.css";
import { Api } from "../shared/api.js";
import { Vocabulary } from "../shared/vocabulary.js";
import { createBus } from "../shared/bus.js";
import { $ } from "../shared/dom.js";
import { every } from "../shared/timer.js";
import { openStore } from "./store.js";
import { createOutbox } from "./outbox.js";
import { createTracker } from "./track.js";
import { createWork, renderTask } from "./work.js";
import { mountReportForm } from "./report.js";
import { renderQueue, renderQueueStates, renderSent, renderNet, renderTrack, renderMe } from "./views.js";

const TOKEN_KEY = "patrold.app.token";
const REQUEST_TIMEOUT_MS = 20000;
const SCREENS = ["login", "work", "report", "queue", "me"];

const state = { user: null, settings: null, screen: null, ready: false, streamOpen: false, persisted: null,
  swReady: false, firstScreenMs: null };
window.__app = state; // read by the browser test
const bus = createBus();
const api = new Api({ storage: localStorage, key: TOKEN_KEY, timeoutMs: REQUEST_TIMEOUT_MS, onUnauthorized: () => expired() });
const ctx = { api, bus, state, store: null, vocab: null, persist };
let outbox, tracker, work, form, started = false;

function show(name) {
  for (const s of SCREENS) $("s-" + s).hidden = s !== name;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.screen === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (form) form.shown(name === "report");
  state.screen = name;
  if (state.firstScreenMs === null) {
    state.firstScreenMs = performance.now();
    performance.mark("first-screen");
  }
}

// The vocabulary and the settings: the phone's copy at once, the server's when it answers.
async function cached(key, path, retry) {
  const fresh = api.get(path).then((v) => ctx.store.set(key, v).then(() => v)).catch(() => null);
  const kept = await ctx.store.get(key);
  if (kept) return kept;
  for (let v = await fresh; ; v = await api.get(path).catch(() => null)) {
    if (v) {
      await ctx.store.set(key, v);
      return v;
    }
    if (!retry) return null;
    $("login-msg").textContent = "首次使用需要联网：正在连接服务器…";
    await new Promise((r) => setTimeout(r, 3000));
  }
}

// Asks the browser to keep the phone's data (not cleared under storage pressure); shows the answer.
async function persist() {
  if (!navigator.storage || !navigator.storage.persist) return;
  state.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  bus.emit("queue");
}

async function signedIn(user) {
  state.user = user;
  await ctx.store.set("user", user);
  $("who").textContent = user.username;
  $("tabs").hidden = false;
  show("work");
  persist();
  if (!started) {
    started = true;
    await tracker.start();
  }
  await work.start();
  outbox.flush("signin");
  bus.emit("track");
  state.ready = true;
}

// The session ended on the server (401): sign in again; the queue stays on the phone.
function expired() {
  if (!api.token) return;
  api.setToken(null);
  $("login-msg").textContent = "登录已失效，请重新登录；未发送的内容仍保存在本机。";
  $("tabs").hidden = true;
  show("login");
}

async function signOut() {
  await tracker.setShift(false, null);
  work.stop();
  api.logout();
  state.user = null;
  state.ready = false;
  await ctx.store.set("user", null);
  $("who").textContent = "";
  $("tabs").hidden = true;
  show("login");
}

async function login(e) {
  e.preventDefault();
  const msg = $("login-msg");
  msg.textContent = "";
  await booted;
  try {
    const out = await api.post("/api/v1/auth/login", { username: $("username").value.trim(), password: $("password").value });
    api.setToken(out.token);
    $("password").value = "";
    await signedIn(out.user);
  } catch (err) {
    msg.textContent = err.status ? "登录失败：" + ctx.vocab.errorText(err) : "无法连接服务器，请联网后登录";
  }
}

function wire() {
  bus.on("queue", () => { renderQueue(ctx, outbox); renderSent(ctx); renderNet(ctx); renderTask(ctx); });
  bus.on("task", () => renderTask(ctx));
  bus.on("action", () => { renderTask(ctx); work.refresh(); });
  bus.on("track", () => { renderTrack(ctx); renderMe(ctx); });
  bus.on("unit", (u) => { state.unit = u; renderTrack(ctx); renderMe(ctx); });
  bus.on("net", () => renderNet(ctx));
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.screen));
  $("t-report").textContent = ctx.vocab.label("timeline_types", "created");
  $("b-arrive").addEventListener("click", () => {
    $("t-msg").textContent = "";
    work.markArrived();
  });
  $("b-resolve").addEventListener("click", () => {
    if (!$("t-outcome").value) {
      $("t-msg").textContent = "请先选择处置结果";
      return $("t-outcome").focus();
    }
    $("t-msg").textContent = "";
    work.markResolved($("t-outcome").value);
  });
  $("b-shift").addEventListener("click", () => {
    const on = !state.track.on;
    tracker.setShift(on, on ? "available" : "off_duty"); // the unit is on patrol, or off duty
  });
  $("b-send").addEventListener("click", () => outbox.flush("officer"));
  $("b-logout").addEventListener("click", signOut);
  window.addEventListener("online", () => { outbox.flush("online"); tracker.send(); renderNet(ctx); });
  window.addEventListener("offline", () => renderNet(ctx));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    outbox.flush("visible");
    work.refresh();
  });
  // the one timer loop: countdowns and ages on screen, and a pass now and then for what waits
  every(1, () => { if (state.screen === "queue") renderQueueStates(ctx); });
  every(5, () => renderTrack(ctx));
  every(30, () => { if ((state.queue.length || state.actions.length) && !state.sync.busy && !state.sync.nextAt) outbox.flush("tick"); });
}

// The service worker (the app shell offline). A new version waits until the officer chooses to
// load it (a reload would lose a half-filled form).
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
    const offer = (w) => {
      if (!w || !navigator.serviceWorker.controller) return; // the first install: nothing to replace
      $("banner").hidden = false;
      $("b-update").onclick = () => w.postMessage("skip-waiting");
    };
    offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const w = reg.installing;
      w.addEventListener("statechange", () => { if (w.state === "installed") offer(w); });
    });
    navigator.serviceWorker.addEventListener("controllerchange", () => { if (!$("banner").hidden) location.reload(); });
    await navigator.serviceWorker.ready;
    state.swReady = true;
    renderMe(ctx);
  } catch (e) {
    console.warn("service worker: " + e.message);
  }
}

const booted = (async () => {
  ctx.store = await openStore();
  const user = api.token ? await ctx.store.get("user") : null;
  if (!user) show("login"); // the first screen at once; the rest loads behind it
  registerWorker();
  ctx.vocab = new Vocabulary(await cached("vocabulary", "/api/v1/vocabulary", true));
  if (!user) $("login-msg").textContent = "";
  state.settings = await cached("settings", "/api/v1/console", false);
  outbox = createOutbox(ctx);
  tracker = createTracker(ctx, outbox);
  work = createWork(ctx, outbox);
  form = mountReportForm(ctx, outbox, tracker, show);
  wire();
  await outbox.refresh();
  if (user) {
    await signedIn(user);
    // the server's word on the session and the unit (a 401 signs out through onUnauthorized)
    api.get("/api/v1/auth/me").then((me) => { if (me.unit_id !== user.unit_id) signedIn(me); }).catch(() => {});
  }
})();

$("login-form").addEventListener("submit", login);
