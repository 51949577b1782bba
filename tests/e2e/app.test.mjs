// app.test.mjs - drives Debian's chromium (playwright-core) through the patrol app at /app/ on a phone
// viewport, geolocation granted and emulated, against a real patrold (run.py) reached through a TCP
// proxy that the test cuts and spoils (tests/integration/tcpproxy.py, driven over E2E_CONTROL, which
// also stops and starts the server and reads the database):
//   sign in (the unit from the sign-in reply), the controls' accessible Chinese names, the manifest,
//   installability and the service worker (Lighthouse's checks); fixes emulated along a line arrive
//   as the unit's track; a dispatch made in the console reaches the app within 2 s, the officer's
//   arrived and resolved reach the console; offline (proxy cut and the context offline) 5 reports,
//   two with photos, survive a reload and a browser restart and reach the server within 10 s of the
//   network's return, once each; then the same with the server's answers lost, hanging and the server
//   killed during the send; the figures (time to first screen cold and warm) and screenshots.
import { randomUUID } from "node:crypto";
import { deflateSync } from "node:zlib";
import fs from "node:fs";
import path from "node:path";
import { chromium, CHROMIUM, step, finish, assert, sleep, api as apiAt, waitFor } from "./lib.mjs";

const SERVER = process.env.PATROLD_URL; // patrold itself (the test's own API calls)
const ORIGIN = process.env.APP_URL; // the proxy in front of it (the browser's way in)
const APP = ORIGIN + "/app/";
const CONTROL = process.env.E2E_CONTROL;
const OUT = process.env.E2E_OUT || "build/e2e";
const START = [119.163509, 34.572274]; // 海州区, where the demo patrol unit works
const PHONE = { width: 360, height: 740 };
const api = (...a) => apiAt(SERVER, ...a);

async function control(p, body) {
  const r = await fetch(CONTROL + p, { method: "POST", body: JSON.stringify(body || {}) });
  const out = await r.json();
  if (r.status !== 200) throw new Error(`control ${p}: ${out.error}`);
  return out;
}
const sql = (q) => control("/sql", { sql: q });
const proxy = (mode, match) => control("/proxy", { mode, match });

async function until(fn, timeout, what) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} within ${timeout} ms`);
    await sleep(100);
  }
}

// A photo as a phone's camera gives it: a PNG of w x h, its pixels from `seed`.
function photo(seed, w = 640, h = 480) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (t, d) => {
    const l = Buffer.alloc(4), c = Buffer.alloc(4);
    l.writeUInt32BE(d.length);
    c.writeUInt32BE(crc(Buffer.concat([Buffer.from(t), d])));
    return Buffer.concat([l, Buffer.from(t), d, c]);
  };
  const raw = Buffer.alloc(h * (w * 3 + 1));
  let s = seed * 2654435761 >>> 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    s = (s * 1103515245 + 12345) >>> 0;
    raw.set([(x + seed * 40) & 255, (y * 2) & 255, (s >>> 24) & 15], y * (w * 3 + 1) + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return { name: `IMG_${seed}.png`, mimeType: "image/png",
    buffer: Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]) };
}

const PHONE_CONTEXT = { viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "zh-CN",
  permissions: ["geolocation"], geolocation: { longitude: START[0], latitude: START[1], accuracy: 12 } };

fs.mkdirSync(OUT, { recursive: true });
const userDir = fs.mkdtempSync("/tmp/patrold-e2e-app-");
const pageErrors = [], external = [];

async function openPhone(offline) {
  const ctx = await chromium.launchPersistentContext(userDir, { ...CHROMIUM, ...PHONE_CONTEXT, offline: !!offline });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
    if (process.env.E2E_DEBUG) console.log("app:", m.type(), m.text().slice(0, 300));
  });
  page.on("request", (r) => { if (!r.url().startsWith(ORIGIN) && !r.url().startsWith("data:") && !r.url().startsWith("blob:")) external.push(r.url()); });
  return { ctx, page };
}

const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = (list, code) => vocabulary[list].find((t) => t.code === code).label;
const dispatcher = (await api("POST", "/api/v1/auth/login", { username: "dispatcher", password: "demo" })).data.token;
const unitId = (await api("POST", "/api/v1/auth/login", { username: "patrol", password: "demo" })).data.user.unit_id;
const figures = {};

// ---- the figure: time to first screen on a cold start (nothing cached), against the console ----
await step("cold start: time to the first screen (the app and, as the baseline, the console)", async () => {
  const browser = await chromium.launch(CHROMIUM);
  try {
    const time = async (url, selector) => {
      const c = await browser.newContext({ viewport: PHONE, isMobile: true });
      const p = await c.newPage();
      const t0 = Date.now();
      await p.goto(url, { waitUntil: "commit" });
      await p.waitForSelector(selector, { state: "visible", timeout: 15000 });
      const ms = Date.now() - t0;
      await c.close();
      return ms;
    };
    figures.console = await time(ORIGIN + "/", "#login-form button");
    figures.cold = await time(APP, "#b-login");
  } finally {
    await browser.close();
  }
  assert(figures.cold < 5000, "the app's first screen took " + figures.cold + " ms");
});

let { ctx, page } = await openPhone(false);

await step("sign in as a patrol: the unit comes from the sign-in reply", async () => {
  await page.goto(APP);
  await page.getByLabel("用户名").fill("patrol");
  await page.getByLabel("密码").fill("demo");
  await page.screenshot({ path: path.join(OUT, "app-login.png") });
  await page.getByRole("button", { name: "登录" }).click();
  await waitFor(page, () => window.__app && window.__app.ready, null, 10000, "the app ready after sign in");
  const user = await page.evaluate(() => window.__app.user);
  assert(unitId && user.unit_id === unitId, `unit ${JSON.stringify(user.unit_id)}, want ${unitId}`);
  await waitFor(page, () => !!(window.__app.unit && window.__app.unit.id), null, 5000, "the unit read");
});

await step("controls carry their Chinese names (上报 类别 人数 描述 拍照 提交 待发送)", async () => {
  await page.getByRole("button", { name: "上报" }).click();
  for (const [role, name] of [["combobox", "类别"], ["spinbutton", "人数"], ["textbox", "描述"], ["button", "拍照"],
    ["button", "提交"], ["button", "待发送"]]) {
    const n = await page.getByRole(role, { name }).count();
    assert(n >= 1, `no ${role} named ${name}`);
  }
  // the category choices are the vocabulary's, in its order
  const cats = await page.$$eval("#f-category option", (os) => os.filter((o) => o.value).map((o) => [o.value, o.textContent]));
  assert(JSON.stringify(cats) === JSON.stringify(vocabulary.categories.map((t) => [t.code, t.label])), "categories " + JSON.stringify(cats));
});

await step("installable: manifest valid, no installability errors, the service worker controls the page", async () => {
  await waitFor(page, () => !!navigator.serviceWorker.controller, null, 10000, "a service worker controlling the page");
  const cdp = await ctx.newCDPSession(page);
  const m = await cdp.send("Page.getAppManifest");
  assert(m.url.endsWith("/app/manifest.webmanifest"), "manifest url " + m.url);
  assert(!m.errors.length, "manifest errors: " + JSON.stringify(m.errors));
  const man = JSON.parse(m.data);
  assert(man.name && man.short_name && man.start_url === "/app/" && man.scope === "/app/" && man.display === "standalone" && man.lang === "zh-CN",
    "manifest fields " + m.data.slice(0, 200));
  for (const icon of man.icons) {
    const r = await fetch(new URL(icon.src, APP));
    const b = Buffer.from(await r.arrayBuffer());
    const size = b.readUInt32BE(16) + "x" + b.readUInt32BE(20);
    assert(r.status === 200 && b.subarray(1, 4).toString() === "PNG" && size === icon.sizes, `icon ${icon.src}: ${r.status} ${size}`);
  }
  const inst = await cdp.send("Page.getInstallabilityErrors");
  assert(!inst.installabilityErrors.length, "installability: " + JSON.stringify(inst.installabilityErrors));
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).scope);
  assert(scope === APP, "service worker scope " + scope);
});

await step("fixes emulated along a line arrive as the unit's track", async () => {
  await page.getByRole("button", { name: "任务" }).click();
  await page.getByRole("button", { name: "开始巡查" }).click();
  const t0 = new Date(Date.now() - 1000).toISOString();
  const N = 9;
  for (let i = 0; i < N; i++) { // 30 m east every 2.2 s (a bicycle)
    await ctx.setGeolocation({ longitude: START[0] + i * 0.00033, latitude: START[1], accuracy: 8 });
    await sleep(2200);
  }
  const rows = await until(async () => {
    const r = await sql(`SELECT ST_X(geom) AS lon FROM unit_positions WHERE unit_id = ${unitId} AND at >= '${t0}' ORDER BY at`);
    return r.length >= N - 1 ? r : null;
  }, 25000, `${N - 1} positions of unit ${unitId} in the database`);
  // the unit's track (GET /api/v1/units/{id}/track is not built yet): its stored fixes, in the
  // order walked, on the line, none flagged; the unit stands at the last one
  for (let i = 1; i < rows.length; i++) assert(rows[i].lon > rows[i - 1].lon, "the fixes are not in the order walked");
  const off = await sql(`SELECT count(*) AS n FROM unit_positions WHERE unit_id = ${unitId} AND at >= '${t0}'
    AND (flagged OR abs(ST_Y(geom) - ${START[1]}) > 1e-6)`);
  assert(off[0].n === 0, off[0].n + " fixes off the line or flagged");
  const unit = await api("GET", `/api/v1/units/${unitId}`, null, dispatcher);
  assert(Math.abs(unit.data.position.lon - rows[rows.length - 1].lon) < 1e-7, "the unit is not at its last fix");
  assert(unit.data.app_queue && unit.data.app_queue.length === 0, "the unit's app_queue " + JSON.stringify(unit.data.app_queue));
});

// ---- work: the console dispatches, the officer arrives and resolves ----
const desk = await chromium.launch(CHROMIUM);
const consoleCtx = await desk.newContext({ viewport: { width: 1366, height: 768 }, locale: "zh-CN" });
const consolePage = await consoleCtx.newPage();
consolePage.on("pageerror", (e) => pageErrors.push("console: " + e.message));
let taskId;

await step("a dispatch made in the console reaches the app within 2 s", async () => {
  await consolePage.goto(SERVER + "/"); // the dispatcher's desk: not behind the phone's spoiled network
  await consolePage.fill("#username", "dispatcher");
  await consolePage.fill("#password", "demo");
  await consolePage.click("#login-form button[type=submit]");
  await waitFor(consolePage, () => window.__console && window.__console.ready && window.__console.streamOpen, null, 10000, "the console ready");
  const body = { client_id: randomUUID(), category: "vagrant", description: "派遣测试",
    location: { lon: START[0] + 0.004, lat: START[1] + 0.001 }, observed_at: new Date().toISOString() };
  taskId = (await api("POST", "/api/v1/reports", body, dispatcher)).data.id;
  await waitFor(consolePage, (id) => !!document.querySelector(`#queue li[data-id="${id}"]`), taskId, 5000, "the report in the console's queue");
  await consolePage.click(`#queue li[data-id="${taskId}"]`);
  const button = `#d-candidates .b-dispatch[data-unit="${unitId}"]`;
  await consolePage.waitForSelector(button, { timeout: 5000 });
  const t0 = Date.now();
  await consolePage.click(button);
  await waitFor(page, (id) => document.querySelector("#task:not([hidden])")?.dataset.id === String(id), taskId, 2000,
    `report ${taskId} shown in the app`);
  figures.dispatch = Date.now() - t0;
  await waitFor(page, () => /amap\.com/.test(document.getElementById("l-amap").href) && /baidu\.com/.test(document.getElementById("l-baidu").href),
    null, 3000, "links to the phone's map apps");
  // the links carry the server's GCJ-02 / BD-09 coordinates, not the WGS-84 ones
  const amap = await page.getAttribute("#l-amap", "href");
  const [lon] = /position=([\d.]+),/.exec(amap).slice(1).map(Number);
  assert(Math.abs(lon - body.location.lon) > 0.002, "the AMap link is not in GCJ-02: " + amap);
  await page.screenshot({ path: path.join(OUT, "app-task.png") });
});

await step("the officer's arrived and resolved reach the console", async () => {
  await page.getByRole("button", { name: label("event_types", "arrive") }).click();
  await waitFor(consolePage, ([id, s]) => window.__console.reports.get(id)?.status === s, [taskId, "on_scene"], 5000,
    "the console showing the report on scene");
  await page.selectOption("#t-outcome", vocabulary.outcomes[1].code);
  await page.getByRole("button", { name: label("event_types", "resolve") }).click();
  await waitFor(consolePage, ([id, s]) => !document.querySelector(`#queue li[data-id="${id}"]`) && window.__console.reports.get(id)?.status !== s
    && window.__console.eventLog.filter((e) => e.kind === "report.updated" && e.entity_id === id).length >= 3,
  [taskId, "on_scene"], 5000, "the console taking the resolved report off its queue").catch(async (e) => {
    const seen = await consolePage.evaluate((id) => [window.__console.reports.get(id)?.status,
      window.__console.eventLog.filter((x) => x.entity_id === id).map((x) => x.kind)], taskId);
    const app = await page.evaluate(() => [window.__app.actions, window.__app.sync, document.getElementById("t-msg").textContent]);
    const db = await sql(`SELECT status, outcome FROM reports WHERE id = ${taskId}`);
    throw new Error(`${e.message}; console ${JSON.stringify(seen)}; app ${JSON.stringify(app)}; db ${JSON.stringify(db)}`);
  });
  const r = await api("GET", `/api/v1/reports/${taskId}`, null, dispatcher);
  assert(r.data.status === "resolved" && r.data.outcome === vocabulary.outcomes[1].code, "report " + JSON.stringify([r.data.status, r.data.outcome]));
  await waitFor(page, () => document.getElementById("task").hidden, null, 3000, "the task cleared in the app");
});

// ---- offline: file 5 reports, two with photos ----
async function fileReport(i, tag, photos) {
  await page.getByRole("button", { name: "上报" }).click();
  const cats = vocabulary.categories;
  await page.getByLabel("类别").selectOption(cats[i % cats.length].code);
  await page.getByLabel("人数").fill(String(i + 1));
  await page.getByLabel("描述").fill(`${tag} ${i}`);
  for (const [k, ph] of photos.entries()) {
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: k % 2 ? "从相册选择" : "拍照" }).click();
    await (await chooser).setFiles(ph);
  }
  await waitFor(page, (n) => document.querySelectorAll("#thumbs img").length === n, photos.length, 5000, "the photo thumbnails");
  await waitFor(page, () => /定位精度/.test(document.getElementById("loc-text").textContent), null, 5000, "a GPS location in the form");
  if (i === 1) await page.locator("#report-form").screenshot({ path: path.join(OUT, "app-report.png") });
  await page.getByRole("button", { name: "提交" }).click();
  await waitFor(page, (t) => window.__app.queue.some((q) => q.body.description === t), `${tag} ${i}`, 5000, "the report saved on the phone");
}

const held = (tag) => sql(`SELECT r.client_id, r.description, (SELECT count(*) FROM photos p WHERE p.report_id = r.id) AS photos
  FROM reports r WHERE r.description LIKE '${tag} %' ORDER BY r.description`);
const queued = () => page.evaluate(() => window.__app.queue.map((q) => q.client_id));
const EXPECT = [0, 1, 0, 2, 0]; // photos of the five reports

// Within `ms`, the server holds exactly the reports of `ids` (each once, by client_id), with `want`
// photos each, and the app's queue is empty.
async function heldOnce(tag, ids, want, ms) {
  const t0 = Date.now();
  let rows = [];
  await until(async () => {
    rows = await held(tag);
    return rows.length === want.length && rows.every((r, i) => r.photos === want[i]) ? rows : null;
  }, ms, `${want.length} reports with ${want.join("/")} photos on the server`).catch(async (e) => {
    const q = await page.evaluate(() => window.__app.queue.map((i) => [i.state, i.report_id, i.photos_sent, i.error]));
    throw new Error(`${e.message}; held ${JSON.stringify(rows.map((r) => r.photos))}; queue ${JSON.stringify(q)}`);
  });
  const took = Date.now() - t0;
  rows = await held(tag);
  assert(JSON.stringify(rows.map((r) => r.client_id).sort()) === JSON.stringify([...ids].sort()), "other reports than those queued: " + JSON.stringify(rows));
  const dupes = await sql(`SELECT count(*) AS n FROM reports WHERE client_id IN (${ids.map((x) => `'${x}'`).join(",")})`);
  assert(dupes[0].n === ids.length, "reports held " + dupes[0].n + " times");
  await waitFor(page, () => window.__app.queue.length === 0 && document.getElementById("q-count").textContent === "0", null, 5000, "the app's queue empty");
  await sleep(1500); // nothing more arrives late (a second send of a photo)
  const again = await held(tag);
  assert(again.every((r, i) => r.photos === want[i]), "photos arrived twice: " + JSON.stringify(again.map((r) => r.photos)));
  return took;
}

let ids1 = [];
await step("offline (proxy cut and the context offline): 5 reports, two with photos, queued on the phone", async () => {
  await proxy("refuse");
  await ctx.setOffline(true);
  await waitFor(page, () => document.getElementById("net").textContent.startsWith("离线"), null, 3000, "the app saying offline");
  // the second photo of report 3 is bigger than the city's photo size: downscaled on the phone
  for (let i = 0; i < 5; i++) await fileReport(i, "离线上报A", EXPECT[i] === 0 ? [] : [photo(10 + i), photo(20 + i, 2000, 1500)].slice(0, EXPECT[i]));
  ids1 = await queued();
  assert(ids1.length === 5, "queued " + ids1.length);
  await page.getByRole("button", { name: "待发送" }).click();
  const badge = await page.textContent("#q-count");
  assert(badge === "5", "待发送 shows " + badge);
  const states = await page.$$eval("#queue li .i-state", (ps) => ps.map((p) => p.textContent));
  assert(states.length === 5 && states.every((s) => s.startsWith("已保存在手机")), "item states " + JSON.stringify(states));
  // the answer of navigator.storage.persist() is shown
  assert(/本机存储/.test(await page.textContent("#persist")), "the storage's persistence not shown");
  await page.screenshot({ path: path.join(OUT, "app-queue-offline.png") });
  assert((await held("离线上报A")).length === 0, "reports reached the server while offline");
});

await step("reload offline: the app shell loads from the service worker and the queue shows 5", async () => {
  const t0 = Date.now();
  await page.reload();
  await waitFor(page, () => window.__app && window.__app.ready, null, 10000, "the app ready offline");
  figures.warm = Date.now() - t0;
  figures.warmScreen = await page.evaluate(() => Math.round(window.__app.firstScreenMs));
  await waitFor(page, () => document.getElementById("q-count").textContent === "5", null, 3000, "待发送 5 after the reload");
});

await step("close the browser and open it again on the same profile, still offline: the queue shows 5, the track's gap is shown", async () => {
  // the last fix before closing is made 5 minutes old: the time the app was closed is a gap
  await page.evaluate(() => new Promise((resolve) => {
    const rq = indexedDB.open("patrold-app");
    rq.onsuccess = () => {
      const kv = rq.result.transaction("kv", "readwrite").objectStore("kv");
      kv.get("lastFix").onsuccess = (e) => {
        const f = e.target.result;
        f.at = Date.now() - 300000;
        kv.put(f, "lastFix").onsuccess = () => resolve();
      };
    };
  }));
  await ctx.close();
  ({ ctx, page } = await openPhone(true));
  await page.goto(APP);
  await waitFor(page, () => window.__app && window.__app.ready, null, 10000, "the app ready after the restart");
  await waitFor(page, () => document.getElementById("q-count").textContent === "5", null, 3000, "待发送 5 after the restart");
  assert(JSON.stringify((await queued()).sort()) === JSON.stringify([...ids1].sort()), "other items after the restart");
  await ctx.setGeolocation({ longitude: START[0] + 0.004, latitude: START[1], accuracy: 10 });
  await page.getByRole("button", { name: "任务" }).click();
  await waitFor(page, () => /应用未打开/.test(document.getElementById("gaps").textContent), null, 5000, "the gap shown as the app closed");
});

await step("online again: within 10 s the server holds exactly those 5 reports with their photos, once each", async () => {
  await proxy("pass");
  await ctx.setOffline(false);
  figures.sync = await heldOnce("离线上报A", ids1, EXPECT, 10000);
  // the big photo was downscaled on the phone to the city's photo_max_px (its longer side)
  const max = (await api("GET", "/api/v1/console")).data.photo_max_px;
  const rid = (await sql("SELECT id FROM reports WHERE description = '离线上报A 3'"))[0].id;
  const sizes = [];
  for (const p of (await api("GET", `/api/v1/reports/${rid}/photos`, null, dispatcher)).data.items) {
    const b = Buffer.from(await (await fetch(SERVER + p.url, { headers: { Authorization: "Bearer " + dispatcher } })).arrayBuffer());
    let i = 2; // the JPEG's frame header: height and width
    while (i < b.length && !(b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2)) i += 2 + b.readUInt16BE(i + 2);
    sizes.push([b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)]);
  }
  assert(JSON.stringify(sizes.sort()) === JSON.stringify([[640, 480], [max, max * 3 / 4]].sort()), "stored photo sizes " + JSON.stringify(sizes));
});

// ---- the same, with the server failing during the send ----
const EXPECT2 = [1, 2, 0];
let ids2 = [];
await step("the server fails during the send (answers lost, requests hanging, the server killed): still exactly once", async () => {
  await proxy("refuse");
  await ctx.setOffline(true);
  for (let i = 0; i < 3; i++) await fileReport(i, "离线上报B", [photo(40 + i), photo(50 + i)].slice(0, EXPECT2[i]));
  ids2 = await queued();
  assert(ids2.length === 3, "queued " + ids2.length);
  // 1. every answer lost after its head: the server creates the reports, the app never hears
  await proxy("swallow");
  await ctx.setOffline(false);
  await until(async () => (await held("离线上报B")).length === 3, 10000, "the reports created while their answers were lost");
  // 2. only the photos' answers lost: the server stores a photo, the app does not know
  await proxy("swallow", "POST /api/v1/reports/\\d+/photos");
  await until(async () => (await held("离线上报B")).some((r) => r.photos > 0), 15000, "a photo stored while its answer was lost");
  // 3. the server killed: nothing answers
  await control("/server/kill");
  await proxy("pass");
  await sleep(4000);
  // 4. back, but every request hangs until the app gives up on it
  await proxy("hang");
  await control("/server/start");
  await sleep(22000);
  assert((await queued()).length > 0, "the queue emptied while every answer hung");
  await proxy("pass");
  figures.recover = await heldOnce("离线上报B", ids2, EXPECT2, 45000);
  // the photo stored while its answer was lost was recognised by its bytes, not sent again
  const compared = await sql(`SELECT count(*) AS n FROM audit a JOIN reports r ON r.id = ANY (a.report_ids)
    WHERE a.username = 'patrol' AND a.action = 'photo.get' AND r.description LIKE '离线上报B %'`);
  assert(compared[0].n >= 1, "the app never compared a stored photo with its own");
});

await step("a session ended on the server: the app asks to sign in again, keeps the queue and sends it after", async () => {
  await proxy("refuse");
  await ctx.setOffline(true);
  await fileReport(0, "离线上报C", []);
  const ids = await queued();
  await sql("UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE username = 'patrol')");
  await proxy("pass");
  await ctx.setOffline(false);
  await waitFor(page, () => !document.getElementById("s-login").hidden, null, 10000, "the sign-in screen after the 401");
  assert((await queued()).length === 1 && (await held("离线上报C")).length === 0, "the queue was not kept");
  await page.getByLabel("用户名").fill("patrol");
  await page.getByLabel("密码").fill("demo");
  await page.getByRole("button", { name: "登录" }).click();
  await heldOnce("离线上报C", ids, [0], 10000);
});

await step("what the server refuses stays in the queue with its reason, is not retried by itself, and can be fixed", async () => {
  // an item queued by an older app, with a category this server does not know
  const id = randomUUID();
  await page.evaluate((cid) => new Promise((resolve, reject) => {
    const rq = indexedDB.open("patrold-app");
    rq.onerror = () => reject(rq.error);
    rq.onsuccess = () => {
      const tx = rq.result.transaction("outbox", "readwrite");
      tx.objectStore("outbox").put({ client_id: cid, user: "patrol", created_at: Date.now(), photos: 0, state: "saved",
        report_id: null, error: null, body: { client_id: cid, category: "sleeping_rough", description: "旧版应用 0",
          location: { lon: 119.17, lat: 34.58, crs: "wgs84" }, observed_at: new Date().toISOString(), people_count: 1 } });
      tx.oncomplete = () => resolve();
    };
  }), id);
  await page.evaluate(() => window.dispatchEvent(new Event("online")));
  await page.getByRole("button", { name: "待发送" }).click();
  const item = `#queue li[data-id="${id}"]`;
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.state === "failed", item, 5000, "the item refused");
  const text = await page.textContent(item + " .i-state");
  assert(text.includes(label("error_codes", "invalid_category")), "no reason in Chinese: " + text);
  let sends = 0;
  const count = (r) => { if (r.url().endsWith("/api/v1/reports/batch")) sends++; };
  page.on("request", count);
  await page.evaluate(() => window.dispatchEvent(new Event("online"))); // a pass: the refused item stays out of it
  await sleep(3000);
  page.off("request", count);
  assert((await page.evaluate((sel) => document.querySelector(sel)?.dataset.state, item)) === "failed", "the refused item changed by itself");
  assert(sends === 0 && (await held("旧版应用")).length === 0, `the refused item was sent again (${sends} times)`);
  await page.locator(item + " select").selectOption("vagrant");
  await page.locator(item + " .b-retry").click();
  await heldOnce("旧版应用", [id], [0], 10000);
});

await step("the console marks a unit whose phone has had unsent items for more than 12 hours", async () => {
  const token = (await api("POST", "/api/v1/auth/login", { username: "patrol", password: "demo" })).data.token;
  const old = new Date(Date.now() - 13 * 3600e3).toISOString();
  const fix = { location: { lon: START[0], lat: START[1] }, at: new Date().toISOString() };
  const r = await api("POST", `/api/v1/units/${unitId}/positions`, { positions: [fix], queue: { length: 2, oldest_at: old } }, token);
  assert(r.status === 200, "positions with the queue: " + r.status);
  await consolePage.evaluate(() => window.__console.reloadBacklog());
  await waitFor(consolePage, (u) => !!document.querySelector(`#units li[data-unit="${u}"] .u-backlog`), unitId, 5000,
    "the unit marked in the console");
  await consolePage.locator("#units-box").screenshot({ path: path.join(OUT, "app-console-backlog.png") });
  // a fresh queue (under 12 hours) is not marked
  const fresh = { length: 1, oldest_at: new Date(Date.now() - 3600e3).toISOString() };
  await api("POST", `/api/v1/units/${unitId}/positions`, { positions: [{ ...fix, at: new Date().toISOString() }], queue: fresh }, token);
  await consolePage.evaluate(() => window.__console.reloadBacklog());
  await waitFor(consolePage, (u) => !document.querySelector(`#units li[data-unit="${u}"] .u-backlog`), unitId, 5000,
    "the mark gone");
});

await step("screenshots at phone size (work, map, queue, me)", async () => {
  await page.getByRole("button", { name: "任务" }).click();
  await page.screenshot({ path: path.join(OUT, "app-work.png") });
  await page.getByRole("button", { name: "上报" }).click();
  await page.getByRole("button", { name: "在地图上调整位置" }).click();
  await waitFor(page, () => document.querySelectorAll("#map canvas").length > 0, null, 10000, "the map (loaded on demand)");
  await page.locator("#map-box").scrollIntoViewIfNeeded();
  await sleep(1500);
  await page.screenshot({ path: path.join(OUT, "app-map.png") });
  // the cross-hair's point becomes the report's location
  await page.getByRole("button", { name: "使用地图中心" }).click();
  const loc = await page.textContent("#loc-text");
  assert(/地图选点/.test(loc), "the map's point not taken: " + loc);
  await page.getByRole("button", { name: "待发送" }).click();
  await page.screenshot({ path: path.join(OUT, "app-queue.png") });
  await page.getByRole("button", { name: "我的" }).click();
  await page.screenshot({ path: path.join(OUT, "app-me.png") });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= PHONE.width, "the page is wider than the phone: " + width);
});

await step("nothing loaded from outside, no page errors", async () => {
  assert(external.length === 0, "requests elsewhere: " + external.slice(0, 3).join(" "));
  const errs = pageErrors.filter((e) => !/Failed to load resource|ERR_|net::|NetworkError|Failed to fetch|aborted/i.test(e));
  assert(errs.length === 0, "page errors: " + errs.slice(0, 3).join(" | ").replace(/\s+/g, " "));
});

await desk.close();
await ctx.close();
fs.rmSync(userDir, { recursive: true, force: true });
console.log(`measured: time to first screen, cold start: app ${figures.cold} ms, console ${figures.console} ms (ratio ${(figures.cold / figures.console).toFixed(2)})`);
console.log(`measured: reload offline from the service worker: ready in ${figures.warm} ms (first screen at ${figures.warmScreen} ms)`);
console.log(`measured: dispatch to the app ${figures.dispatch} ms; 5 queued reports held by the server ${figures.sync} ms after the network returned; ${figures.recover} ms after the server's faults ended`);
finish();
