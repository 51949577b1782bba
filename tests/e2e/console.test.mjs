// console.test.mjs - drives Debian's chromium (playwright-core) through the dispatcher console served
// by a real patrold (PATROLD_URL): sign in, tiles drawn, a report live in the queue and on the map,
// labels from /api/v1/vocabulary, the live event kinds the console handles against the ones the
// server sends, dispatch from the page, a dropped event connection resumed, place search;
// screenshots to E2E_OUT.
// The browser reaches patrold through a small TCP proxy here, so that the test can cut every
// connection (the event stream included) and refuse new ones for a while.
import net from "node:net";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { chromium, CHROMIUM, step, finish, assert, api as apiAt, waitFor, labeller } from "./lib.mjs";

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const HAIZHOU = [119.163509, 34.572274];
const api = (...a) => apiAt(BASE, ...a);

async function newReport(token, jitter) {
  const body = { client_id: randomUUID(), category: "lost_elderly", description: "浏览器测试",
    location: { lon: HAIZHOU[0] + jitter, lat: HAIZHOU[1] + jitter / 2 }, observed_at: new Date().toISOString() };
  const r = await api("POST", "/api/v1/reports", body, token);
  assert(r.status === 201, "POST /api/v1/reports: " + r.status);
  return r.data.id;
}

// ---- a proxy the test can cut ----
const upstream = new URL(BASE);
const sockets = new Set();
let blocked = false;
const proxy = net.createServer((c) => {
  if (blocked) { c.destroy(); return; }
  const u = net.connect(Number(upstream.port), upstream.hostname);
  sockets.add(c); sockets.add(u);
  c.pipe(u); u.pipe(c);
  const done = () => { c.destroy(); u.destroy(); sockets.delete(c); sockets.delete(u); };
  c.on("error", done); u.on("error", done); c.on("close", done); u.on("close", done);
});
await new Promise((res) => proxy.listen(0, "127.0.0.1", res));
const PAGE = `http://127.0.0.1:${proxy.address().port}/`;

fs.mkdirSync(OUT, { recursive: true });
const userDir = fs.mkdtempSync("/tmp/patrold-e2e-chromium-");
// a fresh --user-data-dir (playwright passes it itself)
const browser = await chromium.launchPersistentContext(userDir, {
  ...CHROMIUM,
  // the stand-in base map is on loopback like the page; real ones are public servers
  args: [...CHROMIUM.args, "--disable-features=LocalNetworkAccessChecks"],
  viewport: { width: 1366, height: 768 },
  locale: "zh-CN",
});
const page = browser.pages()[0] || await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
if (process.env.E2E_DEBUG) page.on("console", (m) => console.log("console:", m.type(), m.text().slice(0, 400)));
page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
const external = [];
const BASEMAP = process.env.E2E_BASEMAP || "\0"; // the configured base map's own origin is expected
page.on("request", (r) => { if (!r.url().startsWith(PAGE) && !r.url().startsWith(BASEMAP)) external.push(r.url()); });

// The page under the policy patrold itself sends (no inline scripts or styles; images only from
// here and from the configured base map); a violation shows as a console error and fails the last step.
let servedCsp = "";
await page.route(PAGE, async (route) => {
  const resp = await route.fetch();
  servedCsp = resp.headers()["content-security-policy"] || "";
  await route.fulfill({ response: resp });
});
await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`)));

const dispatcher = (await api("POST", "/api/v1/auth/login", { username: "dispatcher", password: "demo" })).data.token;
// the labels the page must show: the server's vocabulary, not a copy in this test
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const label = labeller(vocabulary);

await step("sign in (dispatcher, 海州区)", async () => {
  await page.goto(PAGE);
  await page.fill("#username", "dispatcher");
  await page.fill("#password", "demo");
  await page.click("#login-form button[type=submit]");
  await waitFor(page, () => window.__console && window.__console.ready, null, 10000, "the console ready after sign in");
  assert(await page.isHidden("#login"), "the login form is still shown");
  // the demo's town and community boundaries are synthetic: the page says so
  await page.waitForSelector("#synthetic-note", { state: "visible", timeout: 5000 });
  // the dispatch map first: shown, named in the address; the tab bar offers a dispatcher the joint
  // patrol pages it reads (巡查计划, campaigns), none of the administration's
  const pages = await page.evaluate(() => [location.hash, document.getElementById("page-dispatch").hidden,
    [...document.querySelectorAll("#tabs [role=tab]")].map((b) => b.dataset.page)]);
  assert(JSON.stringify(pages) === JSON.stringify(["#dispatch", false, ["dispatch", "patrols", "campaigns"]]), "pages: " + JSON.stringify(pages));
});

await step("tiles drawn on the map (divisions, stations, reports, units)", async () => {
  await waitFor(page, () => window.__console.rendered > 0, null, 15000, "a complete render of the map");
  const painted = await page.evaluate(() => {
    let n = 0;
    for (const c of document.querySelectorAll("#map canvas")) {
      if (c.closest(".basemap")) continue; // our own layers only, not the external base map
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
    }
    return n;
  });
  assert(painted > 2000, "only " + painted + " painted pixels on the map canvases");
  await waitFor(page, () => window.__console.units.size > 0, null, 5000, "units on the map");
});

let liveId;
await step("a report submitted through the API is in the queue and on the map within 2 s", async () => {
  liveId = await newReport(dispatcher, 0.002);
  const t0 = Date.now();
  await waitFor(page, (id) => !!document.querySelector(`#queue li[data-id="${id}"]`), liveId, 2000,
    `report ${liveId} in the queue (needs GET /api/v1/events)`);
  await waitFor(page, (id) => window.__console.reportsOnMap.has(id), liveId, Math.max(100, 2000 - (Date.now() - t0)),
    `report ${liveId} on the map`);
  const countdown = await page.textContent(`#queue li[data-id="${liveId}"] .q-count`);
  assert(/\d+:\d\d/.test(countdown), "no countdown to the ack deadline: " + countdown);
});

await step("the queue and the details show the vocabulary's labels (category, status)", async () => {
  const id = liveId || await newReport(dispatcher, 0.004);
  await waitFor(page, (i) => !!document.querySelector(`#queue li[data-id="${i}"]`), id, 3000, `report ${id} in the queue`);
  const cat = label("categories", "lost_elderly"), st = label("statuses", "new");
  const item = await page.textContent(`#queue li[data-id="${id}"]`);
  assert(item.includes(cat) && item.includes(st), `queue item ${JSON.stringify(item)} lacks ${cat} / ${st}`);
  await page.click(`#queue li[data-id="${id}"]`);
  await waitFor(page, (i) => document.getElementById("d-title").textContent.startsWith("#" + i + " "), id, 3000, "the details of the report");
  const title = await page.textContent("#d-title");
  assert(title === `#${id} ${cat} · ${st}`, "details title " + JSON.stringify(title));
  // the timeline's first entry is the report's creation, in the vocabulary's words
  await waitFor(page, (t) => (document.querySelector("#d-timeline li") || {}).textContent?.includes(t),
    label("timeline_types", "created"), 3000, "the timeline in Chinese");
  // the legend names every open status with its label
  const legend = await page.textContent("#legend");
  for (const t of vocabulary.statuses.filter((x) => x.open)) assert(legend.includes(t.label), "legend lacks " + t.label);
});

await step("the live event kinds the console handles are exactly those the server sends", async () => {
  const handled = await page.evaluate(() => window.__console.eventKinds);
  const sent = vocabulary.event_kinds.map((t) => t.code);
  const ignored = sent.filter((k) => !handled.includes(k)), never = handled.filter((k) => !sent.includes(k));
  assert(sent.length > 0, "the vocabulary lists no event kinds");
  assert(!ignored.length, "sent by the server, ignored by the console: " + ignored.join(", "));
  assert(!never.length, "awaited by the console, never sent by the server: " + never.join(", "));
});

await step("the queue works from the keyboard (arrows + Enter opens the details)", async () => {
  await page.evaluate(() => window.__console.reload()); // independent of the event stream
  await page.focus("#queue");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await waitFor(page, () => !document.getElementById("detail").hidden && document.getElementById("d-title").textContent.startsWith("#"),
    null, 3000, "details opened from the keyboard");
});

let unitId;
await step("dispatch a unit from the page: the unit becomes busy", async () => {
  const id = liveId || await newReport(dispatcher, 0.003);
  await page.evaluate(() => window.__console.reload());
  await page.click(`#queue li[data-id="${id}"]`);
  await waitFor(page, () => document.querySelector("#d-candidates .b-dispatch"), null, 5000, "a candidate unit to dispatch");
  unitId = Number(await page.getAttribute("#d-candidates .b-dispatch", "data-unit"));
  await page.click("#d-candidates .b-dispatch");
  const busy = label("unit_statuses", "dispatched");
  await waitFor(page, ([u, l]) => { const s = document.querySelector(`#units li[data-unit="${u}"] .u-status`); return s && s.textContent === l; },
    [unitId, busy], 5000, `unit ${unitId} shown as ${busy} (dispatched)`).catch(async (e) => {
    const seen = await page.evaluate(() => document.getElementById("units").textContent);
    throw new Error(e.message + "; units: " + seen);
  });
  await waitFor(page, (l) => document.getElementById("d-title").textContent.endsWith(" · " + l), label("statuses", "dispatched"),
    3000, "the report shown as dispatched");
  const r = await api("GET", "/api/v1/reports/" + id, null, dispatcher);
  assert(r.data.status === "dispatched" && r.data.unit_id === unitId, "report not dispatched to unit " + unitId);
});

await step("a dispatched report offers no acknowledge (its actions are the API's; a 409: shift.test.mjs)", async () => {
  await waitFor(page, () => document.querySelector("#d-actions [data-action]"), null, 3000, "the report's actions");
  const shown = await page.$$eval("#d-actions [data-action]", (bs) => bs.map((b) => b.dataset.action));
  assert(!shown.includes("acknowledge") && shown.includes("arrive"), "actions offered on a dispatched report: " + shown);
  // resolving it offers the vocabulary's outcomes
  const outcomes = await page.$$eval("#d-outcome option", (os) => os.map((o) => [o.value, o.textContent]));
  assert(JSON.stringify(outcomes) === JSON.stringify(vocabulary.outcomes.map((t) => [t.code, t.label])),
    "outcome choices " + JSON.stringify(outcomes));
});

await step("after a dropped event connection, a report made meanwhile arrives", async () => {
  await waitFor(page, () => window.__console.streamOpen, null, 5000, "the event stream open (needs /api/v1/events)");
  blocked = true;
  for (const s of sockets) s.destroy();
  await waitFor(page, () => !window.__console.streamOpen, null, 5000, "the page noticing the drop");
  const id = await newReport(dispatcher, -0.002);
  await new Promise((r) => setTimeout(r, 1500));
  const seen = await page.evaluate((i) => window.__console.eventLog.some((e) => e.entity_id === i), id);
  assert(!seen, "the event arrived while the connection was cut");
  blocked = false;
  await waitFor(page, (i) => window.__console.eventLog.some((e) => e.kind === "report.created" && e.entity_id === i),
    id, 15000, `report.created ${id} after the stream resumed`);
  await waitFor(page, (i) => !!document.querySelector(`#queue li[data-id="${i}"]`), id, 3000, `report ${id} in the queue`);
  const dups = await page.evaluate(() => {
    const ids = window.__console.eventLog.map((e) => e.id);
    return ids.length - new Set(ids).size;
  });
  assert(dups === 0, dups + " events delivered twice");
});

await step("search a place (新浦) and the map moves there", async () => {
  const before = await page.evaluate(() => window.__console.map.getView().getCenter().slice());
  await page.fill("#search", "新浦");
  await page.press("#search", "Enter");
  await waitFor(page, () => window.__console.lastFly, null, 4000, "a search hit flown to (needs GET /api/v1/places)");
  await page.waitForTimeout(800);
  const after = await page.evaluate(() => window.__console.map.getView().getCenter().slice());
  assert(Math.hypot(after[0] - before[0], after[1] - before[1]) > 100, "the map did not move");
});

await step("screenshots (1366x768 and a tablet) with reports, units and the queue", async () => {
  await page.evaluate(() => {
    const v = window.__console.map.getView();
    v.setCenter([13265000, 4106000]);
    v.setZoom(11);
  });
  await page.waitForTimeout(300);
  await waitFor(page, () => window.__console.reportsOnMap.size > 0, null, 8000, "reports drawn for the screenshot");
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(OUT, "console.png") });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: path.join(OUT, "console-tablet.png"), fullPage: false });
  const mapBox = await page.locator("#map").boundingBox();
  assert(mapBox.width >= 700 && mapBox.height > 300, "the map on a tablet is " + JSON.stringify(mapBox));
});

await step("nothing loaded from outside, no page errors", async () => {
  assert(/default-src 'self'/.test(servedCsp), "the page came without its Content-Security-Policy: " + servedCsp);
  assert(external.length === 0, "requests elsewhere: " + external.slice(0, 3).join(" "));
  const errs = pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION|net::/.test(e));
  assert(errs.length === 0, "page errors: " + errs.slice(0, 3).join(" | ").replace(/\s+/g, " "));
});

await browser.close();
proxy.close();
fs.rmSync(userDir, { recursive: true, force: true });
finish();
