// stats.test.mjs - the statistics page in Debian's chromium (playwright-core) against a real patrold
// (PATROLD_URL): a supervisor signs in, opens the page from the tab bar, every chart is drawn (its
// canvas is not empty), a chart's point opens the records behind it (the same reports the figure's
// records query returns), a click on the map weighs the point as a station site, the monthly report
// downloads, the words are the vocabulary's, and nothing breaks the page's policy.
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const BASE = process.env.PATROLD_URL;
const OUT = process.env.E2E_OUT || "build/e2e";
const HAIZHOU = [119.163509, 34.572274];
let passed = 0, failed = 0;

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} (${Date.now() - t0} ms): ${e.message.split("\n")[0]}`);
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function api(method, p, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(BASE + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  return { status: r.status, data };
}

async function waitFor(page, fn, arg, timeout, what) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg).catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A month's worth of activity today: reports resolved, acknowledged and new in 海州区.
const dispatcher = (await api("POST", "/api/v1/auth/login", { username: "dispatcher", password: "demo" })).data.token;
const event = async (id, body) => {
  const r = await api("POST", `/api/v1/reports/${id}/events`, body, dispatcher);
  assert(r.status === 200, `event ${body.type} on ${id}: ${r.status}`);
};
for (let i = 0; i < 6; i++) {
  const r = await api("POST", "/api/v1/reports", { client_id: randomUUID(), category: i % 2 ? "vagrant" : "minor",
    location: { lon: HAIZHOU[0] + i * 0.003, lat: HAIZHOU[1] + i * 0.002 }, observed_at: new Date().toISOString(),
    people_count: 1 + (i % 3) }, dispatcher);
  assert(r.status === 201, "POST /api/v1/reports: " + r.status);
  const id = r.data.id;
  if (i < 4) await event(id, { type: "acknowledge" });
  if (i < 3) {
    const c = await api("GET", `/api/v1/reports/${id}/candidates`, null, dispatcher);
    await event(id, { type: "dispatch", unit_id: c.data.items[0].unit_id });
    await event(id, { type: "arrive" });
    await event(id, { type: "resolve", outcome: ["escorted_home", "admitted_to_station", "sent_to_hospital"][i] });
  }
}
const vocabulary = (await api("GET", "/api/v1/vocabulary")).data;
const term = (code) => vocabulary.stats_terms.find((t) => t.code === code).label;

fs.mkdirSync(OUT, { recursive: true });
const userDir = fs.mkdtempSync("/tmp/patrold-e2e-stats-");
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1366, height: 900 }, locale: "zh-CN", acceptDownloads: true,
});
const page = browser.pages()[0] || await browser.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)));

await step("sign in as the supervisor: the statistics page is a tab, in the vocabulary's words", async () => {
  await page.goto(BASE + "/");
  await page.fill("#username", "supervisor");
  await page.fill("#password", "demo");
  await page.click("#login-form button[type=submit]");
  await waitFor(page, () => window.__console && window.__console.ready, null, 15000, "the console ready");
  await waitFor(page, () => !document.getElementById("tabs").hidden, null, 5000, "the tab bar (two pages)");
  const tab = await page.textContent('#tabs [data-page="stats"]');
  assert(tab === term("ui_page"), "the tab reads " + JSON.stringify(tab));
  await page.click('#tabs [data-page="stats"]');
  assert(await page.evaluate(() => location.hash) === "#stats", "the address does not name the page");
});

await step("every chart drawn: trend, response times, outcomes, coverage map (canvas not empty)", async () => {
  await waitFor(page, () => window.__stats && ["trend", "response", "outcomes", "coverage"]
    .every((n) => window.__stats.drawn[n]), null, 30000, "the four charts finished").catch(async (e) => {
    const seen = await page.evaluate(() => JSON.stringify(window.__stats.drawn) + " " + document.querySelector(".st-page .error").textContent);
    throw new Error(e.message + ": " + seen);
  });
  const painted = await page.evaluate(() => Object.fromEntries(Object.entries(window.__stats.charts).map(([n, c]) => {
    const canvas = c.getDom().querySelector("canvas");
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let k = 0;
    for (let i = 3; i < d.length; i += 16) if (d[i] > 0) k++;
    return [n, k];
  })));
  for (const [n, k] of Object.entries(painted)) assert(k > 500, `chart ${n}: only ${k} painted pixels`);
  const text = await page.textContent(".st-page");
  for (const code of ["ui_apply", "ui_monthly"]) assert(text.includes(term(code)), "the page lacks " + term(code));
  const titles = await page.evaluate(() => Object.values(window.__stats.charts).map((c) => c.getOption().title[0].text));
  for (const code of ["ui_trend", "ui_outcomes", "ui_coverage_map"]) assert(titles.includes(term(code)), "no chart titled " + term(code));
  await page.screenshot({ path: path.join(OUT, "stats.png"), fullPage: true });
});

await step("a chart's point opens the records behind it", async () => {
  await page.evaluate(() => window.__stats.charts.trend.getDom().scrollIntoView());
  const target = await page.evaluate(() => {
    const weeks = window.__stats.figures.weeks.groups;
    const i = weeks.findIndex((g) => g.reports > 0);
    const c = window.__stats.charts.trend, box = c.getDom().getBoundingClientRect();
    const [x, y] = c.convertToPixel({ seriesIndex: 0 }, [i, weeks[i].reports]);
    return { x: box.left + x, y: box.top + y, records: weeks[i].records, reports: weeks[i].reports };
  });
  await page.mouse.click(target.x, target.y);
  await waitFor(page, (url) => window.__stats.records && window.__stats.records.url === url && !window.__stats.records.loading,
    target.records, 5000, "the week's records opened");
  const rows = await page.$$eval("#st-rec-body tr", (trs) => trs.map((t) => Number(t.dataset.id)));
  const token = await page.evaluate(() => sessionStorage.getItem("token"));
  const listed = await api("GET", target.records + "&limit=500", null, token);
  assert(listed.status === 200, "the records query: " + listed.status);
  assert(rows.length === target.reports && listed.data.items.length === target.reports,
    `${rows.length} rows shown, ${listed.data.items.length} listed, the figure says ${target.reports}`);
  assert(JSON.stringify(rows) === JSON.stringify(listed.data.items.map((r) => r.id)), "other reports shown than listed");
});

await step("a pie slice (an outcome) opens its records", async () => {
  await page.evaluate(() => window.__stats.charts.outcomes.getDom().scrollIntoView());
  const slice = await page.evaluate(() => {
    const c = window.__stats.charts.outcomes, box = c.getDom().getBoundingClientRect();
    const view = c.getModel().getSeriesByIndex(0).getData();
    for (let i = 0; i < view.count(); i++) {
      if (!view.get("value", i)) continue;
      const layout = view.getItemLayout(i);
      const mid = (layout.startAngle + layout.endAngle) / 2, r = (layout.r0 + layout.r) / 2;
      return { x: box.left + layout.cx + r * Math.cos(mid), y: box.top + layout.cy + r * Math.sin(mid), n: view.get("value", i) };
    }
    return null;
  });
  assert(slice, "no outcome with reports");
  await page.mouse.click(slice.x, slice.y);
  await waitFor(page, (n) => window.__stats.records && !window.__stats.records.loading && window.__stats.records.url.includes("outcome=")
    && window.__stats.records.shown === n, slice.n, 5000, "the outcome's records opened");
});

await step("a click on the map weighs the point as a station site", async () => {
  await page.evaluate(() => window.__stats.charts.coverage.getDom().scrollIntoView());
  const at = await page.evaluate(() => {
    const c = window.__stats.charts.coverage, box = c.getDom().getBoundingClientRect();
    const [x, y] = c.convertToPixel({ geoIndex: 0 }, [119.17, 34.58]);
    return { x: box.left + x, y: box.top + y };
  });
  await page.mouse.click(at.x, at.y);
  await waitFor(page, () => window.__stats.siting && window.__stats.siting.candidate, null, 10000, "the siting figures");
  const s = await page.evaluate(() => window.__stats.siting);
  assert(s.candidate.reports >= 1 && s.demand.reports >= s.candidate.reports, "siting " + JSON.stringify(s.candidate));
  const text = await page.textContent("#st-siting");
  assert(text.includes(term("candidate")) && text.includes(term("change")), "the siting line: " + text);
});

await step("the monthly report downloads (Excel)", async () => {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click("#st-monthly")]);
  const file = path.join(OUT, "monthly.xlsx");
  await download.saveAs(file);
  const head = fs.readFileSync(file).subarray(0, 2).toString();
  assert(head === "PK", "not an xlsx (zip): " + JSON.stringify(head));
});

await step("no page errors, no policy violations", async () => {
  const errs = pageErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION|net::/.test(e));
  assert(errs.length === 0, "page errors: " + errs.slice(0, 3).join(" | ").replace(/\s+/g, " "));
});

await browser.close();
fs.rmSync(userDir, { recursive: true, force: true });
console.log(`E2E ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
